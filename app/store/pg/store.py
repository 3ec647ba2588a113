"""``PgStore``: the store on PostgreSQL, with the same table families as the SQLite ``Store``.

One connection per PgStore (per thread, as on SQLite), in autocommit: each statement is its own
transaction unless it runs inside ``write()``. Every psycopg error leaves as the store's own
``StoreError`` family (one line, the password never in it).

Families not built for PostgreSQL yet are ``Unsupported``: touching one raises a one-line ``StoreError``
naming what is missing, never a traceback (the CLI prints it and exits 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from app.store.connection import StoreBusy, StoreError, StoreInterrupted, StoreReadOnly, StoreUnsupported
from app.store.pg.schema import MIGRATIONS, PG_SCHEMA_VERSION, SCHEMA_VERSION_TABLE, split_statements
from app.store.pg.url import PgUrl
from app.store.portable import PortableFamilies


class Unsupported:
    """A table family or a SQLite-only part this backend does not have yet."""

    def __init__(self, what: str, where: str) -> None:
        self._what = what
        self._where = where

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise StoreUnsupported(f"{self._where}: {self._what} is not available on PostgreSQL yet "
                         "(use a SQLite store for it, or see the README's PostgreSQL section)")


def pg_error(exc: BaseException, where: str) -> StoreError:
    """A psycopg error as the store's own one-line error."""
    import psycopg
    from psycopg import errors

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, errors.QueryCanceled):
        return StoreInterrupted(f"{where}: interrupted ({first})")
    if isinstance(exc, errors.InsufficientPrivilege):
        # The usual cause: a console's reader role (db init) asked to record something; the writer may.
        return StoreReadOnly(f"{where}: this role may not write that ({first}); "
                             "use the writer role (modeldeck db init --writer)")
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return StoreReadOnly(f"{where}: opened read-only ({first})")
    if isinstance(exc, (errors.LockNotAvailable, errors.DeadlockDetected)):
        return StoreBusy(f"{where}: {first}")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"{where}: cannot reach the database ({first})")
    return StoreError(f"{where}: {first}")


def _not_ready(where: str, version: int) -> str:
    """What to do about a store this session may not bring to this modeldeck's schema: the owner's ``db init``."""
    if not version:
        return f"{where}: no modeldeck schema here; run `modeldeck db init` as the database owner first"
    return (f"{where}: the store is at schema {version}, this modeldeck needs {PG_SCHEMA_VERSION}; upgrade it once "
            "with `modeldeck db init` as the database owner")


class PgStore(PortableFamilies):
    """An open PostgreSQL store. Use as a context manager, or call ``close()``."""

    kind: Literal["postgresql"] = "postgresql"  # implements app.store.backend.StoreBackend

    def __init__(self, url: PgUrl, *, read_only: bool = False, create: bool = True) -> None:
        import psycopg

        from app.store.pg.families import AlertsTable, AuditLog, LocksTable, QuarantineTable, Registry, ServingLog
        from app.store.pg.predictions import PredictionsTable

        self.url = url
        self.location = url.display()
        self.read_only = read_only
        try:
            self.pg = psycopg.connect(**url.connect_kwargs(), autocommit=True)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise pg_error(exc, self.location) from None
        try:
            if read_only:
                self.pg.execute("SET default_transaction_read_only = on")
            version = self._version()
            if version > PG_SCHEMA_VERSION:
                raise StoreError(f"{self.location}: written by a newer modeldeck (schema {version}, this one "
                                 f"knows up to {PG_SCHEMA_VERSION}); upgrade modeldeck to open it")
            if version < PG_SCHEMA_VERSION:
                if read_only or not create:
                    raise StoreError(_not_ready(self.location, version))
                self._migrate(version)
        except BaseException:
            self.pg.close()
            raise
        self.registry = Registry(self)
        self.predictions = PredictionsTable(self)
        self.audit = AuditLog(self)
        self.locks = LocksTable(self)
        self.quarantine = QuarantineTable(self)
        self.serving = ServingLog(self)  # the portable log reads; newest_ts from the catalogue's tally
        from app.store.dialect import PgDb

        self._attach_portable(PgDb(self))  # the families written once for both backends
        self.alerts = AlertsTable(self)  # acknowledging goes through a door a reader may use
        where = self.location
        # The SQLite connection: one clear line when a SQLite-only part is touched.
        self.conn = Unsupported("this command", where)

    @classmethod
    def open(cls, url: str | PgUrl, *, read_only: bool = False, create: bool = True) -> "PgStore":
        return cls(url if isinstance(url, PgUrl) else PgUrl.parse(url), read_only=read_only, create=create)

    # -- running SQL (only app/store/pg calls these) --------------------------------------------

    def run(self, sql: str, params: Any = None) -> Any:
        """Execute one statement; returns the cursor. psycopg errors become StoreError."""
        import psycopg

        try:
            return self.pg.execute(sql, params)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise pg_error(exc, self.location) from exc

    def rows(self, sql: str, params: Any = None) -> list[tuple]:
        return self.run(sql, params).fetchall()

    def one(self, sql: str, params: Any = None) -> tuple | None:
        return self.run(sql, params).fetchone()

    def rows_planned_once(self, sql: str, params: Any = None) -> list[tuple]:
        """Rows of a statement whose best plan does not depend on its values (a search page seeking an id,
        a model, a time range), planned once per connection: prepared on the server, run with its generic
        plan. Planning a statement over the day partitions and their indexes costs 2-8 ms, more than
        running it; the generic plan prunes partitions when it runs. The setting is local to the one
        implicit transaction the pipeline sends (one round trip), so nothing else on the connection sees it."""
        return self._planned_once(sql, params, None)[0]

    def rows_planned_once_and(self, sql: str, params: Any, then: str) -> tuple[list[tuple], tuple | None]:
        """``rows_planned_once``, and the first row of ``then`` (a statement without parameters) sent in the
        same round trip, after it."""
        return self._planned_once(sql, params, then)

    def _planned_once(self, sql: str, params: Any, then: str | None) -> tuple[list[tuple], tuple | None]:
        import psycopg

        try:
            with self.pg.pipeline():
                self.pg.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
                cursor = self.pg.execute(sql, params, prepare=True)  # type: ignore[arg-type]
                after = None if then is None else self.pg.cursor().execute(then, prepare=True)  # type: ignore[arg-type]
            return cursor.fetchall(), None if after is None else after.fetchone()
        except psycopg.Error as exc:
            raise pg_error(exc, self.location) from exc

    def _version(self) -> int:
        exists = self.pg.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
        if not exists:
            return 0
        row = self.pg.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, found: int) -> None:
        import psycopg
        from psycopg import errors

        try:
            with self.pg.transaction():
                # One migrator at a time across hosts: a transaction-scoped advisory lock.
                self.pg.execute("SELECT pg_advisory_xact_lock(hashtext('modeldeck:migrate'))")
                self.pg.execute(SCHEMA_VERSION_TABLE)
                version = self._version()
                if version == 0 and self.pg.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
                    self.pg.execute("INSERT INTO schema_version (version) VALUES (0)")
                schema = self.pg.execute("SELECT current_schema()").fetchone()[0]
                for number in range(version + 1, PG_SCHEMA_VERSION + 1):
                    for statement in split_statements(MIGRATIONS[number - 1]):
                        self.pg.execute(statement.replace("@SCHEMA@", _ident(schema)))  # type: ignore[arg-type]
                    self.pg.execute("UPDATE schema_version SET version = %s", (number,))
        except errors.InsufficientPrivilege:  # a writer role: the owner creates or upgrades the schema
            raise StoreError(_not_ready(self.location, found)) from None
        except psycopg.Error as exc:
            raise pg_error(exc, f"{self.location}: cannot prepare the store") from None

    # -- the Store surface -------------------------------------------------------------------

    def check(self) -> None:
        """Nothing to check client-side: PostgreSQL checks its own pages."""

    def schema_version(self) -> int:
        return self._version()

    @contextmanager
    def write(self) -> Iterator["PgStore"]:
        """One transaction: commits on success, rolls back on error; nested use is a savepoint."""
        import psycopg

        try:
            with self.pg.transaction():
                yield self
        except psycopg.Error as exc:
            raise pg_error(exc, self.location) from exc

    def interrupt(self) -> None:
        """Cancel the statement running on this connection, from any thread."""
        self.pg.cancel_safe() if hasattr(self.pg, "cancel_safe") else self.pg.cancel()

    def close(self) -> None:
        self.pg.close()

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
