"""The comparison's connection on PostgreSQL: ``app.store.compare``'s statements, written once, run here.

- ``:name`` parameters become psycopg's ``%(name)s`` (a ``::`` cast is left alone), ``?`` becomes ``%s``.
- The streamed pairing is read through a server-side cursor, so a million pairs never sit in the client as
  rows: numpy takes them a batch at a time, as it does off SQLite's cursor.
- The TEMP pairs table (very large windows) lives for one transaction (``ON COMMIT DROP``), numbered by
  ``row_number()`` where SQLite has ``rowid``. A console connected read-only still builds it: the transaction
  is read-write for that temporary table alone (the reader role has no privilege on the store's tables to
  write anything else). A hot standby cannot hold temporary tables: there only the streamed path works.
- A class read back from the log (jsonb, decoded) goes back as jsonb, so ``CASE prediction WHEN ...``
  compares like with like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from app.store.dialect import Cursor, Dialect, PgDialect

if TYPE_CHECKING:
    from app.store.pg.store import PgStore

# A ``:name`` parameter, not the second colon of a ``::`` cast.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
STREAM_BATCH = 20_000


def pg_named(sql: str) -> str:
    """Portable SQL with ``:name`` (or ``?``) parameters as psycopg's: ``%`` doubled, then the parameters."""
    sql = sql.replace("%", "%%")
    return _NAMED.sub(r"%(\1)s", sql).replace("?", "%s")


class PgReader:
    """A ``PgStore`` as ``app.store.compare.Reader``."""

    dialect: Dialect = PgDialect()

    def __init__(self, store: "PgStore") -> None:
        self._s = store
        self._cursors = 0

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        return self._s.run(pg_named(sql), params if isinstance(params, dict) else tuple(params))  # type: ignore[no-any-return]

    def stream(self, sql: str, params: dict) -> Iterator[tuple]:
        import psycopg

        from app.store.pg.store import pg_error

        pg = self._s.pg
        self._cursors += 1
        try:
            # A named (server-side) cursor lives in a transaction; nested in one already open, a savepoint.
            with pg.transaction():
                with pg.cursor(name=f"deck_compare_{self._cursors}") as cursor:
                    cursor.itersize = STREAM_BATCH
                    cursor.execute(pg_named(sql), params)  # type: ignore[arg-type]
                    yield from cursor
        except psycopg.Error as exc:
            raise pg_error(exc, self._s.location) from exc

    def file_path(self) -> str | None:
        return None  # a server: no helper process reads it

    def param(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return None if value is None else Jsonb(value)

    @contextmanager
    def pairs_table(self, select: str, params: dict) -> Iterator[None]:
        import psycopg

        from app.store.compare import PAIRS
        from app.store.pg.store import pg_error

        pg = self._s.pg
        try:
            with pg.transaction():
                if self._s.read_only:
                    # Only a temporary table is written (the session's default is read-only).
                    pg.execute("SET TRANSACTION READ WRITE")
                pg.execute(pg_named(f"CREATE TEMP TABLE {PAIRS} ON COMMIT DROP AS "  # type: ignore[arg-type]
                                    f"SELECT row_number() OVER () AS rowid, pairs.* FROM ({select}) AS pairs"),
                           params)
                yield
        except psycopg.Error as exc:
            raise pg_error(exc, self._s.location) from exc
