"""The helper process of a split pairing read (``app.store.compare.pair_values``): it runs one statement
on a SQLite store, read-only, and writes the rows' numbers to stdout as one flat float64 array.

Input on stdin: a pickle of (store path, statement, parameters), from the parent modeldeck process only
(never from a file or the network). Output: the array's raw bytes; NULL arrives as NaN, as numpy reads it
in the parent. A failure exits non-zero with one line on stderr; the parent then reads that half itself.
Run as ``python -m app.store.pairing_half``; the memory map and the rows' conversion are the parent's own
(``app.store.compare``), so both halves are read and converted alike.
"""

from __future__ import annotations

import pickle
import sqlite3
import sys
from pathlib import Path
from urllib.parse import quote

from app.store.compare import MMAP_BYTES, float_values


def read_half(path: str, sql: str, params: dict) -> bytes:
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}").fetchone()
        return float_values(conn.execute(sql, params)).tobytes()
    finally:
        conn.close()


def main() -> int:
    try:
        path, sql, params = pickle.load(sys.stdin.buffer)
        sys.stdout.buffer.write(read_half(path, sql, params))
        sys.stdout.buffer.flush()
    except Exception as exc:  # any failure: one line; the parent reads the half itself
        print(f"pairing helper: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
