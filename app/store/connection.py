"""Opening a store file: the SQLite-only parts (pragmas, FTS5 probing, migrations, refusals), the write
transaction, and the store's own exception types (callers never catch sqlite3 errors)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from app.store.dialect import SqliteDb
from app.store.json_keys import register as register_json_names
from app.store.schema import MIGRATIONS, SCHEMA_VERSION, SCHEMA_VERSION_TABLE, analyze_predictions

BUSY_TIMEOUT_MS = 5000
# The page size of a store created from now on, and of a copy made with VACUUM INTO (``db compact``). A
# prediction's row is ~250 bytes, so a 4 KiB page left ~half a row unused at its end: 8 KiB pages hold the same
# rows in ~5 bytes a row less (2 % of the table; measured with bench/storage.py on 200k demo rows). An existing
# store keeps its page size: in WAL mode SQLite never changes it.
PAGE_SIZE = 8192


class StoreError(Exception):
    """A store that cannot be used; the message is one line meant for the operator."""


class StoreUnsupported(StoreError):
    """This backend does not have that part yet (a SQLite-only read on PostgreSQL): the message names it."""


# The conditions callers act on are raised as these store types. They also stay sqlite3
# OperationalErrors, so code that still catches those keeps working.
class StoreBusy(StoreError, sqlite3.OperationalError):
    """The write lock stayed taken for the whole busy timeout (a long write elsewhere, e.g. a bulk ingest)."""


class StoreReadOnly(StoreError, sqlite3.OperationalError):
    """The store can only be read (file permissions, a read-only mount or a read-only open): nothing is written."""


class StoreInterrupted(StoreError, sqlite3.OperationalError):
    """A running statement was stopped from another thread (``Store.interrupt()``): a newer
    query replaced it. The message contains "interrupted"."""


def _known_condition(exc: sqlite3.Error) -> StoreError | None:
    """The store type for the conditions callers act on (busy, read-only, interrupted), else None."""
    if isinstance(exc, StoreError):
        return exc
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF  # the primary code, without the extended part
    text = str(exc)
    if code == sqlite3.SQLITE_INTERRUPT or "interrupted" in text:
        return StoreInterrupted(text)
    if code == sqlite3.SQLITE_READONLY or "readonly" in text.replace(" ", "") or "read-only" in text:
        return StoreReadOnly(text)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text or "busy" in text:
        return StoreBusy(text)
    return None


class StoreFull(StoreError, sqlite3.OperationalError):
    """The disk (or the store's size limit) is full: the write was rolled back, nothing half-written."""


class StoreCorrupt(StoreError, sqlite3.DatabaseError):
    """The store file is damaged (a corrupt page): nothing more is written into it."""


def failure(exc: BaseException, path: object = None) -> StoreError | None:
    """An SQLite failure as one line for the operator (disk full, damaged file, I/O error, read-only,
    busy), or None when ``exc`` is not one. The CLI's last resort, so no SQLite error is a traceback."""
    if isinstance(exc, StoreError):
        return exc
    if not isinstance(exc, sqlite3.Error):
        return None
    where = f"{path}: " if path else "store: "
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    if code == sqlite3.SQLITE_FULL or "disk is full" in text:
        return StoreFull(f"{where}the disk is full; the write was rolled back, nothing half-written ({text})")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in text:
        return StoreCorrupt(f"{where}the store file is damaged ({text}); restore it from a backup")
    if code == sqlite3.SQLITE_IOERR or "I/O error" in text:
        return StoreError(f"{where}the disk refused a read or write ({text})")
    if code == sqlite3.SQLITE_CANTOPEN:
        return StoreError(f"{where}cannot open the store file ({text})")
    return _known_condition(exc) or StoreError(f"{where}{text or type(exc).__name__}")


def quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """Raise StoreCorrupt when SQLite's ``quick_check`` finds damage (ingest runs it before writing)."""
    try:
        found = [row[0] for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path}: the store file is damaged ({exc}); ingest writes nothing into it") from None
    if found != ["ok"]:
        problems = " ".join("; ".join(found).split())[:200]  # SQLite's findings span lines: one line here
        raise StoreCorrupt(f"{path}: the store file is damaged (quick_check: {problems}); "
                           "ingest writes nothing into it")


def store_error(exc: sqlite3.Error) -> StoreError:
    """The store's own exception for an SQLite one, so callers never import sqlite3.

    Raise it ``from exc``: the SQLite error stays on the chain for debugging."""
    return _known_condition(exc) or StoreError(str(exc) or type(exc).__name__)


def _raise_as_store_error(exc: sqlite3.OperationalError) -> NoReturn:
    """Re-raise busy / read-only / interrupted as the store's own types; any other error unchanged."""
    translated = _known_condition(exc)
    if translated is None or translated is exc:
        raise exc
    raise translated from exc


_execute = sqlite3.Connection.execute
_executemany = sqlite3.Connection.executemany


class StoreConnection(sqlite3.Connection):
    """The store's connection: statements that fail because the store is busy, read-only or interrupted
    raise ``StoreBusy`` / ``StoreReadOnly`` / ``StoreInterrupted``; every other error is sqlite3's own.

    A plain ``try`` rather than a context manager: every statement passes here, and entering and leaving a
    generator-based context cost ~6 us a call, a fifth of an id lookup's whole page (issue 14 item 6)."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return _execute(self, sql, parameters)
        except sqlite3.OperationalError as exc:
            _raise_as_store_error(exc)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        try:
            return _executemany(self, sql, parameters)
        except sqlite3.OperationalError as exc:
            _raise_as_store_error(exc)


class Database(SqliteDb):
    """The SQLite-only families' connection (those not yet written once for both backends, which take a
    ``SqliteDb``): named parameters too. sqlite-utils' Database was this wrapper before; importing it costs
    0.3-1.3 s (it pulls numpy, dateutil and its plugin manager), most of a store-only command's start-up.
    The connection is in autocommit mode (isolation_level None), so a statement outside ``Store.write()``
    commits by itself, as it did through sqlite-utils."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        conn.execute("PRAGMA recursive_triggers = on")  # as sqlite-utils set it: behaviour unchanged

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return self.conn.execute(sql, () if parameters is None else parameters)


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock now (waiting up to the busy timeout), or say plainly who is in the way."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        translated = _known_condition(exc)
        if isinstance(translated, StoreBusy):
            path = conn.execute("PRAGMA database_list").fetchone()[2]
            raise StoreBusy(f"{path}: another process is writing to the store (try again when it is done)") from None
        if translated is None or translated is exc:
            raise
        raise translated from exc


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on ``conn`` (``Store.write`` is the usual door): ``BEGIN IMMEDIATE`` takes the
    write lock up front, so two writers never deadlock halfway; commits on success, rolls back on error;
    nested use joins the outer transaction."""
    if conn.in_transaction:
        yield
        return
    begin_immediate(conn)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(path: Path, *, read_only: bool = False, create: bool = True) -> sqlite3.Connection:
    """Open (creating if allowed) the SQLite file at ``path`` with the store's pragmas.

    ``create=False`` refuses a missing file (the console switching stores: a typo must not leave
    an empty store, nor its parent directories, behind)."""
    if read_only and not path.exists():
        raise StoreError(f"{path}: no such store")
    if not create and not path.is_file():
        raise StoreError(f"no store at {path}")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if read_only:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False, isolation_level=None, factory=StoreConnection)
        else:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                                   isolation_level=None, factory=StoreConnection)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        register_json_names(conn)  # a coded store's rows are read back with names in SQL (app/store/json_keys.py)
        if not read_only:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before WAL: a new file takes its page size here
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{path}: cannot switch to WAL journal mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
        # Touch the schema: a file that is not SQLite fails here, not halfway through a screen.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite store ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot open ({exc.strerror or exc})") from None
    return conn


def current_version(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of an open store: 0 for an empty file."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" in tables:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0
    if tables:
        raise StoreError(f"{path}: is an SQLite database but not a modeldeck store")
    return 0


# Told (from, to) before an existing store's schema is upgraded when the caller gives no listener of its
# own: the CLI sets it, so every command says why a big store's first open waits (indexes rebuilt).
migration_listener: Callable[[int, int], None] | None = None


def migrate(conn: sqlite3.Connection, path: Path, *, upto: int = SCHEMA_VERSION,
            before_migrating: Callable[[int, int], None] | None = None) -> int:
    """Bring the store to schema version ``upto``; refuse a store from a newer modeldeck."""
    try:
        version = current_version(conn, path)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: written by a newer modeldeck (schema {version}, this one knows up to "
                f"{SCHEMA_VERSION}); upgrade modeldeck to open it"
            )
        if version >= upto:
            return version
        with write_transaction(conn):
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = current_version(conn, path)
            tell = before_migrating or migration_listener
            if 0 < version < upto and tell is not None:
                tell(version, upto)
            if version == 0:
                conn.execute(SCHEMA_VERSION_TABLE)
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            for number in range(version + 1, upto + 1):
                for statement in _statements(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = ?", (number,))
        return upto
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot prepare the store ({exc})") from None


def prepare(path: Path, *, before_migrating: Callable[[int, int], None] | None = None) -> None:
    """Open the store at ``path`` once (creating or migrating it) and close it again.

    The console does this before its readers start, so a bad file is told once, as a one-line
    ``StoreError``, rather than by every reader. Plain sqlite3 only: nothing is counted.
    ``before_migrating(from, to)`` is called first when an existing store needs a schema upgrade
    (on a large store that rebuilds indexes: the operator is told why the wait).
    """
    conn = connect(path)
    try:
        migrate(conn, path, before_migrating=before_migrating)
    finally:
        conn.close()


def ensure_statistics(conn: sqlite3.Connection) -> None:
    """Give the query planner statistics for every index on ``predictions`` that has none.

    Without them SQLite guesses, and its guess prefers the unique (model, version, request_id)
    index for ``model = ?`` over (model, ts): a newest-first page of one model then sorts the
    whole model (1,000,000 rows: 0.2 ms -> 230 ms; with a free-text probe, seconds). A sampled
    ANALYZE (analysis_limit) takes milliseconds at any size. Runs after a migration or a new
    search index, and on stores filled by incremental ingest, which never analyses.
    """
    try:
        have = {r[0] for r in conn.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'predictions'")}
    except sqlite3.OperationalError:
        have = set()  # no sqlite_stat1 table yet
    indexes = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions'")}
    if not indexes or indexes <= have:
        return
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM predictions)").fetchone()[0]:
        return  # nothing to measure yet: an empty table's statistics would mislead later
    try:
        analyze_predictions(conn)
    except sqlite3.OperationalError:
        pass  # busy (a long write elsewhere) or read-only: the next open tries again


def _statements(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ';', so split on complete statements)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
