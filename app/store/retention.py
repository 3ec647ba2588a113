"""Retention (issue 17 item 5): reading, deleting and reclaiming the prediction log's oldest rows.

``modeldeck prune`` (app/cli/prune.py, through app/checklist/retention.py) reads the rows older than a
cutoff for the archive, then calls ``delete_before`` - the one function that removes predictions by
time - and ``reclaim_space``. Everything that keeps a per-row or per-hour summary of the log (the FTS
index, the catalogue's counts and the zone maps) is cleaned inside ``delete_before``,
in the same transaction as the rows.

The free-text index is contentless (schema.py): SQLite 3.40 cannot DELETE from it, only feed it a
``'delete'`` command carrying exactly the tokens the row was indexed with; a token too many or too
few leaves the index damaged ("database disk image is malformed") or a ghost match that a later row
reusing the id would inherit. What was indexed depends on who wrote the row (ingest puts keys and
text values, the demo's generator only values), so the tokens are read back from the index itself
through an ``fts5vocab`` instance table, never recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.store.predictions import COLUMNS, SELECT_COLUMNS, record_from_row
from app.store.schema import FTS_COLUMNS, FTS_VOCAB_DDL, FTS_VOCAB_TABLE

if TYPE_CHECKING:
    from app.store import Store

# Rows whose tokens are held in memory at once: a first prune of a large old log goes in chunks of this many
# rows (each chunk costs one pass over the index's instances), so memory stays bounded.
CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class Span:
    """The rows older than a cutoff: how many, and their time range (None when there are none)."""

    rows: int
    oldest: int | None
    newest: int | None


@dataclass
class Deleted:
    """What ``delete_before`` removed: rows in all, and per (model, version)."""

    rows: int = 0
    by_version: dict[tuple[str, str], int] = field(default_factory=dict)


def older_than(store: "Store", cutoff_ms: int) -> Span:
    """How many predictions have ``ts < cutoff_ms`` and their time range (the ts index answers it)."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        return pg.older_than(store, cutoff_ms)
    rows, oldest, newest = store.conn.execute(
        "SELECT count(*), min(ts), max(ts) FROM predictions WHERE ts < ?", (cutoff_ms,)).fetchone()
    return Span(int(rows), oldest, newest)


def oldest_ts(store: "Store", model: str | None = None) -> int | None:
    """The oldest kept prediction's time (of one model, or of the whole log)."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        return pg.oldest_ts(store, model)
    if model is None:
        row = store.conn.execute("SELECT min(ts) FROM predictions").fetchone()
    else:
        row = store.conn.execute("SELECT min(ts) FROM predictions WHERE model = ?", (model,)).fetchone()
    return row[0] if row else None


def records_before(store: "Store", cutoff_ms: int, *, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every prediction older than ``cutoff_ms`` as an ingest record (``record_from_row``: the JSON Lines
    contract, ISO time), oldest first; read in keyset pages so memory stays flat on a large prune."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        yield from pg.records_before(store, cutoff_ms, batch=batch)
        return
    after_ts, after_id = -(2**63), -1
    select = f"SELECT id, {SELECT_COLUMNS} FROM predictions"
    while True:
        rows = store.conn.execute(
            f"{select} WHERE ts < ? AND (ts > ? OR (ts = ? AND id > ?)) ORDER BY ts, id LIMIT ?",
            (cutoff_ms, after_ts, after_ts, after_id, batch)).fetchall()
        if not rows:
            return
        for row in rows:
            yield record_from_row(dict(zip(COLUMNS, row[1:])))
        after_ts, after_id = rows[-1][1], rows[-1][0]


def delete_before(store: "Store", cutoff_ms: int, *, chunk_rows: int = CHUNK_ROWS) -> Deleted:
    """Delete every prediction with ``ts < cutoff_ms``, with its free-text entry, and take the rows off
    the catalogue's counts (``versions.logged_rows``, ``first_seen``). Call inside ``store.write()``.

    The one place predictions are removed by time: a summary of the log kept elsewhere is cleaned here."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        return pg.delete_before(store, cutoff_ms)
    conn = store.conn
    deleted = Deleted()
    for model, version, count in conn.execute(
            "SELECT model, version, count(*) FROM predictions WHERE ts < ? GROUP BY model, version",
            (cutoff_ms,)).fetchall():
        deleted.by_version[(model, version)] = int(count)
        deleted.rows += int(count)
    if not deleted.rows:
        return deleted
    while True:
        # The chunk ends at the ts of the CHUNK_ROWS-th oldest row left (the ts index answers it); rows sharing
        # that ts go in the next chunk, so a chunk never splits one timestamp.
        row = conn.execute("SELECT ts FROM predictions WHERE ts < ? ORDER BY ts LIMIT 1 OFFSET ?",
                           (cutoff_ms, chunk_rows)).fetchone()
        upto = cutoff_ms if row is None else row[0]
        if upto == conn.execute("SELECT min(ts) FROM predictions").fetchone()[0]:
            upto = cutoff_ms if row is None else row[0] + 1  # one timestamp holds a whole chunk: take it
        _delete_fts_entries(store, upto)
        conn.execute("DELETE FROM predictions WHERE ts < ?", (upto,))
        if upto >= cutoff_ms:
            break
    if cutoff_ms > 0:
        # Zone maps (app/store/zonemap.py): a block of an hour wholly before the cutoff summarises deleted rows
        # only. The hour holding the cutoff keeps its (now wider) summary, which zonemap.py says is safe.
        hour = cutoff_ms // 3_600_000
        conn.execute("DELETE FROM zone_blocks WHERE hour < ?", (hour,))
        conn.execute("DELETE FROM zone_features WHERE hour < ?", (hour,))
    for (model, version), count in deleted.by_version.items():
        # first_seen moves to the oldest kept row (NULL when none is left); last_seen stays: it says when
        # the version last answered, which pruning does not change.
        conn.execute(
            "UPDATE versions SET logged_rows = max(0, logged_rows - ?), first_seen = "
            "(SELECT min(ts) FROM predictions WHERE model = ? AND version = ?) WHERE model = ? AND version = ?",
            (count, model, version, model, version))
    return deleted


def _delete_fts_entries(store: "Store", cutoff_ms: int) -> None:
    conn = store.conn
    conn.execute(FTS_VOCAB_DDL)  # a TEMP table: it lives as long as this connection, in no file
    tokens: dict[int, dict[str, list[str]]] = {}
    terms: dict[str, str] = {}  # one string object per distinct term: the same words recur across rows
    # The instance table yields (term, doc, col); the IN keeps only the pruned rows' entries.
    for doc, column, term in conn.execute(
            f"SELECT doc, col, term FROM {FTS_VOCAB_TABLE} "
            "WHERE doc IN (SELECT id FROM predictions WHERE ts < ?)", (cutoff_ms,)):
        tokens.setdefault(doc, {}).setdefault(column, []).append(terms.setdefault(term, term))
    conn.executemany(
        f"INSERT INTO predictions_fts (predictions_fts, rowid, {', '.join(FTS_COLUMNS)}) "
        f"VALUES ('delete', ?, {', '.join('?' * len(FTS_COLUMNS))})",
        [(doc, *(" ".join(by_column.get(column, ())) for column in FTS_COLUMNS))
         for doc, by_column in tokens.items()])


def store_bytes(store: "Store") -> tuple[int, int]:
    """(file size in bytes from the page count, bytes in free pages a VACUUM would give back)."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        return pg.store_bytes(store)
    page_size = store.conn.execute("PRAGMA page_size").fetchone()[0]
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    free = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages * page_size), int(free * page_size)


def reclaim_space(store: "Store") -> tuple[int, int]:
    """VACUUM the store (outside any transaction): free pages go back to the file system. Returns the
    size before and after. The store has no auto_vacuum, so this rewrites the whole file: it needs free
    disk about the store's size and holds the write lock while it runs (readers carry on under WAL)."""
    if store.kind == "postgresql":  # day partitions: app/store/pg/retention.py
        from app.store.pg import retention as pg

        return pg.reclaim_space(store)
    before, _ = store_bytes(store)
    store.conn.execute("VACUUM")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after, _ = store_bytes(store)
    return before, after


def last_succeeded(store: "Store", action: str) -> int | None:
    """When ``action`` last succeeded (the audit trail; ``watch`` prunes a day after the last prune)."""
    row = store.portable.execute("SELECT max(ts) FROM audit WHERE action = ? AND outcome = 'succeeded'",
                                 (action,)).fetchone()
    return row[0] if row else None
