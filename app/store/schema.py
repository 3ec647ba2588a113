"""All of the store's DDL: the schema as an ordered list of migrations, the indexes a bulk load
drops and rebuilds, the feature indexes search adds, and the planner statistics.

Each migration moves the store from version N-1 to N. Never edit a migration that has
shipped: add the next one. ``SCHEMA_VERSION`` is the version this modeldeck writes.
No other module writes DDL: they call the constants and functions here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

# The version counter itself, created before the first migration runs.
SCHEMA_VERSION_TABLE = "CREATE TABLE schema_version (version INTEGER NOT NULL)"

# Version 1: what ingest and the audit trail need.
_V1 = """
CREATE TABLE models (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    owner       TEXT,
    task        TEXT NOT NULL DEFAULT 'classification',
    flags       TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER
);
CREATE TABLE versions (
    model      TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version    TEXT NOT NULL,
    stage      TEXT NOT NULL DEFAULT 'candidate'
               CHECK (stage IN ('champion', 'challenger', 'shadow', 'candidate', 'archived')),
    created_at INTEGER NOT NULL,
    metrics    TEXT NOT NULL DEFAULT '{}',
    card       TEXT,
    PRIMARY KEY (model, version)
);
CREATE TABLE predictions (
    id         INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    model      TEXT NOT NULL,
    version    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    entity_id  TEXT,
    prediction,
    score      REAL,
    label,
    latency_ms REAL,
    status     TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
    error      TEXT,
    features   TEXT,
    context    TEXT
);
CREATE UNIQUE INDEX predictions_model_request ON predictions (model, request_id);
CREATE INDEX predictions_model_ts ON predictions (model, ts);
CREATE INDEX predictions_request ON predictions (request_id);
CREATE INDEX predictions_entity_ts ON predictions (entity_id, ts);
-- Contentless FTS5: ingest feeds it the ids, the error and only the *text* values of
-- features and context (numbers in indexed JSON double the index for no search value).
CREATE VIRTUAL TABLE predictions_fts USING fts5 (
    request_id, entity_id, text, error,
    content = '', tokenize = "unicode61 tokenchars '-_.:@'"
);
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    ingested_at INTEGER NOT NULL,
    source      TEXT NOT NULL,
    line_no     INTEGER NOT NULL,
    raw         TEXT NOT NULL,
    error       TEXT NOT NULL
);
CREATE INDEX quarantine_source ON quarantine (source, line_no);
CREATE TABLE ingest_offsets (
    source      TEXT PRIMARY KEY,
    device      INTEGER,
    inode       INTEGER,
    offset      INTEGER NOT NULL,
    line_no     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    ts      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    model   TEXT,
    detail  TEXT NOT NULL DEFAULT '{}',
    outcome TEXT
);
CREATE INDEX audit_model_ts ON audit (model, ts);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""

# Version 2: readiness, drift, live metrics, alerts and the rollback lock.
_V2 = """
CREATE TABLE checklist (
    model      TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    area       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pass', 'fail', 'pending', 'waived')),
    evidence   TEXT NOT NULL DEFAULT '',
    auto       INTEGER NOT NULL DEFAULT 0,
    owner      TEXT,
    note       TEXT,
    updated_by TEXT,
    updated_at INTEGER,
    PRIMARY KEY (model, area)
);
CREATE TABLE signoffs (
    model     TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version   TEXT NOT NULL,
    role      TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    note      TEXT,
    PRIMARY KEY (model, version, role)
);
CREATE TABLE baselines (
    model      TEXT NOT NULL,
    version    TEXT NOT NULL,
    feature    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('numeric', 'categorical')),
    n          INTEGER NOT NULL,
    mean       REAL,
    std        REAL,
    edges      TEXT,
    counts     TEXT,
    categories TEXT,
    -- Reference values (numeric) as little-endian float64, up to 100,000 a feature.
    sample     BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (model, version, feature)
);
CREATE TABLE drift (
    model        TEXT NOT NULL,
    version      TEXT,
    feature      TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    n_reference  INTEGER NOT NULL,
    n_current    INTEGER NOT NULL,
    method       TEXT NOT NULL,
    value        REAL NOT NULL,
    threshold    REAL NOT NULL,
    drifted      INTEGER NOT NULL,
    psi          REAL,
    computed_at  INTEGER NOT NULL,
    PRIMARY KEY (model, feature, window_start, window_end)
);
CREATE INDEX drift_model_window ON drift (model, window_start);
CREATE TABLE metric_samples (
    model TEXT NOT NULL,
    ts    INTEGER NOT NULL,
    name  TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX metric_samples_model_name_ts ON metric_samples (model, name, ts);
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    model       TEXT NOT NULL,
    severity    TEXT NOT NULL DEFAULT 'warning',
    owner       TEXT,
    state       TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    value       REAL,
    threshold   REAL,
    fired_at    INTEGER NOT NULL,
    resolved_at INTEGER,
    acked_by    TEXT,
    acked_at    INTEGER,
    runbook     TEXT
);
CREATE INDEX alerts_model_state ON alerts (model, state);
CREATE TABLE locks (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
"""

# Version 3: prediction-log search reads newest first across all models ("status:error",
# a common word, an empty query in the Logs screen); without an index on ts each of those is
# a scan and sort of the whole table.
_V3 = """
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
"""

# Version 4: champion/challenger/shadow pairing (issue 7). A shadow or challenger version that
# answers the same request logs the same request_id under the same model, so uniqueness is
# per (model, version, request_id); re-ingesting a file still duplicates nothing. Comparing
# two versions over a window reads each version's rows by (model, version, ts).
_V4 = """
DROP INDEX IF EXISTS predictions_model_request;
CREATE UNIQUE INDEX IF NOT EXISTS predictions_model_version_request ON predictions (model, version, request_id);
CREATE INDEX IF NOT EXISTS predictions_model_version_ts ON predictions (model, version, ts);
"""

# Version 5: comparing two versions looks up, for each challenger answer in the window, the
# champion's answer to the same request. The request_id index (search's `request:` lookups)
# carries model, version and the answer's columns, so that lookup never reads the champion's
# table row (1,000,000 pairs: the join 1.07 s -> 0.73 s). It replaces the narrow request_id
# index: ingest maintains no extra index. (Widening (model, version, ts) too would save the
# challenger's row as well, but made search's version queries pick (model, ts) instead, and
# cost ingest ~7 %.)
_ANSWER_COLUMNS = "status, prediction, score, label, latency_ms"
_V5 = f"""
DROP INDEX IF EXISTS predictions_request;
CREATE INDEX IF NOT EXISTS predictions_request_answer ON predictions (request_id, model, version, {_ANSWER_COLUMNS});
"""

# Version 6: governance over time (issue 17). A checklist item, a waiver and a sign-off belong to one
# version of a model (a waiver of v3.1.2 must not carry over to v3.2.0), and a manual item and a
# sign-off expire. Existing items move to the model's champion (where there is none, to version
# ''); existing waivers, manual passes and sign-offs get the default 90 days from when they were made.
# ``reviews`` records the monthly health review and who made it.
_DAY_MS = 86_400_000
_V6 = f"""
CREATE TABLE checklist_v6 (
    model      TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    version    TEXT NOT NULL DEFAULT '',
    area       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pass', 'fail', 'pending', 'waived')),
    evidence   TEXT NOT NULL DEFAULT '',
    auto       INTEGER NOT NULL DEFAULT 0,
    owner      TEXT,
    note       TEXT,
    updated_by TEXT,
    updated_at INTEGER,
    expires_at INTEGER,
    PRIMARY KEY (model, version, area)
);
INSERT INTO checklist_v6 (model, version, area, status, evidence, auto, owner, note, updated_by, updated_at,
                          expires_at)
SELECT c.model,
       COALESCE((SELECT v.version FROM versions v WHERE v.model = c.model AND v.stage = 'champion'
                 ORDER BY v.created_at DESC LIMIT 1), ''),
       c.area, c.status, c.evidence, c.auto, c.owner, c.note, c.updated_by, c.updated_at,
       CASE WHEN c.auto = 0 AND c.status IN ('pass', 'waived')
            THEN COALESCE(c.updated_at, 0) + 90 * {_DAY_MS} END
FROM checklist c;
DROP TABLE checklist;
ALTER TABLE checklist_v6 RENAME TO checklist;
ALTER TABLE signoffs ADD COLUMN expires_at INTEGER;
UPDATE signoffs SET expires_at = signed_at + 90 * {_DAY_MS};
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    model       TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'health',
    version     TEXT,
    reviewed_by TEXT NOT NULL,
    reviewed_at INTEGER NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reviews_model_kind_at ON reviews (model, kind, reviewed_at);
"""

# Version 7: alert delivery (issue 15). One row per (alert, target, event): `modeldeck watch` decides what
# to send from the alert table's state, so a row is what makes a send happen once. The row is written
# before the request ("sending") and marked after it, so a kill -9 between the two resends at most once,
# under the same delivery id (receivers can drop the repeat by it). Every attempt's outcome stays.
_V7 = """
CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    alert_id      INTEGER NOT NULL,
    model         TEXT NOT NULL,
    target        TEXT NOT NULL,
    event         TEXT NOT NULL CHECK (event IN ('firing', 'resolved', 'schedule')),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'dropped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER,
    refreshed_at  INTEGER,
    UNIQUE (alert_id, target, event)
);
CREATE INDEX deliveries_status ON deliveries (status, next_at);
CREATE INDEX deliveries_model ON deliveries (model, created_at);
-- A rule with `for = "30m"` whose condition holds but not for that long yet (Prometheus's "pending"); kept
-- in the store so a restart of the watcher does not start the clock again.
CREATE TABLE alert_pending (
    model TEXT NOT NULL,
    rule  TEXT NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (model, rule)
);
"""

# Version 8: logs make a fleet (issue 13). Every (model, version) the prediction log holds is known to
# the catalogue with when it was first and last seen and how many rows it has. Ingest keeps these
# current with one upsert per batch (app/store/logged.py); this step backfills them once from the
# rows already stored (a store written before version 8 only knew the demo's or a rollback's models).
_V8 = """
ALTER TABLE versions ADD COLUMN first_seen INTEGER;
ALTER TABLE versions ADD COLUMN last_seen INTEGER;
ALTER TABLE versions ADD COLUMN logged_rows INTEGER NOT NULL DEFAULT 0;
-- Who set the card and the offline metrics, and from where ('local' by `modeldeck card`/`metrics`, or a
-- registry's name): a sync never overwrites what was set locally.
ALTER TABLE versions ADD COLUMN card_source TEXT;
ALTER TABLE versions ADD COLUMN card_set_by TEXT;
ALTER TABLE versions ADD COLUMN card_set_at INTEGER;
ALTER TABLE versions ADD COLUMN metrics_source TEXT;
ALTER TABLE versions ADD COLUMN metrics_set_by TEXT;
ALTER TABLE versions ADD COLUMN metrics_set_at INTEGER;
-- What a registry or endpoint said of the version at the last sync (`modeldeck sync`): state, stage,
-- aliases, tags (JSON), from which source and when.
ALTER TABLE versions ADD COLUMN remote TEXT;
ALTER TABLE versions ADD COLUMN remote_source TEXT;
ALTER TABLE versions ADD COLUMN remote_synced_at INTEGER;
-- One row per (model, source): the last attempt, the last success and the last error, so a registry that
-- is down leaves the last synced data marked with its age.
CREATE TABLE syncs (
    model        TEXT NOT NULL,
    source       TEXT NOT NULL,
    attempted_at INTEGER NOT NULL,
    synced_at    INTEGER,
    error        TEXT,
    PRIMARY KEY (model, source)
);
INSERT OR IGNORE INTO models (name, created_at) SELECT model, min(ts) FROM predictions GROUP BY model;
INSERT INTO versions (model, version, created_at, first_seen, last_seen, logged_rows)
    SELECT model, version, min(ts), min(ts), max(ts), count(*) FROM predictions WHERE true GROUP BY model, version
    ON CONFLICT (model, version) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
    logged_rows = excluded.logged_rows;
"""

# Version 9: the audit stays append-only against INSERT OR REPLACE, REPLACE and UPSERT too. REPLACE
# deletes the old row without firing DELETE triggers (recursive_triggers is off), so an insert that
# names an id already there is refused before any conflict handling runs.
_V9 = """
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""

# Version 10: a followed file's offset also keeps a fingerprint of its first bytes, so a resume (or a
# poll) tells a truncated-and-regrown or replaced file from the one read before (app/ingest/source.py).
_V10 = """
ALTER TABLE ingest_offsets ADD COLUMN fingerprint TEXT;
"""

# Version 11: free text finds the words a person sees (issue 14). The v1 tokenizer kept
# ``-_.:@`` inside tokens, so ``TimeoutError: x`` held ``timeouterror:`` and ``bureau-gateway``
# one token: searching ``TimeoutError`` or ``bureau`` found nothing. Plain unicode61 splits on
# every punctuation character; a phrase (``"bureau-gateway 504"``) still matches the exact
# sequence, and ids keep exact matching through ``request:``/``entity:``. The index is
# contentless, so it is rebuilt from the rows: the text values (and their keys) of features and
# context, as ``app.ingest.parse.fts_text`` collects them, read back with json_tree.
FTS_TOKENIZE = "unicode61"
FTS_REBUILD_VERSION = 11
_FTS_TEXT_OF = ("coalesce((SELECT group_concat(CASE WHEN typeof(key) = 'text' THEN key || ' ' || value "
                "ELSE value END, ' ') FROM json_tree({column}) WHERE type = 'text'), '')")
_V11 = f"""
DROP TABLE IF EXISTS predictions_fts;
CREATE VIRTUAL TABLE predictions_fts USING fts5 (
    request_id, entity_id, text, error,
    content = '', tokenize = "{FTS_TOKENIZE}"
);
INSERT INTO predictions_fts (rowid, request_id, entity_id, text, error)
SELECT id, request_id, entity_id,
       {_FTS_TEXT_OF.format(column="features")} || ' ' || {_FTS_TEXT_OF.format(column="context")},
       error
FROM predictions;
-- A re-ingested file does not quarantine the same bad line twice (issue 14): one row per
-- (source, line number, raw text); the earliest copy of existing duplicates is kept.
DELETE FROM quarantine WHERE id NOT IN (SELECT min(id) FROM quarantine GROUP BY source, line_no, raw);
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_line ON quarantine (source, line_no, raw);
CREATE INDEX IF NOT EXISTS quarantine_ingested ON quarantine (ingested_at);
"""

# Step 12 (issue 15): a quarantined line names the model it was for when its JSON
# parsed far enough to say (or ``--model`` named it), so a ``quarantine_rate`` rule fires per model and
# per source (app/alerts/rules.py). Lines quarantined before keep NULL: no model known.
_V12 = """
ALTER TABLE quarantine ADD COLUMN model TEXT;
CREATE INDEX IF NOT EXISTS quarantine_model ON quarantine (model, ingested_at);
"""

# Step 13, zone maps (issue 18): per (model, hour) block of the prediction log, the row and error
# counts and min/max of score, latency and each numeric feature, kept by ingest in the same transaction
# as the rows (app/store/zonemap.py). Search skips the blocks that cannot match a numeric, indexed-feature
# or error predicate. ``zone_state.covered`` is the highest id summarised: search prunes only when it
# covers every row. Min/max columns have no declared type: integers stay exact. Backfilled here once.
_V13 = """
CREATE TABLE IF NOT EXISTS zone_blocks (
    model       TEXT NOT NULL,
    hour        INTEGER NOT NULL,
    rows        INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    min_score   REAL,
    max_score   REAL,
    min_latency REAL,
    max_latency REAL,
    PRIMARY KEY (model, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zone_features (
    model   TEXT NOT NULL,
    hour    INTEGER NOT NULL,
    feature TEXT NOT NULL,
    n       INTEGER NOT NULL,
    lo,
    hi,
    PRIMARY KEY (model, hour, feature)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zone_state (covered INTEGER NOT NULL);
-- The features summarised in zone_features: those declared in [search] indexed_features (their generated
-- column is read, not the JSON: summarising every feature with json_each cost 17 us a row, more than
-- the rest of ingest). Filled, with a backfill, when a feature is indexed (app/store/search.py).
CREATE TABLE IF NOT EXISTS zone_feature_columns (feature TEXT PRIMARY KEY, column_name TEXT NOT NULL);
DELETE FROM zone_feature_columns;
DELETE FROM zone_blocks;
DELETE FROM zone_features;
DELETE FROM zone_state;
INSERT INTO zone_blocks (model, hour, rows, errors, min_score, max_score, min_latency, max_latency)
SELECT model, ts / 3600000, count(*), sum(status = 'error'), min(score), max(score), min(latency_ms),
       max(latency_ms)
FROM predictions GROUP BY model, ts / 3600000;
INSERT INTO zone_state (covered) SELECT coalesce(max(id), 0) FROM predictions;
"""

# Step 14 (issue 18 item 2): a high-water mark per model and drift window size, so a monitor
# pass with nothing new reads nothing that grows with the store. ``covered_from``/``closed_until``: the
# windows starting in that range were planned (computed, or found with nothing to compute) over every
# prediction with id <= ``last_id``; ``baselines``: the versions with a baseline then (a new one makes
# its windows plannable). Ingest forgets a model's marks when late rows reopen a computed window.
_V14 = """
CREATE TABLE IF NOT EXISTS drift_marks (
    model        TEXT NOT NULL,
    window_ms    INTEGER NOT NULL,
    covered_from INTEGER NOT NULL,
    closed_until INTEGER NOT NULL,
    last_id      INTEGER NOT NULL,
    baselines    TEXT NOT NULL,
    PRIMARY KEY (model, window_ms)
);
"""

# Step 15 (issue 17 item 2): business outcomes (KPI records,
# ``"kind": "outcome"`` lines of the JSON Lines contract), keyed by request id or entity id, so model
# quality can correlate the score with what the business saw. A re-ingested line adds nothing (the
# unique index; NULL keys are made '' so they compare).
_V15 = """
CREATE TABLE IF NOT EXISTS outcomes (
    id         INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    model      TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    entity_id  TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    value      REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS outcomes_key ON outcomes (model, name, request_id, entity_id, ts);
CREATE INDEX IF NOT EXISTS outcomes_model_ts ON outcomes (model, ts);
"""

# Step 16, storage per row down (issue 18 item 5; measured with bench/storage.py on the 1M demo store):
# - Free text indexes what people read, not ids: request and entity ids were the FTS index's costliest
#   tokens (each request id two unique terms). ``request:``/``entity:`` find them exactly through their
#   indexes, and a bare word that names a stored id is routed there too (app/search/searcher.py).
#   ``columnsize=0``: no per-row size table (it only serves bm25 ranking, which search never uses).
# - One request_id-led unique index serves uniqueness, dedup at ingest (ON CONFLICT names the same
#   columns) and pairing by request: the (model, version, request_id) unique index and the covering
#   (request_id, model, version, answer...) index were two copies of the same key (127 B a row).
# The free-text index is rebuilt from the rows once, as step 11 did.
FTS_COLUMNS = ("text", "error")
FTS_DDL = (f"CREATE VIRTUAL TABLE predictions_fts USING fts5 ({', '.join(FTS_COLUMNS)}, content = '', "
           f'columnsize = 0, tokenize = "{FTS_TOKENIZE}")')
REQUEST_KEY_INDEX = "predictions_request_key"
_REQUEST_KEY_DDL = f"CREATE UNIQUE INDEX IF NOT EXISTS {REQUEST_KEY_INDEX} ON predictions (request_id, model, version)"
_V16 = f"""
DROP TABLE IF EXISTS predictions_fts;
{FTS_DDL};
INSERT INTO predictions_fts (rowid, text, error)
SELECT id, {_FTS_TEXT_OF.format(column="features")} || ' ' || {_FTS_TEXT_OF.format(column="context")}, error
FROM predictions;
DROP INDEX IF EXISTS predictions_request_answer;
{_REQUEST_KEY_DDL};
DROP INDEX IF EXISTS predictions_model_version_request;
"""

# Step 17 (issue 16 item 6, incident time travel): the readiness checklist as it stood. ``checklist`` keeps
# each area's latest verdict only; every change of an area's status is also appended here (about 60 B a
# change; an area changes status a few times a month), so the console viewing 03:40Z shows the verdicts of
# 03:40Z. Seeded with today's items at their own times, so a store upgraded now has a history from now on.
CHECKLIST_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS checklist_history (
    model      TEXT NOT NULL,
    version    TEXT NOT NULL DEFAULT '',
    area       TEXT NOT NULL,
    status     TEXT NOT NULL,
    evidence   TEXT NOT NULL DEFAULT '',
    updated_by TEXT,
    changed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS checklist_history_key ON checklist_history (model, version, area, changed_at);
INSERT INTO checklist_history (model, version, area, status, evidence, updated_by, changed_at)
SELECT model, version, area, status, evidence, updated_by, COALESCE(updated_at, 0) FROM checklist;
"""
_V17 = CHECKLIST_HISTORY_DDL

# Step 18 (issue 18 item 5): JSON keys stored once per store. In a coded store a row holds a short code for each
# top-level key of features and context and json_keys maps codes to names (app/store/json_keys.py, the one module
# that encodes and decodes). Only a store created by this step is coded (json_keys_state.coded = 1: it has no rows
# yet); an existing store is left as it is, names in every row, so upgrading one rewrites nothing. A store with
# rows keeps reading and writing names until converted (not done by this step).
_V18 = """
CREATE TABLE IF NOT EXISTS json_keys (code TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS json_keys_state (coded INTEGER NOT NULL);
INSERT INTO json_keys_state (coded) SELECT NOT EXISTS (SELECT 1 FROM predictions);
"""

# A copy being compacted (app/store/compact.py): the last id recoded, in the copy only, dropped when it is done.
COMPACT_PROGRESS_DDL = "CREATE TABLE IF NOT EXISTS compact_progress (last_id INTEGER NOT NULL)"
COMPACT_PROGRESS_DROP = "DROP TABLE compact_progress"


MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12, _V13, _V14, _V15, _V16,
                         _V17, _V18]
SCHEMA_VERSION = len(MIGRATIONS)
# The step that took ids out of the free-text index (its number is wherever the step lands in MIGRATIONS).
FTS_IDS_OUT_VERSION = MIGRATIONS.index(_V16) + 1
JSON_KEYS_VERSION = MIGRATIONS.index(_V18) + 1


def migration_work(old: int, new: int) -> str:
    """What upgrading a store from ``old`` to ``new`` rebuilds, for the message shown before it."""
    if old < FTS_REBUILD_VERSION <= new:
        return "rebuilds indexes and the free-text index (words now split on punctuation)"
    if old < FTS_IDS_OUT_VERSION <= new:
        return "rebuilds indexes and the free-text index (a third smaller: ids are found through request:/entity:)"
    return "rebuilds indexes"

# Secondary indexes on predictions: dropped around a bulk load and rebuilt after, which
# is about three times faster than maintaining them row by row (ARCHITECTURE.md, Measured choices).
PREDICTION_INDEXES: dict[str, str] = {
    "predictions_model_ts": "CREATE INDEX IF NOT EXISTS predictions_model_ts ON predictions (model, ts)",
    REQUEST_KEY_INDEX: _REQUEST_KEY_DDL,
    "predictions_entity_ts": "CREATE INDEX IF NOT EXISTS predictions_entity_ts ON predictions (entity_id, ts)",
    "predictions_ts": "CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts)",
    "predictions_model_version_ts":
        "CREATE INDEX IF NOT EXISTS predictions_model_version_ts ON predictions (model, version, ts)",
}


def drop_index(name: str) -> str:
    """Drop one index by name (a bulk load drops every index on predictions and rebuilds it after)."""
    return f'DROP INDEX "{name}"'


def feature_column_ddl(column: str, json_path: str) -> str:
    """A VIRTUAL generated column on predictions holding one feature, so search can index it.

    No declared type: no affinity, so numbers and text keep their JSON types. ``json_path`` is
    inlined as a SQL string literal (DDL takes no parameters), its quotes doubled here."""
    literal = json_path.replace("'", "''")
    return (f'ALTER TABLE predictions ADD COLUMN "{column}" '
            f"GENERATED ALWAYS AS (json_extract(features, '{literal}')) VIRTUAL")


def feature_index_ddl(column: str) -> str:
    """The index on a feature's generated column (idempotent)."""
    return f'CREATE INDEX IF NOT EXISTS "{column}_idx" ON predictions ("{column}")'


# Retention (app/store/retention.py) reads which tokens a pruned row was indexed with from the
# contentless FTS index itself: a TEMP fts5vocab table (per connection, never in the file, no migration).
FTS_VOCAB_TABLE = "temp.predictions_fts_instances"
FTS_VOCAB_DDL = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_VOCAB_TABLE} "
                 "USING fts5vocab(main, predictions_fts, instance)")


# Planner statistics from a sample: a full ANALYZE of a big table costs seconds; a sampled one
# (analysis_limit) takes milliseconds at any size.
ANALYZE_PREDICTIONS = ("PRAGMA analysis_limit = 1000", "ANALYZE predictions")


def analyze_predictions(conn: "sqlite3.Connection") -> None:
    """Refresh the planner statistics of every index on predictions (see connection.ensure_statistics)."""
    for statement in ANALYZE_PREDICTIONS:
        conn.execute(statement)
