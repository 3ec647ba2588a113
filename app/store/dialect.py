"""One table family, two backends: the connection a portable family runs its SQL through (``Db``) and the
few statements that differ between SQLite and PostgreSQL (``Dialect``).

A family written once (app/store/offsets.py, drift_table.py, windows.py, ...) takes a ``Db`` and writes
its SQL in the portable subset both backends run unchanged: ``?`` placeholders, ``INSERT ... ON CONFLICT
(key) DO UPDATE SET col = excluded.col`` / ``ON CONFLICT DO NOTHING`` (never ``INSERT OR REPLACE``/``OR
IGNORE``), ``RETURNING id`` (never ``lastrowid``), ``sum(CASE WHEN ... THEN 1 ELSE 0 END)`` (never a summed
boolean), an alias on every subquery in FROM. Only what cannot be written once goes through
``db.dialect``: reading a JSON value, a JSON column as text, an index hint.

- ``SqliteDb(conn)``: the SQLite store's connection as is (``write()`` is ``BEGIN IMMEDIATE``).
- ``PgDb(store)``: a ``PgStore``; ``?`` becomes ``%s`` (a literal ``%`` is doubled first), errors become
  the store's own one-line ``StoreError``s, ``write()`` is a transaction (a savepoint when nested).

Only app/store imports this module.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Protocol, Sequence

from app.store.json_keys import key_name_sql, key_path_sql, names_sql

if TYPE_CHECKING:
    from app.store.pg.store import PgStore


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ...) -> list[Any]: ...


class Dialect:
    """The statements that differ. Every method returns SQL text (and, where a value is involved, the
    parameter that goes with it), for the family to put where the portable SQL cannot go."""

    kind: Literal["sqlite", "postgresql"]

    def json_text(self, column: str) -> str:
        """A JSON column read as JSON text (SQLite stores text; PostgreSQL's jsonb reads as text by cast)."""
        raise NotImplementedError

    def record_json(self, column: str) -> str:
        """A prediction's features or context read back as JSON text with its keys' names (SQLite rows hold
        codes for them: app/store/json_keys.py; PostgreSQL's jsonb holds the names)."""
        raise NotImplementedError

    def json_number(self, column: str, key: str) -> tuple[str, Any]:
        """The value under top-level ``key`` of a JSON object column, numbers as numbers, text as text.
        The JSON-key methods below take a prediction's features or context (SQLite: looked up by code)."""
        raise NotImplementedError

    def json_member(self, column: str, key: str) -> tuple[str, Any]:
        """The value under top-level ``key`` as JSON text (true stays true, 1.0 stays 1.0)."""
        raise NotImplementedError

    def json_present(self, column: str) -> str:
        """A condition: the JSON column holds something (not NULL, empty text, {} or null)."""
        raise NotImplementedError

    def score_or_prediction(self) -> str:
        """The score, else the prediction, as a number or text."""
        raise NotImplementedError

    def json_scalar_number(self, column: str) -> str:
        """A JSON-ish column's value when it is a number, else NULL (a class label stays out)."""
        raise NotImplementedError

    def numeric_gap(self, a: str, b: str) -> str:
        """|a - b| when both JSON-ish values are numbers, else NULL."""
        raise NotImplementedError

    def recent_keys(self, column: str) -> str:
        """A query: the distinct top-level keys of the JSON object ``column`` in the newest ``?`` rows of
        the log, sorted."""
        raise NotImplementedError

    def not_indexed(self) -> str:
        """An index hint after a table name: keep the planner off the (model, ts) index (SQLite only)."""
        return ""

    def newest_and_settled_ids(self) -> str | None:
        """A query: the log's newest id, and the newest id below which no row can still appear (no
        transaction in flight may commit a smaller one), both 0 for an empty log. None: the two are the
        same (SQLite has one writer at a time; PostgreSQL's concurrent ingesters may commit out of id order)."""
        return None

    def flag(self, condition: str) -> str:
        """A condition as 0 or 1, to add or sum (SQLite's comparisons already are; PostgreSQL's are boolean)."""
        raise NotImplementedError

    def same(self, a: str, b: str) -> str:
        """a equals b, NULL equal to NULL (SQLite's ``IS``)."""
        raise NotImplementedError

    def as_number(self, value: str) -> str:
        """A log value (prediction, label) used in arithmetic: SQLite stores numbers as numbers, PostgreSQL
        as jsonb (a number's value, else NULL)."""
        raise NotImplementedError

    def json_join_key(self, column: str, placeholder: str) -> str:
        """The value under the top-level key named by the parameter ``placeholder`` (see
        ``json_key_param``), to join rows on; PostgreSQL's is text, so it may fall back to a text column."""
        raise NotImplementedError

    def json_key_param(self, key: str) -> Any:
        """The parameter ``json_join_key`` takes for ``key``."""
        raise NotImplementedError

    def temp_table(self, name: str) -> str:
        """The qualified name of this connection's temporary table ``name``."""
        raise NotImplementedError


class SqliteDialect(Dialect):
    kind: Literal["sqlite", "postgresql"] = "sqlite"

    def json_text(self, column: str) -> str:
        return column

    def record_json(self, column: str) -> str:
        return names_sql(column)

    def json_number(self, column: str, key: str) -> tuple[str, Any]:
        return f"json_extract({column}, {key_path_sql()})", key

    def json_member(self, column: str, key: str) -> tuple[str, Any]:
        return f"{column} -> {key_path_sql()}", key

    def json_present(self, column: str) -> str:
        return f"{column} IS NOT NULL AND {column} NOT IN ('', '{{}}', 'null')"

    def score_or_prediction(self) -> str:
        return "coalesce(score, prediction)"

    def json_scalar_number(self, column: str) -> str:
        return f"CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} END"
    def numeric_gap(self, a: str, b: str) -> str:
        return (f"CASE WHEN typeof({a}) IN ('integer', 'real') AND typeof({b}) IN ('integer', 'real') "
                f"THEN abs({a} - {b}) END")

    def recent_keys(self, column: str) -> str:
        return (f"SELECT DISTINCT {key_name_sql('j.key')} AS name FROM (SELECT {column} AS doc FROM predictions "
                "ORDER BY id DESC LIMIT ?) AS p, json_each(p.doc) AS j WHERE json_valid(p.doc) ORDER BY name")

    def not_indexed(self) -> str:
        return "NOT INDEXED"

    def flag(self, condition: str) -> str:
        return f"({condition})"

    def same(self, a: str, b: str) -> str:
        return f"{a} IS {b}"

    def as_number(self, value: str) -> str:
        return value

    def json_join_key(self, column: str, placeholder: str) -> str:
        return f"json_extract({column}, {key_path_sql(placeholder)})"

    def json_key_param(self, key: str) -> Any:
        return key

    def temp_table(self, name: str) -> str:
        return f"temp.{name}"


class PgDialect(Dialect):
    kind: Literal["sqlite", "postgresql"] = "postgresql"

    def json_text(self, column: str) -> str:
        return f"{column}::text"

    def record_json(self, column: str) -> str:
        return self.json_text(column)

    def json_number(self, column: str, key: str) -> tuple[str, Any]:
        # jsonb arrives decoded: a number as a number, text as text (as json_extract gives them).
        return f"({column} -> ?)", key

    def json_member(self, column: str, key: str) -> tuple[str, Any]:
        return f"({column} -> ?)::text", key

    def json_present(self, column: str) -> str:
        return f"{column} IS NOT NULL AND {column} NOT IN ('{{}}'::jsonb, 'null'::jsonb)"

    def score_or_prediction(self) -> str:
        return "coalesce(to_jsonb(score), prediction)"

    def json_scalar_number(self, column: str) -> str:
        return f"CASE WHEN jsonb_typeof({column}) = 'number' THEN ({column})::double precision END"
    def numeric_gap(self, a: str, b: str) -> str:
        return (f"CASE WHEN jsonb_typeof({a}) = 'number' AND jsonb_typeof({b}) = 'number' "
                f"THEN abs(({a} #>> '{{}}')::float8 - ({b} #>> '{{}}')::float8) END")

    def recent_keys(self, column: str) -> str:
        return (f"SELECT k.key FROM (SELECT {column} AS doc FROM predictions ORDER BY id DESC LIMIT ?) "
                "AS p, jsonb_object_keys(CASE WHEN jsonb_typeof(p.doc) = 'object' THEN p.doc END) AS k(key) "
                "GROUP BY k.key ORDER BY k.key COLLATE \"C\"")

    def newest_and_settled_ids(self) -> str | None:
        from app.store.pg.in_flight import LOWEST_IN_FLIGHT

        # One statement, so one snapshot, taken before the lock table is read: a transaction not in the
        # snapshot either holds its lock when the table is read (its ids are at or above the key) or takes
        # its ids after the read, above every id in the snapshot (app/store/pg/in_flight.py).
        return ("SELECT coalesce(t.top, 0), greatest(least(coalesce(t.top, 0), f.lowest - 1), 0) "
                f"FROM (SELECT max(id) AS top FROM predictions) AS t, ({LOWEST_IN_FLIGHT}) AS f (lowest)")

    def flag(self, condition: str) -> str:
        return f"({condition})::int"

    def same(self, a: str, b: str) -> str:
        return f"{a} IS NOT DISTINCT FROM {b}"

    def as_number(self, value: str) -> str:
        return self.json_scalar_number(value)

    def json_join_key(self, column: str, placeholder: str) -> str:
        return f"({column} ->> {placeholder})"

    def json_key_param(self, key: str) -> Any:
        return key

    def temp_table(self, name: str) -> str:
        return f"pg_temp.{name}"


def json_path_safe(key: str) -> bool:
    """Whether SQLite's JSON path ``$."KEY"`` finds this key: it matches the key's text as stored, so a
    quote, a backslash or a control character (stored escaped) cannot be named that way. (PostgreSQL's
    ``->`` takes any key.)"""
    return not any(ch in '"\\' or ord(ch) < 32 or ord(ch) == 127 for ch in key)


class Db(Protocol):
    """The connection a portable family runs its SQL through."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...
    def write(self) -> AbstractContextManager[Any]: ...
    def record_column(self, column: str) -> tuple[str, Callable[[Any], Any] | None]: ...
    def stored_keys(self, names: Iterable[str]) -> dict[str, str]: ...


class SqliteDb:
    """A SQLite store's connection (app.store.connection.StoreConnection) as a ``Db``."""

    dialect: Dialect = SqliteDialect()

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def write(self) -> AbstractContextManager[Any]:
        from app.store.connection import write_transaction

        return write_transaction(self.conn)

    def record_column(self, column: str) -> tuple[str, Callable[[Any], Any] | None]:
        """For a big read of features or context: (the SQL to select, a function turning each value into JSON
        text with names, or None when the value is that already). A coded store's column is decoded in Python
        (app/store/json_keys.py): a third of the cost of ``record_json``'s SQL function called per row; a
        store of names is read as stored."""
        from app.store.json_keys import KeyNames

        names = KeyNames(self.conn)
        return column, (names.text if names.coded else None)

    def stored_keys(self, names: Iterable[str]) -> dict[str, str]:
        """Each feature/context name as rows hold it (a coded store's code: app/store/json_keys.py)."""
        from app.store.json_keys import KeyNames

        return KeyNames(self.conn).stored_keys(names)


def pg_sql(sql: str) -> str:
    """Portable SQL with ``?`` placeholders as psycopg's: ``%`` doubled (the modulo operator), then ``?``
    as ``%s``. Portable SQL holds no ``?`` inside a literal (nor jsonb's ``?`` operator)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgDb:
    """A ``PgStore``'s connection as a ``Db``."""

    dialect: Dialect = PgDialect()

    def __init__(self, store: "PgStore") -> None:
        self._s = store

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._s.run(pg_sql(sql), tuple(params))  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        import psycopg

        from app.store.pg.store import pg_error

        try:
            self._s.pg.cursor().executemany(pg_sql(sql), list(rows))  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise pg_error(exc, self._s.location) from exc

    def write(self) -> AbstractContextManager[Any]:
        return self._s.write()

    def record_column(self, column: str) -> tuple[str, Callable[[Any], Any] | None]:
        return self.dialect.json_text(column), None  # jsonb holds the names

    def stored_keys(self, names: Iterable[str]) -> dict[str, str]:
        return {name: name for name in names}
