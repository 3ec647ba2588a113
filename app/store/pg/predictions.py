"""The prediction log on PostgreSQL: COPY-based append with cross-ingester uniqueness, and the reads.

``append`` works in one transaction, with the rows COPYed straight into ``predictions`` (the partitioned
table routes each to its day): ids are taken from the log's sequence for the whole batch, the batch's
first row of each key claims the key in ``prediction_keys`` (COPYed straight in under a savepoint; when a key
is taken, the keys COPYed to a temp table, then one ``INSERT ... ON CONFLICT DO NOTHING``: a key another
ingester holds, committed or in flight, is skipped, so no row is lost or doubled),
only the rows whose key went in are COPYed, late labels fill empty ones, and the batch is added to the
zone map and the catalogue (first/last seen, row counts) as SQLite's ``record_logged`` does. Day
partitions are created first, in their own short transaction.

Why no staging table (lane ao, issue 19 item 6): COPYing the batch into a temp table and moving it on with
INSERT ... SELECT wrote and read every row twice, sorted it twice and hashed the claimed ids; the server's
CPU for a 100,000-row load went 4.2 s -> 3.4 s without it. What the statement computed over the inserted
rows (per-key dedup, zone map, catalogue tally) is computed here instead, over the tuples already in hand.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import orjson

from app.store.pg.in_flight import ANNOUNCE
from app.store.pg.schema import DAY_MS, day_start
from app.store.log_aggregates import LogAggregates
from app.store.predictions import COLUMNS, PredictionRow
from app.store.zonemap import HOUR_MS

if TYPE_CHECKING:
    from app.store.pg.store import PgStore

# features/context come back as JSON text (what SQLite hands out and record_from_row decodes).
SELECT_COLUMNS = ("id, ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, status, "
                  "error, features::text, context::text")

# The batch's ids, in one round trip (a duplicate's id is never used: the sequence has gaps anyway).
_IDS = "SELECT nextval('predictions_id_seq') FROM generate_series(1, %s)"

# The batch's keys, one per key, claimed in key order (two ingesters' claims then lock keys in the same order
# and cannot deadlock); the order is bytewise ("C"), which is Python's order of str (UTF-8 keeps code point
# order). First straight by COPY into prediction_keys, under a savepoint: the usual batch, whose keys are all
# new, pays no ON CONFLICT (speculative insertion) and no temp table: 2.0-2.3 s -> 1.1 s of server CPU per
# 200,000 keys (lane at). A key another ingester holds, committed or in flight (the COPY waits for it), fails
# the COPY with a unique violation, which undoes only the savepoint; the batch then claims its keys the
# careful way: COPYed into a session temp table (handing 50,000 keys over as array parameters cost the client
# 5 us a row: psycopg builds array literals in Python) and inserted ON CONFLICT DO NOTHING, which skips the
# keys taken. The writer sends the keys already in order, so the server's ORDER BY only checks that its input
# is sorted (50,000 keys: 174 -> 21 ms).
_COPY_CLAIM = "COPY prediction_keys (model, version, request_id, id, ts) FROM STDIN"
_KEYS = ("CREATE TEMP TABLE IF NOT EXISTS deck_keys (model text, version text, request_id text, id bigint, ts bigint) "
         "ON COMMIT DELETE ROWS")
_COPY_KEYS = "COPY deck_keys (model, version, request_id, id, ts) FROM STDIN"
_CLAIM = """
INSERT INTO prediction_keys (model, version, request_id, id, ts)
SELECT model, version, request_id, id, ts FROM deck_keys
ORDER BY model COLLATE "C", version COLLATE "C", request_id COLLATE "C"
ON CONFLICT DO NOTHING RETURNING id"""

_COPY = ("COPY predictions (id, ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, "
         "status, error, features, context, tsv) FROM STDIN")

# A late label fills the stored row's empty label: the labels of the batch's rows that did not claim their key.
_LABELS = """
UPDATE predictions p SET label = s.label::jsonb
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS s (model, version, request_id, label)
JOIN prediction_keys k USING (model, version, request_id)
WHERE p.label IS NULL AND p.id = k.id AND p.ts = k.ts"""

# Which features are summarised, read in the batch's transaction before its insert: the read holds a lock on
# zone_summarised to the commit, so a feature summarised meanwhile (search.summarise_feature) waits for this
# batch and its backfill then sees these rows.
_SUMMARISED = "SELECT feature FROM zone_summarised"

# The batch's zone map (app/store/zonemap.py), summed here from the inserted rows and merged at the end of the
# transaction like the catalogue, in key order as the catalogue's, so two ingesters' merges cannot deadlock.
_ZONE_MERGE = (
    """INSERT INTO zone_blocks AS b (model, hour, rows, errors, min_score, max_score, min_latency, max_latency)
    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::float8[],
                         %s::float8[], %s::float8[])
    ON CONFLICT (model, hour) DO UPDATE SET rows = b.rows + excluded.rows, errors = b.errors + excluded.errors,
        min_score = least(b.min_score, excluded.min_score), max_score = greatest(b.max_score, excluded.max_score),
        min_latency = least(b.min_latency, excluded.min_latency),
        max_latency = greatest(b.max_latency, excluded.max_latency)""",
    """INSERT INTO zone_features AS z (model, hour, feature, n, lo, hi)
    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[], %s::float8[], %s::float8[])
    ON CONFLICT (model, hour, feature) DO UPDATE SET n = z.n + excluded.n, lo = least(z.lo, excluded.lo),
        hi = greatest(z.hi, excluded.hi)""",
    """INSERT INTO zone_state AS z (model, summarised) SELECT * FROM unnest(%s::text[], %s::bigint[])
    ON CONFLICT (model) DO UPDATE SET summarised = z.summarised + excluded.summarised""")

# Case folding of the free-text vector is the server's (the query side's to_tsquery folds with it): whether its
# lower() folds ASCII as Python does (not so under a Turkish locale: I -> dotless i), asked once a session.
_ASCII_FOLD = "SELECT lower(%s) = %s"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SERVER_LOWER = "SELECT lower(v) FROM unnest(%s::text[]) WITH ORDINALITY AS t (v, n) ORDER BY n"

_MODEL = "INSERT INTO models (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_VERSION = (
    "INSERT INTO versions (model, version, created_at, first_seen, last_seen, logged_rows) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (model, version) DO UPDATE SET "
    "first_seen = least(coalesce(versions.first_seen, excluded.first_seen), excluded.first_seen), "
    "last_seen = greatest(coalesce(versions.last_seen, excluded.last_seen), excluded.last_seen), "
    "logged_rows = versions.logged_rows + excluded.logged_rows")


# The free-text vector's weights, one a column (``_texts``); search asks for these and no other.
TEXT_WEIGHTS = "CD"
_WORD_RUNS = re.compile(r"[^\W_]+")  # runs of letters and digits, as SQLite's unicode61 and the query side split
# The same runs in ASCII text (a plain class: 1 us a row less than the Unicode one's category look-ups)
_ASCII_WORD_RUNS = re.compile(r"[A-Za-z0-9]+")
_MAX_WORD_BYTES = 2047  # PostgreSQL's longest lexeme; to_tsvector skips longer words, so do we
_MAX_POS = 16383  # PostgreSQL's highest word position; later words share it
_MAX_POSITIONS = 255  # positions kept per word (to_tsvector keeps the first 255)


def tsvector_text(row: PredictionRow) -> str:
    """The row's free-text vector as tsvector input, built here rather than by a generated column: what
    ``to_tsvector('simple', ...)`` over each column's runs of letters and digits, weighted C-D
    (features/context text, error) and concatenated, would give - but computed by the client, which
    takes the cost off the server's single insert path (ARCHITECTURE.md, ingest speed). The server
    lowercases it (``lower(...)::tsvector`` in the insert), so case folds as the server folds it. Words are letters
    and digits only, so they need no quoting; ``tests/integration/test_pg_ingest.py`` holds it equal to
    the SQL expression."""
    texts = _texts(row)
    # The usual row: no text long enough to hold a word beyond the lexeme limit (checked on the whole text,
    # not word by word: a sixth of the cost), and no more words than a vector keeps positions for.
    if max(map(len, filter(None, texts)), default=0) * 4 >= _MAX_WORD_BYTES:
        return _tsvector_text_limited(row)
    parts: list[str] = []
    pos = 1
    for weight, text in zip(TEXT_WEIGHTS, texts):
        if text:
            words = (_ASCII_WORD_RUNS if text.isascii() else _WORD_RUNS).findall(text)
            if pos + len(words) > _MAX_POSITIONS + 1:
                return _tsvector_text_limited(row)
            # "word" + "':3C " for each word, the endings made once (a third less than an f-string a word)
            parts += map(str.__add__, words, _ENDINGS[weight][pos:pos + len(words)])
            pos += len(words)
    return ("'" + "'".join(parts))[:-1]  # repeated words are merged by the server's tsvector input


# Each weight's word endings by position: "':1C ", "':2C ", ...
_ENDINGS = {weight: [f"':{pos}{weight} " for pos in range(_MAX_POSITIONS + 2)]
            for weight in TEXT_WEIGHTS}


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
    """Rows as ``append`` COPYs them, 15 fields: ``PredictionRow``'s first 13 with text cleared of U+0000 and
    prediction/label as JSON text, then None for fts_text (the vector holds it), then the free-text vector
    (``tsvector_text``, not yet case-folded). Ingest's parser processes call this on each block they parse: the
    vector is the costliest per-row work of an append (10 us a row), and there it runs beside the writer
    instead of in it, as does the rest of the per-row preparing. Needs no connection, so any process may run it."""
    return [(ts, model, version, _no_nul(request_id), _no_nul(entity_id), _json_value(prediction), score,
             _json_value(label), latency_ms, status, _no_nul(error), _no_nul(features), _no_nul(context), None,
             _no_nul(tsvector_text(row)))
            for row in rows
            for (ts, model, version, request_id, entity_id, prediction, score, label, latency_ms, status, error,
                 features, context, _) in (row[:14],)]


def _texts(row: PredictionRow) -> tuple[str | None, str | None]:
    """The vector's columns, weighted ``TEXT_WEIGHTS`` in this order: the features/context text and the error,
    what SQLite's FTS index holds. Not the ids: free text finds what people read, and ``request:``/``entity:``
    (or a whole id typed alone, app/search/searcher.py) find ids through their indexes on both backends; a word
    inside an id matching on one backend only would make the two answer differently. Rows written before this
    carry their ids at weights A and B, which no query asks for. By position: rows from parser processes are
    plain tuples in ``PredictionRow`` order."""
    return row[13], row[10]


def _weighted(row: PredictionRow) -> tuple[tuple[str, str | None], ...]:
    return tuple(zip(TEXT_WEIGHTS, _texts(row)))


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
        self._ascii_folds: bool | None = None  # the server folds ASCII as Python does (asked once)

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
        # By position, not name: rows from parser processes are plain tuples in PredictionRow order, prepared.
        if any(len(row) < 15 for row in rows):
            rows = with_vectors(rows)  # type: ignore[arg-type]
        self.ensure_partitions([row[0] for row in rows])
        with self._s.write():
            # Before the ids: readers learn the lowest id this transaction may commit (app/store/pg/in_flight.py).
            self._s.run(ANNOUNCE)
            ids = [r[0] for r in self._s.rows(_IDS, (len(rows),))]
            first: dict[tuple[str, str, str], int] = {}  # each key's first row in the batch claims it
            for i, row in enumerate(rows):
                first.setdefault((row[1], row[2], row[3]), i)
            claimed = self._claim([(*key, ids[i], rows[i][0]) for key, i in sorted(first.items())])
            features = [r[0] for r in self._s.rows(_SUMMARISED)]
            # In time order: a day's rows together, and each partition's heap in ts order (its BRIN stays tight).
            inserted = sorted((i for i in range(len(rows)) if ids[i] in claimed), key=lambda i: rows[i][0])
            vectors = self._folded_vectors([rows[i][14] for i in inserted])
            self._copy(_COPY, ((ids[i], *rows[i][:13], vector) for i, vector in zip(inserted, vectors)))
            late = [rows[i] for i in range(len(rows)) if ids[i] not in claimed and rows[i][7] is not None]
            if late:
                self._s.run(_LABELS, ([r[1] for r in late], [r[2] for r in late], [r[3] for r in late],
                                      [r[7] for r in late]))
            added = [rows[i] for i in inserted]
            self._merge_zones(added, features)
            self._tally(added)
        return len(inserted), len(rows) - len(inserted)

    def _claim(self, keys: list[tuple[str, str, str, int, int]]) -> set[int]:
        """Claim the batch's keys (model, version, request_id, id, ts; in key order) in prediction_keys;
        returns the ids whose key went in. Inside the batch's transaction."""
        import psycopg

        try:
            with self._s.pg.transaction():  # a savepoint: a key already taken undoes only this COPY
                self._copy(_COPY_CLAIM, keys)
            return {key[3] for key in keys}
        except psycopg.errors.UniqueViolation:
            pass
        self._s.run(_KEYS)  # each time: a rolled-back first batch takes the session's table with it
        self._copy(_COPY_KEYS, keys)
        claimed = {r[0] for r in self._s.rows(_CLAIM)}
        self._s.run("TRUNCATE deck_keys")  # a second batch in the same transaction starts empty
        return claimed

    def _copy(self, sql: str, rows: Iterable[tuple]) -> None:
        with self._s.pg.cursor().copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def _folded_vectors(self, vectors: list[str]) -> list[str]:
        """Free-text vectors case-folded as the server folds (its ``lower()``): an ASCII vector here when the
        server folds ASCII as Python does, the others by the server, in one round trip."""
        if self._ascii_folds is None:
            self._ascii_folds = bool(self._s.one(_ASCII_FOLD, (_UPPER, _UPPER.lower()))[0])  # type: ignore[index]
        others = []
        for i, vector in enumerate(vectors):
            if self._ascii_folds and vector.isascii():
                vectors[i] = vector.lower()
            else:
                others.append(i)
        if others:
            for i, (folded,) in zip(others, self._s.rows(_SERVER_LOWER, ([vectors[i] for i in others],))):
                vectors[i] = folded
        return vectors

    def _merge_zones(self, rows: Sequence[PredictionRow], features: Sequence[str]) -> None:
        """Add the inserted rows to the zone map: per (model, hour) the row and error counts and min/max of
        score and latency, and of each summarised feature its numeric (or boolean, as 0/1) values' min/max."""
        blocks: dict[tuple[str, int], list] = {}
        values: dict[tuple[str, int, str], list] = {}
        for row in rows:
            ts, model, score, latency, status, features_text = row[0], row[1], row[6], row[8], row[9], row[11]
            key = (model, ts // HOUR_MS)
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = [0, 0, None, None, None, None]
            block[0] += 1
            block[1] += status == "error"
            _widen(block, 2, score)
            _widen(block, 4, latency)
            if features and features_text:
                document = _json_object(features_text)
                for feature in features:
                    value = _number(document.get(feature))
                    if value is not None:
                        summary = values.setdefault((model, key[1], feature), [0, value, value])
                        summary[0] += 1
                        summary[1], summary[2] = min(summary[1], value), max(summary[2], value)
        if not blocks:
            return
        order = sorted(blocks)
        self._s.run(_ZONE_MERGE[0], ([k[0] for k in order], [k[1] for k in order],
                                     *([blocks[k][n] for k in order] for n in range(6))))
        if values:
            keys = sorted(values)
            self._s.run(_ZONE_MERGE[1], ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                                         *([values[k][n] for k in keys] for n in range(3))))
        per_model: dict[str, int] = {}
        for (model, _), block in blocks.items():
            per_model[model] = per_model.get(model, 0) + block[0]
        models = sorted(per_model)
        self._s.run(_ZONE_MERGE[2], (models, [per_model[m] for m in models]))

    def _tally(self, rows: Sequence[PredictionRow]) -> None:
        """The catalogue: each model, and each version's first/last seen and logged rows, in key order."""
        seen: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            ts, key = row[0], (row[1], row[2])
            span = seen.get(key)
            if span is None:
                seen[key] = [ts, ts, 1]
            else:
                span[0], span[1], span[2] = min(span[0], ts), max(span[1], ts), span[2] + 1
        for model in sorted({model for model, _ in seen}):
            self._s.run(_MODEL, (model, min(span[0] for (m, _), span in seen.items() if m == model)))
        for (model, version), (low, high, count) in sorted(seen.items()):
            self._s.run(_VERSION, (model, version, low, low, high, count))

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
        """The highest id stored (consoles poll it as the log's change mark): the end of each day partition's
        id index, not a scan of the key table, which has no index on id."""
        row = self._s.one("SELECT coalesce(max(id), 0) FROM predictions")
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


def _widen(summary: list, at: int, value: float | None) -> None:
    """min at ``at``, max at ``at + 1``; a missing value changes neither (as SQL's min/max skip NULL)."""
    if value is None:
        return
    if summary[at] is None or value < summary[at]:
        summary[at] = value
    if summary[at + 1] is None or value > summary[at + 1]:
        summary[at + 1] = value


def _json_object(text: str) -> dict:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:  # an integer beyond 64 bits, which orjson refuses and the log keeps
        document = json.loads(text)
    return document if isinstance(document, dict) else {}


def _number(value: Any) -> float | None:
    """A feature value as the zone map summarises it: a JSON number, or a boolean as 0/1; else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:
            return None
    return None
