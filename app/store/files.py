"""A store file as a whole, rather than one table: peeking into a file without opening it as a store
(nothing created, nothing migrated), and the file-wide settings a writer tunes (durability of a side
file, WAL checkpoint, busy timeout)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from app.store.connection import StoreError

if TYPE_CHECKING:
    from app.store import Store
    from app.store.bulk import BatchResult
    from app.store.predictions import PredictionRow

# Tables whose rows mean a file holds somebody's data.
_DATA_TABLES = ("predictions", "models", "audit")


@dataclass(frozen=True)
class FilePeek:
    tables: frozenset[str]
    marker_detail: str | None  # the detail JSON of the newest audit entry with the asked-for action
    holds_data: bool  # a prediction, model or audit row exists


def peek(path: Path, marker_action: str) -> FilePeek:
    """What the SQLite file at ``path`` holds, read-only. Raises StoreError for a file SQLite cannot read."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = frozenset(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            marker = (conn.execute("SELECT detail FROM audit WHERE action = ? ORDER BY id DESC LIMIT 1",
                                   (marker_action,)).fetchone() if "audit" in tables else None)
            holds_data = any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                             for table in _DATA_TABLES if table in tables)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite store ({exc})") from None
    return FilePeek(tables, marker[0] if marker else None, holds_data)


def newest_prediction_ts(path: Path | str) -> int | None:
    """The newest prediction's time in the file at ``path`` (None: no rows, or not a readable store)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return None
    try:
        return conn.execute("SELECT max(ts) FROM predictions").fetchone()[0]
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def unsynced(store: "Store") -> None:
    """Stop syncing each commit to disk: only for a side file that is renamed into place once complete."""
    store.conn.execute("PRAGMA synchronous = OFF")


def checkpoint(store: "Store") -> None:
    """Fold the WAL into the main file and empty it (a finished file ships as one file)."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def set_busy_timeout(store: "Store", ms: int) -> None:
    """How long a statement waits for another connection's write lock before raising StoreBusy."""
    store.conn.execute(f"PRAGMA busy_timeout = {int(ms)}")


def bulk_load(store: "Store", batches: Iterable[Sequence["PredictionRow"]]) -> "BatchResult":
    """Append every batch as ONE transaction, indexes dropped and rebuilt (see app/store/bulk.py)."""
    from app.store.bulk import write_all

    return write_all(store.conn, batches, drop_indexes=True)
