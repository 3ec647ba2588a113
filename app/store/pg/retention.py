"""Retention on PostgreSQL (issue 19 item 3): the twin of app/store/retention.py's reads and deletes.

The log is partitioned by day, so ``delete_before`` drops every day partition wholly before the cutoff
(a file unlinked: no dead rows, no VACUUM, whatever the day's size) and deletes only the rows of the day
holding the cutoff. The keys of the removed rows leave ``prediction_keys`` too (as SQLite's unique index
forgets them), so the archive ingests back. A partition is dropped through ``deck_drop_partition`` (the
owner's door, granted to the writer), since only the owner of ``predictions`` may drop one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from app.store.pg.predictions import SELECT_COLUMNS
from app.store.pg.schema import DAY_MS
from app.store.predictions import COLUMNS, record_from_row

if TYPE_CHECKING:
    from app.store.pg.store import PgStore
    from app.store.retention import Deleted, Span


def older_than(store: "PgStore", cutoff_ms: int) -> "Span":
    from app.store.retention import Span

    rows, oldest, newest = store.one("SELECT count(*), min(ts), max(ts) FROM predictions WHERE ts < %s",
                                     (cutoff_ms,))  # type: ignore[misc]
    return Span(int(rows), oldest, newest)


def oldest_ts(store: "PgStore", model: str | None = None) -> int | None:
    if model is None:
        row = store.one("SELECT min(ts) FROM predictions")
    else:
        row = store.one("SELECT min(ts) FROM predictions WHERE model = %s", (model,))
    return row[0] if row else None


def records_before(store: "PgStore", cutoff_ms: int, *, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every prediction older than ``cutoff_ms`` as an ingest record, oldest first, in keyset pages."""
    after_ts, after_id = -(2**63), -1
    while True:
        rows = store.rows(f"SELECT {SELECT_COLUMNS} FROM predictions WHERE ts < %s AND (ts, id) > (%s, %s) "
                          "ORDER BY ts, id LIMIT %s", (cutoff_ms, after_ts, after_id, batch))
        if not rows:
            return
        for row in rows:
            yield record_from_row(dict(zip(COLUMNS, row[1:])))
        after_ts, after_id = rows[-1][1], rows[-1][0]


def delete_before(store: "PgStore", cutoff_ms: int) -> "Deleted":
    """Drop the day partitions wholly before ``cutoff_ms``, delete the older rows of the day holding it,
    forget their keys and take them off the catalogue's counts. Call inside ``store.write()``."""
    from app.store.retention import Deleted

    deleted = Deleted()
    for model, version, count in store.rows(
            "SELECT model, version, count(*) FROM predictions WHERE ts < %s GROUP BY model, version", (cutoff_ms,)):
        deleted.by_version[(model, version)] = int(count)
        deleted.rows += int(count)
    if not deleted.rows:
        return deleted
    whole_days = [day for day in partition_days(store) if day + DAY_MS <= cutoff_ms]
    for day in whole_days:
        store.run("SELECT deck_drop_partition(%s)", (day,))
    store.run("DELETE FROM predictions WHERE ts < %s", (cutoff_ms,))  # only the cutoff's day holds any now
    store.run("DELETE FROM prediction_keys WHERE ts < %s", (cutoff_ms,))
    for (model, version), count in deleted.by_version.items():
        # first_seen moves to the oldest kept row; last_seen stays (when the version last answered).
        store.run("UPDATE versions SET logged_rows = greatest(0, logged_rows - %s), first_seen = "
                  "(SELECT min(ts) FROM predictions WHERE model = %s AND version = %s) "
                  "WHERE model = %s AND version = %s", (count, model, version, model, version))
    store.predictions.forget_partitions(whole_days)
    return deleted


def partition_days(store: "PgStore") -> list[int]:
    """The first millisecond of each day partition, oldest first (read from the partition bounds)."""
    rows = store.rows("SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON "
                      "c.oid = i.inhrelid WHERE i.inhparent = 'predictions'::regclass")
    days = []
    for (bound,) in rows:  # FOR VALUES FROM ('1795000000000') TO ('1795086400000')
        start = bound.split("FROM (", 1)[1].split(")", 1)[0].strip("'")
        days.append(int(start))
    return sorted(days)


def store_bytes(store: "PgStore") -> tuple[int, int]:
    """(the database's size, 0): PostgreSQL reuses a table's free space itself; a dropped partition's
    files are gone at once."""
    row = store.one("SELECT pg_database_size(current_database())")
    return (int(row[0]) if row else 0), 0


def reclaim_space(store: "PgStore") -> tuple[int, int]:
    """VACUUM the log (outside a transaction): the partial day's deleted rows become reusable space.
    Returns the database's size before and after (dropped partitions were given back already)."""
    before, _ = store_bytes(store)
    store.run("VACUUM predictions")
    after, _ = store_bytes(store)
    return before, after
