"""The prediction log on PostgreSQL: COPY-based append with cross-ingester uniqueness, and the reads.

``append`` COPYs a batch into a session temp table, then in one transaction inserts the keys into
``prediction_keys`` (``ON CONFLICT DO NOTHING``: a key another ingester holds, committed or in flight,
is skipped, so no row is lost or doubled), the rows whose key went in into ``predictions``, fills
late labels, and adds the batch to the catalogue (first/last seen, row counts) as SQLite's
``record_logged`` does. Day partitions are created first, in their own short transaction.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

import orjson

from app.store.pg.schema import DAY_MS, day_start
from app.store.log_aggregates import LogAggregates
from app.store.predictions import COLUMNS, PredictionRow

if TYPE_CHECKING:
    from app.store.pg.store import PgStore

# features/context come back as JSON text (what SQLite hands out and record_from_row decodes).
SELECT_COLUMNS = ("id, ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, status, "
                  "error, features::text, context::text")

# Each staged row takes its id from the log's sequence as it is copied in.
_STAGING = """CREATE TEMP TABLE IF NOT EXISTS deck_staging (
    seq bigint, id bigint DEFAULT nextval('predictions_id_seq'), ts bigint, model text, version text,
    request_id text, entity_id text, prediction jsonb, score double precision, label jsonb,
    latency_ms double precision, status text, error text, features jsonb, context jsonb, tsv text)
    ON COMMIT DELETE ROWS"""

# In one statement: the first of each key in the batch claims it (a key another ingester holds, committed
# or in flight, is skipped: this waits for it), and only the rows whose own id claimed their key go into the
# log, found by a hash of the ids returned rather than a probe of the key index per row; a day's rows together.
# The rows inserted are summarised by (model, hour) into the batch's zone-map staging (below); with summarised
# features, their min/max too (``{features}``: handing every row's features on through the CTE cost a fifth of
# the insert, so a store without summarised features does not pay it).
_CLAIM_AND_INSERT = """
WITH claimed AS (
    INSERT INTO prediction_keys (model, version, request_id, id, ts)
    SELECT DISTINCT ON (model, version, request_id) model, version, request_id, id, ts FROM deck_staging
    ORDER BY model, version, request_id, seq
    ON CONFLICT DO NOTHING
    RETURNING id),
ins AS (
    INSERT INTO predictions (id, ts, model, version, request_id, entity_id, prediction, score, label, latency_ms,
                             status, error, features, context, tsv)
    SELECT s.id, s.ts, s.model, s.version, s.request_id, s.entity_id, s.prediction, s.score, s.label,
           s.latency_ms, s.status, s.error, s.features, s.context, lower(s.tsv)::tsvector
    FROM deck_staging s WHERE s.id IN (SELECT id FROM claimed)
    ORDER BY s.ts
    RETURNING ts, model, version, score, latency_ms, status{returning}),
blocks AS (
    INSERT INTO deck_zone_blocks
    SELECT model, ts / 3600000, count(*), sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END), min(score), max(score),
           min(latency_ms), max(latency_ms)
    FROM ins GROUP BY model, ts / 3600000){features}
SELECT model, version, min(ts), max(ts), count(*) FROM ins GROUP BY model, version"""
_FEATURE_ZONES = """,
features AS (
    INSERT INTO deck_zone_features
    SELECT ins.model, ins.ts / 3600000, f.feature, count(*), min(v.value), max(v.value)
    FROM ins CROSS JOIN zone_summarised f
    CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(ins.features -> f.feature)
        WHEN 'number' THEN (ins.features -> f.feature)::double precision
        WHEN 'boolean' THEN ((ins.features -> f.feature)::boolean)::int END AS value) AS v
    WHERE v.value IS NOT NULL
    GROUP BY ins.model, ins.ts / 3600000, f.feature)"""
_CLAIM_INSERT_SUMMARISE = {
    False: _CLAIM_AND_INSERT.format(returning="", features=""),
    True: _CLAIM_AND_INSERT.format(returning=", features", features=_FEATURE_ZONES),
}
# Which features are summarised, read in the batch's transaction before its insert: the read holds a lock on
# zone_summarised to the commit, so a feature summarised meanwhile (search.summarise_feature) waits for this
# batch and its backfill then sees these rows.
_SUMMARISED = "SELECT EXISTS (SELECT 1 FROM zone_summarised)"

# The batch's zone map (app/store/zonemap.py), staged by the insert above in temp tables and merged here, at
# the end of the transaction like the catalogue: a second ingester's insert never waits on these rows' locks,
# only its own merge does. In key order, as the catalogue's, so two merges cannot deadlock.
_ZONE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS deck_zone_blocks (model text, hour bigint, rows bigint, errors bigint, "
    "min_score double precision, max_score double precision, min_latency double precision, "
    "max_latency double precision) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS deck_zone_features (model text, hour bigint, feature text, n bigint, "
    "lo double precision, hi double precision) ON COMMIT DELETE ROWS")
_ZONE_MERGE = (
    """INSERT INTO zone_blocks AS b (model, hour, rows, errors, min_score, max_score, min_latency, max_latency)
    SELECT model, hour, sum(rows), sum(errors), min(min_score), max(max_score), min(min_latency), max(max_latency)
    FROM deck_zone_blocks GROUP BY model, hour ORDER BY model, hour
    ON CONFLICT (model, hour) DO UPDATE SET rows = b.rows + excluded.rows, errors = b.errors + excluded.errors,
        min_score = least(b.min_score, excluded.min_score), max_score = greatest(b.max_score, excluded.max_score),
        min_latency = least(b.min_latency, excluded.min_latency),
        max_latency = greatest(b.max_latency, excluded.max_latency)""",
    """INSERT INTO zone_features AS z (model, hour, feature, n, lo, hi)
    SELECT model, hour, feature, sum(n), min(lo), max(hi) FROM deck_zone_features
    GROUP BY model, hour, feature ORDER BY model, hour, feature
    ON CONFLICT (model, hour, feature) DO UPDATE SET n = z.n + excluded.n, lo = least(z.lo, excluded.lo),
        hi = greatest(z.hi, excluded.hi)""",
    """INSERT INTO zone_state AS z (model, summarised)
    SELECT model, sum(rows) FROM deck_zone_blocks GROUP BY model ORDER BY model
    ON CONFLICT (model) DO UPDATE SET summarised = z.summarised + excluded.summarised""",
    "TRUNCATE deck_zone_blocks, deck_zone_features")

# A late label fills the stored row's empty label. Only a staged row that did not claim its key (k.id <> s.id)
# can be one: a row inserted just now already carries its label, so it is not looked up again.
_LABELS = """
UPDATE predictions p SET label = s.label FROM deck_staging s JOIN prediction_keys k USING (model, version, request_id)
WHERE s.label IS NOT NULL AND k.id <> s.id AND p.label IS NULL AND p.id = k.id AND p.ts = k.ts"""

_MODEL = "INSERT INTO models (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_VERSION = (
    "INSERT INTO versions (model, version, created_at, first_seen, last_seen, logged_rows) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (model, version) DO UPDATE SET "
    "first_seen = least(coalesce(versions.first_seen, excluded.first_seen), excluded.first_seen), "
    "last_seen = greatest(coalesce(versions.last_seen, excluded.last_seen), excluded.last_seen), "
    "logged_rows = versions.logged_rows + excluded.logged_rows")


_WORD_RUNS = re.compile(r"[^\W_]+")  # runs of letters and digits, as SQLite's unicode61 and the query side split
_MAX_WORD_BYTES = 2047  # PostgreSQL's longest lexeme; to_tsvector skips longer words, so do we
_MAX_POS = 16383  # PostgreSQL's highest word position; later words share it
_MAX_POSITIONS = 255  # positions kept per word (to_tsvector keeps the first 255)


def tsvector_text(row: PredictionRow) -> str:
    """The row's free-text vector as tsvector input, built here rather than by a generated column: what
    ``to_tsvector('simple', ...)`` over each column's runs of letters and digits, weighted A-D (request,
    entity, features/context text, error) and concatenated, would give - but computed by the client, which
    takes the cost off the server's single insert path (ARCHITECTURE.md, ingest speed). The server
    lowercases it (``lower(...)::tsvector`` in the insert), so case folds as the server folds it. Words are letters
    and digits only, so they need no quoting; ``tests/integration/test_pg_ingest.py`` holds it equal to
    the SQL expression."""
    columns = [(weight, _WORD_RUNS.findall(text)) for weight, text in _weighted(row) if text]
    if sum(len(words) for _, words in columns) <= _MAX_POSITIONS and \
            all(len(word) * 4 < _MAX_WORD_BYTES for _, words in columns for word in words):
        # The usual row: no position limit can bite. Repeated words are merged by the server's tsvector input.
        parts: list[str] = []
        pos = 0
        for weight, words in columns:
            parts.extend(f"'{word}':{pos + i}{weight}" for i, word in enumerate(words, 1))
            pos += len(words)
        return " ".join(parts)
    return _tsvector_text_limited(row)


def _tsvector_text_limited(row: PredictionRow) -> str:
    """``tsvector_text`` for a row with very long words or very many: to_tsvector's limits applied."""
    positions: dict[str, list[str]] = {}
    shift = 0  # `a || b` moves b's positions past a's highest
    for weight, text in _weighted(row):
        if not text:
            continue
        column: dict[str, list[int]] = {}
        pos = 0
        for word in _WORD_RUNS.findall(text):
            if len(word) * 4 >= _MAX_WORD_BYTES and len(word.encode()) >= _MAX_WORD_BYTES:
                continue  # skipped without taking a position, as to_tsvector does
            pos += 1
            at = column.setdefault(word, [])
            if len(at) < _MAX_POSITIONS:
                at.append(min(pos, _MAX_POS))
        highest = 0
        for word, at in column.items():
            highest = max(highest, at[-1])
            positions.setdefault(word, []).extend(f"{min(p + shift, _MAX_POS)}{weight}" for p in at)
        shift += highest
    return " ".join(f"'{word}':{','.join(at[:_MAX_POSITIONS])}" for word, at in positions.items())


def with_vectors(rows: list) -> list[tuple]:
    """Rows with their free-text vector (``tsvector_text``) as a 15th field, which ``append`` then COPYs
    rather than computing it. Ingest's parser processes call this on each block they parse: the vector is
    the costliest per-row work of an append (60 us a row on this machine), and there it runs beside the
    writer instead of in it. Needs no connection, so any process may run it."""
    return [(*row, tsvector_text(row)) for row in rows]


def _weighted(row: PredictionRow) -> tuple[tuple[str, str | None], ...]:
    """The vector's columns and their weights: request, entity, features/context text, error. By position:
    rows from parser processes are plain tuples in ``PredictionRow`` order."""
    return ("A", row[3]), ("B", row[4]), ("C", row[13]), ("D", row[10])


def _json_value(value: Any) -> str | None:
    """A prediction or label as JSON text for its jsonb column: a number stays a number, text stays text."""
    if value is None:
        return None
    return _no_nul(orjson.dumps(value).decode())


def _no_nul(text: str | None) -> str | None:
    """PostgreSQL text and jsonb cannot hold U+0000: it becomes U+FFFD (shown as a replacement mark)."""
    if text is None:
        return None
    return text.replace("\\u0000", "\\ufffd").replace("\x00", "\ufffd")


class PredictionsTable(LogAggregates):
    """COPY-based appending (PostgreSQL's own) and the aggregate reads the screens need (``LogAggregates``,
    written once for both backends)."""

    # What ingest's parser processes may do for ``append`` (app/ingest/workers.py): a plain function, sent by name.
    prepare_rows = staticmethod(with_vectors)

    def __init__(self, store: "PgStore") -> None:
        from app.store.dialect import PgDb

        super().__init__(PgDb(store))
        self._s = store
        self._days: set[int] = set()  # partitions known to exist (this session created or saw them)
        self._staging = False

    # -- writing ---------------------------------------------------------------------------------

    def ensure_partitions(self, timestamps: Sequence[int]) -> None:
        """Create the day partitions these rows need, and the next day's (ahead of the traffic)."""
        days = {day_start(ts) for ts in timestamps}
        days |= {day + DAY_MS for day in days}
        missing = sorted(days - self._days)
        if not missing:
            return
        with self._s.write():
            # One creator at a time across ingesters (CREATE ... IF NOT EXISTS races otherwise); through
            # the owner's door, since only the owner of predictions may add a partition.
            self._s.run("SELECT pg_advisory_xact_lock(hashtext('modeldeck:partitions'))")
            for day in missing:
                self._s.run("SELECT deck_ensure_partition(%s)", (day,))
        self._days.update(missing)

    def forget_partitions(self, days: Sequence[int]) -> None:
        """Partitions retention dropped: a later row of such a day creates its partition again."""
        self._days.difference_update(days)

    def append(self, rows: Sequence[PredictionRow]) -> tuple[int, int]:
        """Insert rows; returns (accepted, duplicates). A duplicate (same model, version, request_id) is
        skipped, but a label that arrives later fills an empty label, as on SQLite. A row may carry its
        vector already (``with_vectors``)."""
        if not rows:
            return 0, 0
        # By position, not name: rows from parser processes are plain tuples in PredictionRow order.
        self.ensure_partitions([row[0] for row in rows])
        accepted = 0
        with self._s.write():
            if not self._staging:
                for ddl in (_STAGING, *_ZONE_STAGING):
                    self._s.run(ddl)
                self._staging = True
            # The batch's sorts (dedup, join, by time) in memory rather than spilled to disk.
            self._s.run("SET LOCAL work_mem = '64MB'")
            cursor = self._s.pg.cursor()
            with cursor.copy("COPY deck_staging (seq, ts, model, version, request_id, entity_id, prediction, score, "
                             "label, latency_ms, status, error, features, context, tsv) FROM STDIN") as copy:
                for seq, row in enumerate(rows):
                    (ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, status, error,
                     features, context, _, *vector) = row  # the vector when with_vectors computed it
                    copy.write_row((seq, ts, model, version, _no_nul(request_id), _no_nul(entity_id),
                                    _json_value(prediction), score, _json_value(label), latency_ms, status,
                                    _no_nul(error), _no_nul(features), _no_nul(context),
                                    _no_nul(vector[0] if vector else tsvector_text(row))))
            summarised = bool(self._s.one(_SUMMARISED)[0])  # type: ignore[index]
            tally = self._s.rows(_CLAIM_INSERT_SUMMARISE[summarised])
            self._s.run(_LABELS)
            self._s.run("TRUNCATE deck_staging")
            for statement in _ZONE_MERGE:
                self._s.run(statement)
            for model in sorted({t[0] for t in tally}):
                first = min(t[2] for t in tally if t[0] == model)
                self._s.run(_MODEL, (model, first))
            for model, version, first, last, count in sorted(tally):
                accepted += count
                self._s.run(_VERSION, (model, version, first, first, last, count))
        return accepted, len(rows) - accepted

    # -- reading ---------------------------------------------------------------------------------

    def get(self, row_id: int) -> dict[str, Any] | None:
        r = self._s.one(f"SELECT {SELECT_COLUMNS} FROM predictions WHERE id = %s", (row_id,))
        return None if r is None else dict(zip(("id", *COLUMNS), r))

    def by_request(self, model: str, version: str, request_id: str) -> dict[str, Any] | None:
        """One row by its unique key (through prediction_keys: one partition read)."""
        r = self._s.one(f"SELECT {SELECT_COLUMNS} FROM predictions p WHERE (p.id, p.ts) = "
                        "(SELECT id, ts FROM prediction_keys WHERE model = %s AND version = %s AND request_id = %s)",
                        (model, version, request_id))
        return None if r is None else dict(zip(("id", *COLUMNS), r))

    def latest_id(self) -> int:
        row = self._s.one("SELECT coalesce(max(id), 0) FROM prediction_keys")
        return int(row[0]) if row else 0

    def latest_ts(self, model: str) -> int | None:
        row = self._s.one("SELECT max(last_seen) FROM versions WHERE model = %s AND logged_rows > 0", (model,))
        return None if row is None else row[0]

    def count(self) -> int:
        row = self._s.one("SELECT count(*) FROM prediction_keys")
        return int(row[0]) if row else 0

    def logged_models(self, limit: int = 1000) -> list[str]:
        """Models with logs: the catalogue's tally, not a scan of the log."""
        return [r[0] for r in self._s.rows("SELECT DISTINCT model COLLATE \"C\" FROM versions WHERE logged_rows > 0 "
                                           "ORDER BY model COLLATE \"C\" LIMIT %s", (limit,))]

    def logged_versions(self, model: str, limit: int = 1000) -> list[str]:
        return [r[0] for r in self._s.rows("SELECT version FROM versions WHERE model = %s AND logged_rows > 0 "
                                           "ORDER BY version COLLATE \"C\" LIMIT %s", (model, limit))]

    def logged_names(self) -> tuple[list[str], dict[str, list[str]]]:
        """``logged_models`` and each one's ``logged_versions`` in one statement (search resolves every
        query's names against them: one round trip, not one per model)."""
        limit = 1000  # as logged_models' and logged_versions' default
        models: list[str] = []
        versions: dict[str, list[str]] = {}
        for model, version in self._s.rows('SELECT model, version FROM versions WHERE logged_rows > 0 '
                                           'ORDER BY model COLLATE "C", version COLLATE "C"'):
            if model not in versions:
                if len(models) == limit:
                    break
                models.append(model)
                versions[model] = []
            if len(versions[model]) < limit:
                versions[model].append(version)
        return models, versions

    def partitions(self) -> list[str]:
        """The day partitions, oldest first (retention drops whole ones)."""
        return [r[0] for r in self._s.rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'predictions'::regclass ORDER BY c.relname")]
