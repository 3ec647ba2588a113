"""Logs make a fleet (schema version 8, issue 13): the catalogue learns every (model, version) the
prediction log holds, with first seen, last seen and row count.

Whoever appends predictions (bulk ingest, incremental ingest, ``--follow``, ``PredictionsTable.append``)
hands the rows it actually inserted here, in the same transaction: they are tallied per
(model, version) in Python and added with one upsert a batch. The log is never rescanned for it
(the migration to version 8 backfills an older store once).
"""

from __future__ import annotations

import sqlite3
from typing import Sequence

_MODEL = "INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)"
# A version first known from the log is a candidate created when it was first seen; a version the
# catalogue already knows (the demo's, a registry's) keeps its stage, metrics and card.
_VERSION = (
    "INSERT INTO versions (model, version, created_at, first_seen, last_seen, logged_rows) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (model, version) DO UPDATE SET "
    "first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen), "
    "last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen), "
    "logged_rows = logged_rows + excluded.logged_rows")


def record_logged(conn: sqlite3.Connection, rows: Sequence[tuple], *, offset: int = 0) -> None:
    """Add ``rows`` (newly inserted predictions; ``row[offset:offset + 3]`` is ts, model, version) to
    the catalogue. Call inside the transaction that inserted them."""
    if not rows:
        return
    tally: dict[tuple[str, str], list[int]] = {}
    ts_at, model_at, version_at = offset, offset + 1, offset + 2
    for row in rows:
        key = (row[model_at], row[version_at])
        ts = row[ts_at]
        seen = tally.get(key)
        if seen is None:
            tally[key] = [ts, ts, 1]
        else:
            if ts < seen[0]:
                seen[0] = ts
            elif ts > seen[1]:
                seen[1] = ts
            seen[2] += 1
    models: dict[str, int] = {}
    for (model, _), (first, _, _) in tally.items():
        models[model] = min(first, models.get(model, first))
    conn.executemany(_MODEL, list(models.items()))
    conn.executemany(_VERSION, [(model, version, first, first, last, count)
                                for (model, version), (first, last, count) in tally.items()])
