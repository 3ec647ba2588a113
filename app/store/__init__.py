"""The local SQLite store: one file, opened through sqlite-utils, grouped by table family.

Open one ``Store`` per thread (TUI workers open their own): an SQLite connection is cheap,
and WAL lets many readers run beside one writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.store.connection import (Database, StoreBusy, StoreError, StoreInterrupted, StoreReadOnly, connect,
                                  migrate, write_transaction)
from app.store.portable import PortableFamilies
from app.store.schema import SCHEMA_VERSION

__all__ = ["Store", "StoreError", "StoreBusy", "StoreInterrupted", "StoreReadOnly", "SCHEMA_VERSION"]


class Store(PortableFamilies):
    """An open store file. Use as a context manager, or call ``close()``."""

    kind = "sqlite"  # implements app.store.backend.StoreBackend, as app.store.pg.store.PgStore does

    def __init__(self, path: Path, *, read_only: bool = False, migrate_to: int = SCHEMA_VERSION,
                 create: bool = True) -> None:
        from app.store.audit import AuditLog
        from app.store.locks import LocksTable
        from app.store.predictions import PredictionsTable
        from app.store.quarantine import QuarantineTable
        from app.store.registry import Registry
        from app.store.serving import ServingLog

        self.path = Path(path)
        self.conn = connect(self.path, read_only=read_only, create=create)
        try:
            if read_only:
                from app.store.connection import current_version

                version = current_version(self.conn, self.path)
                if version != SCHEMA_VERSION:
                    raise StoreError(f"{self.path}: schema {version}, expected {SCHEMA_VERSION}; open it read-write "
                                     "once to migrate" if version < SCHEMA_VERSION else
                                     f"{self.path}: written by a newer modeldeck (schema {version})")
            else:
                migrate(self.conn, self.path, upto=migrate_to)
                from app.store.connection import ensure_statistics

                ensure_statistics(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self.db = Database(self.conn)
        from app.store.dialect import SqliteDb

        self._attach_portable(SqliteDb(self.conn))  # the families written once for both backends
        self.registry = Registry(self.db)
        self.predictions = PredictionsTable(self.db)
        self.audit = AuditLog(self.db)
        self.quarantine = QuarantineTable(self.db)
        self.locks = LocksTable(self.db)
        # The prediction log read for rollback, readiness and baselines; its memo is this file's
        # (app/store/log_memo.py): path and inode, so a store re-created at the path starts afresh (not the
        # change time: closing the last connection checkpoints the WAL into the file).
        stat = self.path.stat()
        self.serving = ServingLog(self.portable, memo_key=("sqlite", str(self.path.resolve()), stat.st_dev,
                                                           stat.st_ino),
                                  in_transaction=lambda: self.conn.in_transaction)

    @classmethod
    def open(cls, path: Path | str, *, read_only: bool = False, create: bool = True) -> "Store":
        """The store at ``path``: a SQLite file, or a ``postgresql://`` address (app/store/pg: the same
        families behind the same names; callers never ask which)."""
        from app.store.pg.url import is_pg_url

        if is_pg_url(path):
            from app.store.pg.store import PgStore

            return PgStore.open(str(path), read_only=read_only, create=create)  # type: ignore[return-value]
        return cls(Path(path), read_only=read_only, create=create)

    def check(self) -> None:
        """Raise StoreCorrupt when the file is damaged (SQLite's quick_check; reads every page once)."""
        from app.store.connection import quick_check

        quick_check(self.conn, self.path)

    def schema_version(self) -> int:
        return int(self.conn.execute("SELECT version FROM schema_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator["Store"]:
        """One write transaction: ``with store.write(): ...`` commits on success, rolls back on error.

        ``BEGIN IMMEDIATE`` takes the write lock up front (waiting up to the busy timeout), so two
        writers never deadlock halfway. Nested use joins the outer transaction.
        """
        with write_transaction(self.conn):  # busy or read-only: StoreBusy / StoreReadOnly
            yield self

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits to the file (a
        microsecond probe that reads no row; the Logs screen's follow mode watches it)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def interrupt(self) -> None:
        """Stop the statement running on this store now, from any thread: it raises StoreInterrupted
        (a no-op when idle)."""
        self.conn.interrupt()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
