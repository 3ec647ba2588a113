"""Fast appends to the prediction log: what ``ingest`` and the demo generator write through.

Two modes, both deduplicating on (model, version, request_id) and filling labels that arrive later
(a shadow version answering the same request logs the same request_id: schema version 4):

* ``drop_indexes=False`` (incremental): each ``write()`` is one transaction (or joins the
  caller's); known keys are looked up through the unique index. For small appends to a
  big table, and for ``ingest --follow``.
* ``drop_indexes=True`` (bulk): the whole load is ONE transaction. It drops every index on
  ``predictions`` (the unique one too), deduplicates with an in-memory map of the keys,
  and recreates the indexes at the end with SQLite's multi-threaded sorter. Maintaining a
  unique index over random request ids row by row is what makes big loads slow; building
  it afterwards is one sort. Because drop, load and rebuild commit together, a crash or a
  kill mid-load rolls back to the store as it was, indexes included: there is no window in
  which another writer could slip a duplicate past a missing unique index. Readers (the
  TUI) keep reading the previous snapshot meanwhile (WAL).

Ids are assigned here so that the FTS rows get the same ids without a read-back.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from app.store.connection import StoreBusy, begin_immediate
from app.store.json_keys import KeyCodes
from app.store.logged import record_logged
from app.store.predictions import PredictionRow
from app.store.zonemap import record_zones

if TYPE_CHECKING:
    from app.store import Store

# Re-exported: callers (drift windows) take the write lock through these names.
__all__ = ["BatchResult", "BulkWriter", "StoreBusy", "begin_immediate", "write_all"]

_INSERT = ("INSERT INTO predictions (id, ts, model, version, request_id, entity_id, prediction, score, label, "
           "latency_ms, status, error, features, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# Free text holds the text values and the error, not the ids (schema step 16): ids have their own indexes.
_INSERT_FTS = "INSERT INTO predictions_fts (rowid, text, error) VALUES (?, ?, ?)"
_FILL_LABEL = ("UPDATE predictions SET label = ? WHERE model = ? AND version = ? AND request_id = ? "
               "AND label IS NULL")
_FILL_LABEL_BY_ID = "UPDATE predictions SET label = ? WHERE id = ? AND label IS NULL"
# Keep IN (...) lists under SQLite's default host-parameter limit.
_LOOKUP_CHUNK = 900
# Page cache while writing: a big cache keeps the unique index's hot pages in memory
# (measured: 50,000-row transactions with 256 MiB are ~3x faster than with the 2 MiB default).
CACHE_KIB = 256 * 1024
# Page cache while the indexes are rebuilt (see _rebuild_indexes).
SORT_CACHE_KIB = 4 * 1024


@dataclass
class BatchResult:
    """``duplicates`` are records of known requests that changed nothing; ``labelled`` are
    records of known requests whose label filled an empty one. Counted apart, so
    accepted + duplicates + labelled = rows written."""

    accepted: int = 0
    duplicates: int = 0
    labelled: int = 0

    def add(self, other: "BatchResult") -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.labelled += other.labelled


class BulkWriter:
    """Use as a context manager: ``with BulkWriter(conn, drop_indexes=True) as w: w.write(rows)``.

    In bulk mode the caller may run its own statements (quarantine, offsets) on ``conn``
    between writes: they join the load's transaction.
    """

    def __init__(self, conn: sqlite3.Connection, *, drop_indexes: bool = False) -> None:
        self._conn = conn
        self.bulk = drop_indexes
        self.total = BatchResult()
        self._saved_cache_size: int | None = None
        self._dropped: list[str] = []  # CREATE INDEX statements to run at the end of a bulk load
        self._known: dict[tuple[str, str], dict[str, int]] = {}  # bulk: (model, version) -> request_id -> id
        self._next_id = 1
        self._codes: KeyCodes | None = None  # features/context keys as stored codes (app/store/json_keys.py)

    @classmethod
    def into(cls, store: "Store", *, drop_indexes: bool = False) -> "BulkWriter":
        """A writer appending to ``store`` (what ingest uses; tests and benches may pass a connection)."""
        return cls(store.conn, drop_indexes=drop_indexes)

    def __enter__(self) -> "BulkWriter":
        conn = self._conn
        self._saved_cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        if self.bulk:
            begin_immediate(conn)
            try:
                self._drop_indexes()
                self._known = self._load_known_keys()
                self._next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM predictions").fetchone()[0]
            except BaseException:
                self._finish(commit=False)
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._finish(commit=exc_type is None)

    def write(self, rows: Sequence[PredictionRow]) -> BatchResult:
        """Append one batch; returns what happened to it.

        Rows are ``PredictionRow`` or plain tuples in its field order.
        """
        if self.bulk:
            result = self._write_bulk(rows)
        elif self._conn.in_transaction:
            result = self._write_incremental(rows)
        else:
            begin_immediate(self._conn)
            try:
                result = self._write_incremental(rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                if self._codes is not None:
                    self._codes.forget()  # codes handed out in this transaction were taken back
                raise
        self.total.add(result)
        return result

    # -- bulk mode ------------------------------------------------------------------------

    def _drop_indexes(self) -> None:
        # Every explicit index, read from the schema, so indexes added by later migrations
        # (or by the search's indexed features) are rebuilt exactly as they were.
        indexes = self._conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions' "
            "AND sql IS NOT NULL"
        ).fetchall()
        for name, sql in indexes:
            self._conn.execute(f'DROP INDEX "{name}"')
            self._dropped.append(sql)

    def _load_known_keys(self) -> dict[tuple[str, str], dict[str, int]]:
        known: dict[tuple[str, str], dict[str, int]] = {}
        for row_id, model, version, request_id in self._conn.execute(
                "SELECT id, model, version, request_id FROM predictions"):
            ids = known.get((model, version))
            if ids is None:
                ids = known[(model, version)] = {}
            ids[request_id] = row_id
        return known

    def _key_codes(self) -> KeyCodes:
        """The writer's key codes, checked against the table at the start of each batch (inside its transaction)."""
        if self._codes is None:
            self._codes = KeyCodes(self._conn)
        else:
            self._codes.refresh()
        return self._codes

    def _write_bulk(self, rows: Sequence[PredictionRow]) -> BatchResult:
        encode = self._key_codes().encode
        known = self._known
        next_id = self._next_id
        fresh: list[tuple] = []
        fts: list[tuple] = []
        late_labels: list[tuple] = []
        duplicates = 0
        for row in rows:
            ids = known.get((row[1], row[2]))
            if ids is None:
                ids = known[(row[1], row[2])] = {}
            request_id = row[3]
            row_id = ids.get(request_id)
            if row_id is not None:
                if row[7] is None:
                    duplicates += 1
                else:
                    late_labels.append((row[7], row_id))
                continue
            ids[request_id] = next_id
            fresh.append((next_id, *row[:11], encode(row[11]), encode(row[12])))
            fts.append((next_id, row[13], row[10]))
            next_id += 1
        conn = self._conn
        conn.executemany(_INSERT, fresh)
        conn.executemany(_INSERT_FTS, fts)
        self._record_logged(fresh)
        self._next_id = next_id
        labelled = self._fill_labels(_FILL_LABEL_BY_ID, late_labels)
        return BatchResult(accepted=len(fresh), duplicates=duplicates + len(late_labels) - labelled,
                           labelled=labelled)

    def _finish(self, *, commit: bool) -> None:
        conn = self._conn
        try:
            if self.bulk and conn.in_transaction:
                try:
                    if commit:
                        self._rebuild_indexes()
                        conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:  # not committed: leave the store as it was, indexes included
                        conn.execute("ROLLBACK")
        finally:
            self._known = {}
            self._codes = None  # read again on next use (a rollback takes back the codes it handed out)
            if self._saved_cache_size is not None:
                conn.execute(f"PRAGMA cache_size = {int(self._saved_cache_size)}")
                self._saved_cache_size = None

    def _rebuild_indexes(self) -> None:
        conn = self._conn
        threads = conn.execute("PRAGMA threads").fetchone()[0]
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        # The sorter behind CREATE INDEX can use helper threads: the index build is most of
        # a bulk load's tail, and it parallelises well. But it only does so for data that
        # overflows its memory (the page cache size) into several sorted runs: with the big
        # load cache everything is one run, sorted by one thread. A small cache here gives
        # several runs sorted in parallel (measured on 1M rows, 6 indexes: 3.7 s -> 2.9 s).
        conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
        conn.execute(f"PRAGMA cache_size = -{SORT_CACHE_KIB}")
        try:
            for sql in self._dropped:
                conn.execute(sql)
        finally:
            conn.execute(f"PRAGMA threads = {int(threads)}")
            conn.execute(f"PRAGMA cache_size = {int(cache)}")
        self._dropped = []
        # Planner statistics from a sample: a full ANALYZE of a big table costs seconds.
        conn.execute("PRAGMA analysis_limit = 1000")
        conn.execute("ANALYZE predictions")

    # -- incremental mode -----------------------------------------------------------------

    def _write_incremental(self, rows: Sequence[PredictionRow]) -> BatchResult:
        conn = self._conn
        encode = self._key_codes().encode
        existing = self._existing_keys(rows)
        next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM predictions").fetchone()[0]
        fresh: list[tuple] = []
        fts: list[tuple] = []
        late_labels: list[tuple] = []
        duplicates = 0
        for row in rows:
            key = (row[1], row[2], row[3])
            if key in existing:
                if row[7] is None:
                    duplicates += 1
                else:
                    late_labels.append((row[7], row[1], row[2], row[3]))
                continue
            existing.add(key)
            fresh.append((next_id, *row[:11], encode(row[11]), encode(row[12])))
            fts.append((next_id, row[13], row[10]))
            next_id += 1
        conn.executemany(_INSERT, fresh)
        conn.executemany(_INSERT_FTS, fts)
        self._record_logged(fresh)
        labelled = self._fill_labels(_FILL_LABEL, late_labels)
        return BatchResult(accepted=len(fresh), duplicates=duplicates + len(late_labels) - labelled,
                           labelled=labelled)

    def _existing_keys(self, rows: Sequence[PredictionRow]) -> set[tuple[str, str, str]]:
        by_version: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            by_version.setdefault((row[1], row[2]), []).append(row[3])
        found: set[tuple[str, str, str]] = set()
        for (model, version), request_ids in by_version.items():
            for start in range(0, len(request_ids), _LOOKUP_CHUNK):
                chunk = request_ids[start:start + _LOOKUP_CHUNK]
                cursor = self._conn.execute(
                    f"SELECT request_id FROM predictions WHERE model = ? AND version = ? "
                    f"AND request_id IN ({','.join('?' * len(chunk))})",
                    (model, version, *chunk),
                )
                found.update((model, version, r[0]) for r in cursor)
        return found

    def _record_logged(self, fresh: list[tuple]) -> None:
        record_logged(self._conn, fresh, offset=1)  # fresh rows are (id, ts, model, version, ...)
        if fresh:  # ids are assigned contiguously here: one range to summarise
            record_zones(self._conn, fresh[0][0], fresh[-1][0])

    def _fill_labels(self, sql: str, params: list[tuple]) -> int:
        if not params:
            return 0
        before = self._conn.total_changes
        self._conn.executemany(sql, params)
        return self._conn.total_changes - before


def write_all(conn: sqlite3.Connection, batches: Iterable[Sequence[PredictionRow]], *,
              drop_indexes: bool = False) -> BatchResult:
    with BulkWriter(conn, drop_indexes=drop_indexes) as writer:
        for batch in batches:
            writer.write(batch)
    return writer.total
