"""All of the PostgreSQL backend's DDL: the schema as ordered migrations, the day partitions, the roles.

The SQLite schema (app/store/schema.py) is the product's history; this one is built for a team's size:
- ``predictions`` is partitioned by day on ``ts`` (epoch ms). Ingest creates a day's partition, and the
  next day's, before it writes (``ensure_partitions``); retention drops whole partitions.
- Uniqueness of (model, version, request_id) cannot be a partitioned index (PostgreSQL requires the
  partition key in it), so ``prediction_keys`` holds it: ingest inserts the key first, ``ON CONFLICT DO
  NOTHING``, and only the rows whose key went in are written. Two ingesters on two hosts then never
  double a row (the second waits on the first's key and skips it). The key row also holds (id, ts), so a
  ``request:`` lookup finds its partition.
- BRIN on ts (time ranges over an append-mostly log), b-trees for request/entity/model+version+time,
  JSONB features/context/prediction/label (a number stays a number, text stays text, as in SQLite).
- Free text: a generated ``tsvector`` over request_id, entity_id, error and ``fts_text`` (the text
  values of features and context that SQLite's FTS gets: numbers stay out), split into runs of letters
  and digits as SQLite's unicode61 splits them, with the 'simple' configuration (lowercased, no
  stemming, no stop words) and a GIN index.
- The audit is append-only by trigger and by privileges (no role but the owner may UPDATE/DELETE it).

Nothing else in the backend writes DDL.
"""

from __future__ import annotations

from app.store.schema import CHECKLIST_HISTORY_DDL

DAY_MS = 86_400_000

SCHEMA_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"

_V1 = """
CREATE TABLE models (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    owner       text,
    task        text NOT NULL DEFAULT 'classification',
    flags       jsonb NOT NULL DEFAULT '{}',
    created_at  bigint
);
CREATE TABLE versions (
    model       text NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version     text NOT NULL,
    stage       text NOT NULL DEFAULT 'candidate'
                CHECK (stage IN ('champion', 'challenger', 'shadow', 'candidate', 'archived')),
    created_at  bigint NOT NULL,
    metrics     jsonb NOT NULL DEFAULT '{}',
    card        jsonb,
    first_seen  bigint,
    last_seen   bigint,
    logged_rows bigint NOT NULL DEFAULT 0,
    card_source text, card_set_by text, card_set_at bigint,
    metrics_source text, metrics_set_by text, metrics_set_at bigint,
    remote jsonb, remote_source text, remote_synced_at bigint,
    PRIMARY KEY (model, version)
);
CREATE SEQUENCE predictions_id_seq AS bigint;
CREATE TABLE prediction_keys (
    model      text NOT NULL,
    version    text NOT NULL,
    request_id text NOT NULL,
    id         bigint NOT NULL,
    ts         bigint NOT NULL,
    PRIMARY KEY (model, version, request_id)
);
CREATE INDEX prediction_keys_request ON prediction_keys (request_id);
CREATE TABLE predictions (
    id         bigint NOT NULL DEFAULT nextval('predictions_id_seq'),
    ts         bigint NOT NULL,
    model      text NOT NULL,
    version    text NOT NULL,
    request_id text NOT NULL,
    entity_id  text,
    prediction jsonb,
    score      double precision,
    label      jsonb,
    latency_ms double precision,
    status     text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    error      text,
    features   jsonb,
    context    jsonb,
    -- What SQLite's FTS index is fed (app.ingest.parse.fts_text: "key value" of every text value).
    fts_text   text,
    -- One word per run of letters and digits, lowercased, as SQLite's unicode61 splits them: every
    -- other character is a separator, so 'simple' parses plain words and nothing else (no e-mail,
    -- host or hyphenated-word tokens). Each column has its own weight (A-D): a phrase is matched
    -- within one column (the query asks for one weight), as SQLite's FTS columns do.
    tsv        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', regexp_replace(request_id, '[^[:alnum:]]+', ' ', 'g')), 'A')
        || setweight(to_tsvector('simple', regexp_replace(coalesce(entity_id, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')
        || setweight(to_tsvector('simple', regexp_replace(coalesce(fts_text, ''), '[^[:alnum:]]+', ' ', 'g')), 'C')
        || setweight(to_tsvector('simple', regexp_replace(coalesce(error, ''), '[^[:alnum:]]+', ' ', 'g')), 'D')
    ) STORED
) PARTITION BY RANGE (ts);
CREATE INDEX predictions_ts_brin ON predictions USING brin (ts);
CREATE INDEX predictions_id ON predictions (id);
CREATE INDEX predictions_model_version_ts ON predictions (model, version, ts);
CREATE INDEX predictions_model_ts ON predictions (model, ts, id);
CREATE INDEX predictions_ts_id ON predictions (ts, id);
CREATE INDEX predictions_request ON predictions (request_id);
CREATE INDEX predictions_entity_ts ON predictions (entity_id, ts);
CREATE INDEX predictions_tsv ON predictions USING gin (tsv);
CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    ingested_at bigint NOT NULL,
    source      text NOT NULL,
    line_no     bigint NOT NULL,
    raw         text NOT NULL,
    error       text NOT NULL,
    model       text,  -- the model the line was for, when its JSON got far enough to name one
    UNIQUE (source, line_no, raw)
);
CREATE INDEX quarantine_ingested ON quarantine (ingested_at);
CREATE TABLE ingest_offsets (
    source     text PRIMARY KEY,
    device     bigint,
    inode      bigint,
    "offset"   bigint NOT NULL,
    line_no    bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE TABLE audit (
    id      bigserial PRIMARY KEY,
    ts      bigint NOT NULL,
    actor   text NOT NULL,
    action  text NOT NULL,
    model   text,
    detail  text NOT NULL DEFAULT '{}',
    outcome text
);
CREATE INDEX audit_model_ts ON audit (model, ts);
CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'audit is append-only'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
-- How far `modeldeck migrate-store` got, per source file and family: a stopped copy resumes from here.
CREATE TABLE migrate_progress (
    source  text NOT NULL,
    family  text NOT NULL,
    last_id bigint NOT NULL,
    PRIMARY KEY (source, family)
);
-- Who holds a model's action lock, for the message "locked by ...": the lock itself is an advisory
-- lock held by the acting session (released by PostgreSQL when that session ends, even by a crash).
CREATE TABLE lock_holders (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    acquired_at bigint NOT NULL,
    expires_at  bigint NOT NULL
);
-- The narrow doors a reader role (a console) may use to act: append one audit row, note a lock holder,
-- record a champion. SECURITY DEFINER runs them with the owner's rights; nothing else is writable.
CREATE FUNCTION deck_audit_append(p_ts bigint, p_actor text, p_action text, p_model text, p_detail text,
                                  p_outcome text) RETURNS bigint LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$ INSERT INTO @SCHEMA@.audit (ts, actor, action, model, detail, outcome)
   VALUES (p_ts, p_actor, p_action, p_model, p_detail, p_outcome) RETURNING id $$;
CREATE FUNCTION deck_lock_note(p_name text, p_holder text, p_acquired bigint, p_expires bigint)
    RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$ INSERT INTO @SCHEMA@.lock_holders (name, holder, acquired_at, expires_at)
   VALUES (p_name, p_holder, p_acquired, p_expires)
   ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
   expires_at = excluded.expires_at $$;
CREATE FUNCTION deck_lock_clear(p_name text, p_holder text, p_acquired bigint)
    RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$ DELETE FROM @SCHEMA@.lock_holders WHERE name = p_name AND holder = p_holder AND acquired_at = p_acquired $$;
-- Ingest (the writer role) creates day partitions, which only the owner of predictions may do: this
-- door creates exactly one day's partition and nothing else.
CREATE FUNCTION deck_ensure_partition(p_day bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$ BEGIN
    IF p_day % 86400000 <> 0 THEN RAISE EXCEPTION 'not the start of a day: %', p_day; END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS @SCHEMA@.%I PARTITION OF @SCHEMA@.predictions FOR VALUES FROM (%s) TO (%s)',
                   'predictions_p' || to_char(to_timestamp(p_day / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD'),
                   p_day, p_day + 86400000);
END $$;
-- A console connected as the reader records the champion a rollback or promotion made, and only that:
-- the newest succeeded rollback/promote of the model, in the last ten minutes, must name this version.
CREATE FUNCTION deck_record_champion(p_model text, p_version text, p_now bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM (SELECT detail, ts FROM @SCHEMA@.audit WHERE model = p_model AND outcome = 'succeeded'
                                  AND action IN ('rollback', 'promote') ORDER BY id DESC LIMIT 1) AS last
                   WHERE last.detail::jsonb ->> 'to' = p_version AND last.ts > p_now - 600000) THEN
        RAISE EXCEPTION 'no audited rollback or promotion of % to % to record', p_model, p_version;
    END IF;
    INSERT INTO @SCHEMA@.models (name, created_at) VALUES (p_model, p_now) ON CONFLICT DO NOTHING;
    INSERT INTO @SCHEMA@.versions (model, version, created_at) VALUES (p_model, p_version, p_now) ON CONFLICT DO NOTHING;
    UPDATE @SCHEMA@.versions SET stage = 'archived' WHERE model = p_model AND stage = 'champion' AND version <> p_version;
    UPDATE @SCHEMA@.versions SET stage = 'champion' WHERE model = p_model AND version = p_version;
END $$;
"""

# Monitoring (issue 19, engineer V): the tables of ingest --follow, drift, baselines, alerts, deliveries,
# metric samples and syncs, as SQLite has them (app/store/schema.py), read and written by the same
# portable families (app/store/dialect.py). JSON-ish columns the families read back as text stay text.
_V2 = """
ALTER TABLE ingest_offsets ADD COLUMN IF NOT EXISTS fingerprint text;
CREATE TABLE IF NOT EXISTS baselines (
    model      text NOT NULL,
    version    text NOT NULL,
    feature    text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('numeric', 'categorical')),
    n          bigint NOT NULL,
    mean       double precision,
    std        double precision,
    edges      text,
    counts     text,
    categories text,
    sample     bytea,  -- reference values as little-endian float64
    created_at bigint NOT NULL,
    PRIMARY KEY (model, version, feature)
);
CREATE TABLE IF NOT EXISTS drift (
    model        text NOT NULL,
    version      text,
    feature      text NOT NULL,
    window_start bigint NOT NULL,
    window_end   bigint NOT NULL,
    n_reference  bigint NOT NULL,
    n_current    bigint NOT NULL,
    method       text NOT NULL,
    value        double precision NOT NULL,
    threshold    double precision NOT NULL,
    drifted      integer NOT NULL,
    psi          double precision,
    computed_at  bigint NOT NULL,
    PRIMARY KEY (model, feature, window_start, window_end)
);
CREATE INDEX IF NOT EXISTS drift_model_window ON drift (model, window_start);
CREATE TABLE IF NOT EXISTS drift_marks (
    model        text NOT NULL,
    window_ms    bigint NOT NULL,
    covered_from bigint NOT NULL,
    closed_until bigint NOT NULL,
    last_id      bigint NOT NULL,
    baselines    text NOT NULL,
    PRIMARY KEY (model, window_ms)
);
CREATE TABLE IF NOT EXISTS metric_samples (
    model text NOT NULL,
    ts    bigint NOT NULL,
    name  text NOT NULL,
    value double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_samples_model_name_ts ON metric_samples (model, name, ts);
CREATE TABLE IF NOT EXISTS alerts (
    id          bigserial PRIMARY KEY,
    rule        text NOT NULL,
    model       text NOT NULL,
    severity    text NOT NULL DEFAULT 'warning',
    owner       text,
    state       text NOT NULL CHECK (state IN ('firing', 'resolved')),
    value       double precision,
    threshold   double precision,
    fired_at    bigint NOT NULL,
    resolved_at bigint,
    acked_by    text,
    acked_at    bigint,
    runbook     text
);
CREATE INDEX IF NOT EXISTS alerts_model_state ON alerts (model, state);
CREATE TABLE IF NOT EXISTS alert_pending (
    model text NOT NULL,
    rule  text NOT NULL,
    since bigint NOT NULL,
    PRIMARY KEY (model, rule)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id            bigserial PRIMARY KEY,
    alert_id      bigint NOT NULL,
    model         text NOT NULL,
    target        text NOT NULL,
    event         text NOT NULL CHECK (event IN ('firing', 'resolved', 'schedule')),
    status        text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'dropped')),
    attempts      integer NOT NULL DEFAULT 0,
    next_at       bigint NOT NULL,
    last_error    text,
    created_at    bigint NOT NULL,
    sent_at       bigint,
    refreshed_at  bigint,
    UNIQUE (alert_id, target, event)
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, next_at);
CREATE INDEX IF NOT EXISTS deliveries_model ON deliveries (model, created_at);
CREATE TABLE IF NOT EXISTS syncs (
    model        text NOT NULL,
    source       text NOT NULL,
    attempted_at bigint NOT NULL,
    synced_at    bigint,
    error        text,
    PRIMARY KEY (model, source)
);
"""

# Ingest speed (issue 19 item 5): the generated tsvector cost the server more than the rest of a row (four
# regexp_replace and to_tsvector calls on the one insert path). The client now builds the same vector
# (app.store.pg.predictions.tsvector_text) and COPYs it; fts_text, kept only to feed the expression, goes.
# Readiness (engineer W): the checklist, sign-offs and reviews, as SQLite has them (schema v6), for the
# portable ChecklistTable (app/store/checklist_table.py).
_V3 = """
ALTER TABLE predictions ALTER COLUMN tsv DROP EXPRESSION;
ALTER TABLE predictions DROP COLUMN fts_text;
CREATE TABLE IF NOT EXISTS checklist (
    model      text NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version    text NOT NULL DEFAULT '',
    area       text NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pass', 'fail', 'pending', 'waived')),
    evidence   text NOT NULL DEFAULT '',
    auto       integer NOT NULL DEFAULT 0,
    owner      text,
    note       text,
    updated_by text,
    updated_at bigint,
    expires_at bigint,
    PRIMARY KEY (model, version, area)
);
CREATE TABLE IF NOT EXISTS signoffs (
    model      text NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version    text NOT NULL,
    role       text NOT NULL,
    signed_by  text NOT NULL,
    signed_at  bigint NOT NULL,
    note       text,
    expires_at bigint,
    PRIMARY KEY (model, version, role)
);
CREATE TABLE IF NOT EXISTS reviews (
    id          bigserial PRIMARY KEY,
    model       text NOT NULL,
    kind        text NOT NULL DEFAULT 'health',
    version     text,
    reviewed_by text NOT NULL,
    reviewed_at bigint NOT NULL,
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reviews_model_kind_at ON reviews (model, kind, reviewed_at);
-- Business outcomes ("kind": "outcome" lines), as SQLite keeps them (its schema step 15).
CREATE TABLE IF NOT EXISTS outcomes (
    id         bigserial PRIMARY KEY,
    ts         bigint NOT NULL,
    model      text NOT NULL,
    request_id text NOT NULL DEFAULT '',
    entity_id  text NOT NULL DEFAULT '',
    name       text NOT NULL,
    value      double precision NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS outcomes_key ON outcomes (model, name, request_id, entity_id, ts);
CREATE INDEX IF NOT EXISTS outcomes_model_ts ON outcomes (model, ts);
-- Retention (`modeldeck prune`) drops whole day partitions, which only the owner may do: this door drops
-- exactly one day's partition of the log and nothing else.
CREATE FUNCTION deck_drop_partition(p_day bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS
$$ BEGIN
    IF p_day % 86400000 <> 0 THEN RAISE EXCEPTION 'not the start of a day: %', p_day; END IF;
    EXECUTE format('DROP TABLE IF EXISTS @SCHEMA@.%I',
                   'predictions_p' || to_char(to_timestamp(p_day / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD'));
END $$;
"""

# The checklist as it stood (SQLite's step 17, the same table; bigint for the times).
_V4 = CHECKLIST_HISTORY_DDL.replace("changed_at INTEGER", "changed_at bigint")

# The zone map (SQLite's step 13, app/store/zonemap.py): per (model, hour) block the row and error counts and
# min/max of score and latency, and per [search] indexed_features feature (``zone_summarised``, filled by
# `db init` with the feature's expression index) min/max of its numeric values; kept by ingest in the statement
# that inserts the rows (app/store/pg/predictions.py). ``zone_state.summarised`` counts the rows summarised,
# per model, in the same transactions as the catalogue's ``versions.logged_rows``: search prunes only while
# it is at least their sum (rows written by any other path leave it behind: slower answers, never wrong
# ones). Backfilled here once (one pass over the log).
# Every row's block summarised again from the log (the summarised features' min/max stay with `db init`).
ZONE_BACKFILL = """
DELETE FROM zone_blocks;
DELETE FROM zone_state;
INSERT INTO zone_blocks (model, hour, rows, errors, min_score, max_score, min_latency, max_latency)
SELECT model, ts / 3600000, count(*), sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END), min(score), max(score),
       min(latency_ms), max(latency_ms)
FROM predictions GROUP BY model, ts / 3600000;
INSERT INTO zone_state (model, summarised) SELECT model, sum(rows) FROM zone_blocks GROUP BY model;
"""
_V5 = """
CREATE TABLE IF NOT EXISTS zone_blocks (
    model       text NOT NULL,
    hour        bigint NOT NULL,
    rows        bigint NOT NULL,
    errors      bigint NOT NULL,
    min_score   double precision,
    max_score   double precision,
    min_latency double precision,
    max_latency double precision,
    PRIMARY KEY (model, hour)
);
CREATE TABLE IF NOT EXISTS zone_features (
    model   text NOT NULL,
    hour    bigint NOT NULL,
    feature text NOT NULL,
    n       bigint NOT NULL,
    lo      double precision,
    hi      double precision,
    PRIMARY KEY (model, hour, feature)
);
CREATE TABLE IF NOT EXISTS zone_summarised (feature text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS zone_state (model text PRIMARY KEY, summarised bigint NOT NULL);
""" + ZONE_BACKFILL

# Step 6: the key table's request_id index goes. Nothing reads prediction_keys by request alone (a `request:`
# search reads the log's own request index; a key lookup and the twin of a pair read the primary key), and every
# ingested row paid a third index insert for it in the key claim (lane al: the claim's server CPU 2.2 s -> 1.7 s
# a 100,000-row load).
_V6 = """
DROP INDEX IF EXISTS prediction_keys_request;
"""

# Step 7: acknowledging an alert is what an operator does first in an incident, from a console, which connects as
# the reader: one more narrow door. It marks one firing alert nobody has acknowledged yet and nothing else
# (the audit row goes in through deck_audit_append, as every console action's does).
_V7 = """
CREATE OR REPLACE FUNCTION deck_alert_acknowledge(p_id bigint, p_by text, p_at bigint) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$ BEGIN
    UPDATE @SCHEMA@.alerts SET acked_by = p_by, acked_at = p_at
     WHERE id = p_id AND state = 'firing' AND acked_by IS NULL;
    IF NOT FOUND THEN RAISE EXCEPTION 'no firing unacknowledged alert #%', p_id; END IF;
END $$;
REVOKE EXECUTE ON FUNCTION @SCHEMA@.deck_alert_acknowledge(bigint, text, bigint) FROM PUBLIC;
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7]

PG_SCHEMA_VERSION = len(MIGRATIONS)

# The SECURITY DEFINER doors, and who may use them.
_DOORS = ("@SCHEMA@.deck_audit_append(bigint, text, text, text, text, text), "
          "@SCHEMA@.deck_lock_note(text, text, bigint, bigint), @SCHEMA@.deck_lock_clear(text, text, bigint), "
          "@SCHEMA@.deck_record_champion(text, text, bigint), @SCHEMA@.deck_alert_acknowledge(bigint, text, bigint)")
_INGEST_DOORS = "@SCHEMA@.deck_ensure_partition(bigint), @SCHEMA@.deck_drop_partition(bigint)"

# Roles made by `modeldeck db init`: the writer for ingest/watch/sync, the reader for consoles.
# Neither may change or delete an audit row; the reader writes only through the doors.
WRITER_GRANTS = f"""
GRANT USAGE ON SCHEMA @SCHEMA@ TO @ROLE@;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA @SCHEMA@ TO @ROLE@;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA @SCHEMA@ TO @ROLE@;
REVOKE UPDATE, DELETE, TRUNCATE ON @SCHEMA@.audit FROM @ROLE@;
GRANT DELETE ON @SCHEMA@.lock_holders, @SCHEMA@.ingest_offsets TO @ROLE@;
-- Retention: the rows of the day holding the cutoff, and the keys of every pruned row (whole days go by a door).
GRANT DELETE ON @SCHEMA@.predictions, @SCHEMA@.prediction_keys TO @ROLE@;
-- watch and drift recompute windows a late row reopened, and clear a rule's pending clock.
GRANT DELETE ON @SCHEMA@.drift, @SCHEMA@.drift_marks, @SCHEMA@.alert_pending TO @ROLE@;
GRANT EXECUTE ON FUNCTION {_DOORS}, {_INGEST_DOORS} TO @ROLE@;
"""
READER_GRANTS = f"""
GRANT USAGE ON SCHEMA @SCHEMA@ TO @ROLE@;
GRANT SELECT ON ALL TABLES IN SCHEMA @SCHEMA@ TO @ROLE@;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA @SCHEMA@ FROM @ROLE@;
GRANT EXECUTE ON FUNCTION {_DOORS} TO @ROLE@;
"""
# Functions are executable by PUBLIC by default: only the granted roles (and the owner) keep the doors.
REVOKE_PUBLIC = f"REVOKE EXECUTE ON FUNCTION {_DOORS}, {_INGEST_DOORS} FROM PUBLIC"


def partition_name(day_start_ms: int) -> str:
    from datetime import datetime, timezone

    return "predictions_p" + datetime.fromtimestamp(day_start_ms / 1000, timezone.utc).strftime("%Y%m%d")


def day_start(ts_ms: int) -> int:
    return ts_ms - ts_ms % DAY_MS


def partition_ddl(day_start_ms: int) -> str:
    """One day's partition (idempotent). Indexes come from the parent's partitioned indexes."""
    return (f"CREATE TABLE IF NOT EXISTS {partition_name(day_start_ms)} PARTITION OF predictions "
            f"FOR VALUES FROM ({day_start_ms}) TO ({day_start_ms + DAY_MS})")


def split_statements(script: str) -> list[str]:
    """Statements of a migration: split on ';' at line ends outside $$ bodies."""
    out: list[str] = []
    buffer: list[str] = []
    in_body = False
    for line in script.splitlines():
        if not buffer and (not line.strip() or line.strip().startswith("--")):
            continue
        buffer.append(line)
        if line.count("$$") % 2:
            in_body = not in_body
        if not in_body and line.rstrip().endswith(";"):
            out.append("\n".join(buffer).rstrip().rstrip(";"))
            buffer = []
    if "".join(buffer).strip():
        out.append("\n".join(buffer))
    return out
