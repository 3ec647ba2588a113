"""``modeldeck db compact OUT``: a coded copy of a store of names (issue 18 item 5).

A store that held rows before schema step 18 keeps its keys' names in every row (its upgrade rewrote
nothing). This makes the coded copy without writing the store itself, so consoles, ingest and watch keep
working on it while the copy is made:

1. the store's snapshot is copied to ``OUT.part`` (``VACUUM INTO``: a read transaction on the store);
2. the copy's rows are recoded a chunk at a time, each chunk its own transaction, the last id done kept in
   the copy (``compact_progress``): a stopped run (ctrl-c, a crash) resumes from it when run again;
3. each indexed feature's generated column is made again over its key's code, the copy is VACUUMed (the
   rewritten rows leave free pages) and renamed ``OUT``.

Nobody else opens ``OUT.part``, so the chunks need no care for readers. What the store receives after the
snapshot is not in the copy: swap the files while nothing has the store open, then run ``modeldeck
ingest`` on the same sources again (duplicates are skipped, offsets are the copy's).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.store.connection import PAGE_SIZE, connect, write_transaction
from app.store.json_keys import KeyCodes, is_coded
from app.store.schema import (COMPACT_PROGRESS_DDL, COMPACT_PROGRESS_DROP, feature_column_ddl, feature_index_ddl)
from app.store.search_sql import GENERATED_PREFIX

CHUNK = 20_000
_GENERATED = re.compile(rf'"({GENERATED_PREFIX}[^"]*)" GENERATED ALWAYS AS '
                        r"\(json_extract\(features, '((?:[^']|'')*)'\)\)")


class AlreadyCoded(Exception):
    """The store's rows hold codes already: nothing to compact."""


@dataclass
class CompactResult:
    rows: int  # rows in the copy
    recoded: int  # rows recoded by this run (less than rows when it resumed)
    resumed: bool


def indexed_features(conn: sqlite3.Connection) -> dict[str, str]:
    """Generated column -> feature name, read from the table's DDL (``json_extract(features, '$."name"')``)."""
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'predictions'").fetchone()[0]
    found: dict[str, str] = {}
    for column, literal in _GENERATED.findall(table_sql):
        path = literal.replace("''", "'")
        if path.startswith('$."') and path.endswith('"'):
            found[column] = path[3:-1]
    return found


def compact(source: sqlite3.Connection, out: Path, *, chunk: int = CHUNK,
            progress: Callable[[str, int, int], None] | None = None, stop_after_chunks: int | None = None
            ) -> CompactResult:
    """Write the coded copy of the store open on ``source`` to ``out`` (see the module docstring);
    ``progress(stage, done, total)`` after each step and chunk. ``stop_after_chunks`` stops early (tests)."""
    if is_coded(source):
        raise AlreadyCoded("the store's rows already hold coded keys: nothing to compact")
    if out.exists():
        raise FileExistsError(f"{out} exists: give a new file for the copy")
    part = out.with_name(out.name + ".part")
    resumed = part.exists()
    if not resumed:
        if progress is not None:
            progress("copy", 0, 1)
        source.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # the copy's (a store's own page size never changes)
        source.execute("VACUUM INTO ?", (str(part),))
    conn = connect(part)
    try:
        if not resumed:
            with write_transaction(conn):
                conn.execute(COMPACT_PROGRESS_DDL)
                conn.execute("INSERT INTO compact_progress (last_id) VALUES (0)")
                # Generated columns read names: dropped now, made again over codes at the end.
                for column in indexed_features(conn):
                    conn.execute(f'DROP INDEX IF EXISTS "{column}_idx"')
                    conn.execute(f'ALTER TABLE predictions DROP COLUMN "{column}"')
                conn.execute("UPDATE json_keys_state SET coded = 1")  # the copy's writer codes from here
        elif conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'compact_progress'").fetchone()[0] == 0:
            raise RuntimeError(f"{part} is not a copy being compacted: remove it and run again")
        indexed = indexed_features(source)  # the store's own: the copy's were dropped above
        total = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        last = conn.execute("SELECT last_id FROM compact_progress").fetchone()[0]
        done = conn.execute("SELECT count(*) FROM predictions WHERE id <= ?", (last,)).fetchone()[0]
        recoded, chunks = 0, 0
        codes = KeyCodes(conn)
        while stop_after_chunks is None or chunks < stop_after_chunks:
            with write_transaction(conn):
                codes.refresh()
                rows = conn.execute("SELECT id, features, context FROM predictions WHERE id > ? ORDER BY id LIMIT ?",
                                    (last, chunk)).fetchall()
                if not rows:
                    break
                conn.executemany("UPDATE predictions SET features = ?, context = ? WHERE id = ?",
                                 [(codes.encode(f), codes.encode(c), i) for i, f, c in rows])
                last = rows[-1][0]
                conn.execute("UPDATE compact_progress SET last_id = ?", (last,))
            chunks += 1
            recoded += len(rows)
            done += len(rows)
            if progress is not None:
                progress("recode", done, total)
        else:
            return CompactResult(total, recoded, resumed)  # stopped early: OUT.part resumes
        with write_transaction(conn):
            for column, name in indexed.items():
                conn.execute(feature_column_ddl(column, codes.path(name)))
                conn.execute(feature_index_ddl(column))
            conn.execute(COMPACT_PROGRESS_DROP)
        if progress is not None:
            progress("vacuum", 0, 1)
        conn.execute("VACUUM")
    finally:
        conn.close()
    part.rename(out)
    return CompactResult(total, recoded, resumed)

