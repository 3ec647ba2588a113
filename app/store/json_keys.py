"""JSON keys stored once per store (issue 18 item 5): the one place that encodes and decodes the keys of a row's
``features`` and ``context`` objects (SQLite only; PostgreSQL keeps JSONB with its own compression).

In a coded store a row holds each top-level key as a short code (``{"a":1250.0,"b":"DE"}``); ``json_keys``
maps codes to names. The same dozen keys repeated in every row were half the bytes of the JSON columns
(measured with ``bench/storage.py --what-if``). A store is coded from its creation (``json_keys_state.coded``,
schema step 18); a store that already held rows when it was upgraded keeps names in its rows and every
function here reads and writes it as it is (nothing is rewritten at an upgrade). Callers never see a code:

* writes: ``KeyCodes.encode`` (the bulk writer and ``PredictionsTable.append``) gives a new key the next
  code inside the write's own transaction, so a row is never stored with a code its store does not know;
* whole objects read back through the SQL function ``json_names`` (registered on every store connection),
  given the code table as of the statement: ``names_sql("features")``;
* a search page's rows hold a ``CodedJson`` (``KeyNames.rows``), decoded only when read through ``json_text``
  or ``json_value`` (a page is listed without its features and context);
* one key is found by its code, looked up in SQL once per statement: ``key_path_sql("?")`` takes the
  key's name as the parameter. A name never stored has no code: the path is NULL and so is the value,
  which is what the key's absence reads as.

Codes are letters and digits only, so in a coded store every key, quotes and backslashes in its name
included, is addressable by a plain JSON path. Nested objects keep their keys: real features are flat, and a nested
path still starts with its top-level code. Anything that is not an object (an array, a number, text
that is not JSON) is stored as it came.
"""

from __future__ import annotations

import sqlite3
import string
from typing import Any, Iterable

import orjson

_ALPHABET = string.ascii_letters + string.digits
# The store's flag and a key's name bound to a placeholder, joined once per statement (an uncorrelated subquery).
_KEY_FROM = "FROM json_keys_state AS s, (SELECT {placeholder} AS v) AS n"

# The code table as one JSON object, read once per statement (an uncorrelated subquery), and the other way round.
_CODE_TABLE_SQL = "(SELECT json_group_object(code, name) FROM json_keys)"
_NAME_TABLE_SQL = "(SELECT json_group_object(name, code) FROM json_keys)"


def code_for(n: int) -> str:
    """The ``n``-th code (0 -> ``a``, 61 -> ``9``, 62 -> ``aa`` ...): the first 62 keys cost one byte."""
    code = ""
    while True:
        code = _ALPHABET[n % 62] + code
        n = n // 62 - 1
        if n < 0:
            return code


def key_path_sql(placeholder: str = "?") -> str:
    """SQL for the JSON path of one top-level key, its name bound to ``placeholder``: its code's path in a coded
    store (NULL if never stored), ``$."name"`` in a store of names (NULL for a name holding a double quote, which
    no path can name: ``key_code_sql`` finds it through ``json_each``)."""
    return ("(SELECT CASE WHEN s.coded THEN (SELECT '$.' || code FROM json_keys WHERE name = n.v) "
            """WHEN instr(n.v, '"') = 0 THEN '$."' || n.v || '"' END """ + _KEY_FROM.format(placeholder=placeholder)
            + ")")


def key_code_sql(placeholder: str = "?") -> str:
    """SQL for one top-level key as rows hold it (``json_each``'s key), its name bound to ``placeholder``:
    its code in a coded store (NULL if never stored), the name itself in a store of names."""
    return ("(SELECT CASE WHEN s.coded THEN (SELECT code FROM json_keys WHERE name = n.v) ELSE n.v END "
            + _KEY_FROM.format(placeholder=placeholder) + ")")


def is_coded(conn: sqlite3.Connection) -> bool:
    """Whether the store's rows hold codes (created coded); False for a store of names, or one held at a schema
    before step 18 (tests of migrations)."""
    try:
        row = conn.execute("SELECT coded FROM json_keys_state").fetchone()
    except sqlite3.OperationalError:
        return False
    return bool(row and row[0])


def names_sql(column: str) -> str:
    """SQL reading ``column`` (features or context) back as JSON text with its keys' real names."""
    return f"json_names({column}, {_CODE_TABLE_SQL})"


def key_name_sql(code: str) -> str:
    """SQL for the name of the key whose code is the expression ``code`` (itself when not a code)."""
    return f"coalesce((SELECT name FROM json_keys WHERE code = {code}), {code})"


def _decoded_value(text: str, table: dict[str, str]) -> Any:
    """A stored JSON object (``text`` starts with ``{``) as a Python value with its top-level codes read back as
    names; a key with no entry (not a code) keeps its text. Raises orjson.JSONDecodeError for text that is not
    JSON."""
    value = orjson.loads(text)
    if value.__class__ is dict:
        return {table.get(key, key): inner for key, inner in value.items()}
    return value


def _decoded(text: Any, table: dict[str, str]) -> Any:
    """``text`` with its top-level codes replaced by names. A key with no entry (not written by this module)
    keeps its text, and anything that is not a JSON object comes back as it is: nothing is lost."""
    if text.__class__ is not str or text[:1] != "{":
        return text
    try:
        return orjson.dumps(_decoded_value(text, table)).decode()  # only the keys change: values as orjson read them
    except orjson.JSONDecodeError:
        return text


class CodedJson:
    """A coded store's features or context as a search page holds it: the stored text and the code table it
    is read back with, decoded only when asked (``json_text``, ``json_value``). A page's rows are listed
    without their features and context (the Logs list, a table of results): decoding all of them per page
    doubled its cost. The table is a snapshot read after the rows (so it has every code they hold) and never
    changed, so this may be read on any thread, after the store is closed."""

    __slots__ = ("stored", "_table")

    def __init__(self, stored: str, table: dict[str, str]) -> None:
        self.stored = stored
        self._table = table

    @property
    def text(self) -> str:
        """The JSON text with names, as it was logged."""
        return _decoded(self.stored, self._table)

    def value(self) -> Any:
        """The decoded value with names (orjson.JSONDecodeError if the stored text is not JSON)."""
        return _decoded_value(self.stored, self._table) if self.stored[:1] == "{" else orjson.loads(self.stored)

    def __eq__(self, other: object) -> bool:
        # The same stored text is the same value: codes are never reused or changed within a store.
        return other.__class__ is CodedJson and other.stored == self.stored  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"CodedJson({self.text!r})"


def json_text(value: Any) -> Any:
    """A row's features or context as JSON text with names (a search page's ``CodedJson`` decoded; text, None and
    anything else as it is): the one way a reader of search rows gets the text a user sees."""
    return value.text if value.__class__ is CodedJson else value


def json_value(value: Any) -> Any:
    """A row's features or context (JSON text or a ``CodedJson``) as a Python value with names; None stays None."""
    if value.__class__ is CodedJson:
        return value.value()
    return None if value is None else orjson.loads(value)


class _Names:
    """``json_names(text, table)``: the function SQLite calls per row. The code table arrives as JSON text,
    the same for every row of a statement, so it is parsed once per change of text."""

    def __init__(self) -> None:
        self._table_text: str | None = None
        self._table: dict[str, str] = {}

    def __call__(self, text: Any, table_text: Any) -> Any:
        if table_text != self._table_text:
            self._table = orjson.loads(table_text) if table_text else {}
            self._table_text = table_text
        return _decoded(text, self._table) if self._table else text  # a store of names: as stored


class KeyNames:
    """Reads a coded store's rows back with names. Codes are never reused or changed, and only ever added, so a
    table holding as many codes as ``json_keys`` is the whole table: it is read again only when that count
    grows. A store of names is read as it is (one check at construction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.coded = is_coded(conn)
        self._table: dict[str, str] = {}  # replaced, never changed: a CodedJson holds it

    def stored_keys(self, names: Iterable[str]) -> dict[str, str]:
        """Each name as rows hold it, for a reader that picks values out of the stored JSON by key without
        decoding it (drift windows): its code in a coded store, the name in a store of names. A name with no
        code maps to a key no row holds."""
        if not self.coded:
            return {name: name for name in names}
        codes = {name: code for code, name in self._conn.execute("SELECT code, name FROM json_keys")}
        return {name: codes.get(name, "\x00" + name) for name in names}

    def table(self) -> dict[str, str]:
        """The code table, complete for every row read before this call (one count of a few dozen keys)."""
        if self._conn.execute("SELECT count(*) FROM json_keys").fetchone()[0] != len(self._table):
            self._table = dict(self._conn.execute("SELECT code, name FROM json_keys"))
        return self._table

    def rows(self, rows: list[dict[str, Any]]) -> None:
        """A search page's rows (dicts with features and context as stored), their features and context made
        ``CodedJson`` in place: decoded when read, not per listed row. Call after the rows are read."""
        if not self.coded or not rows:
            return
        table = self.table()
        for row in rows:
            features, context = row["features"], row["context"]
            if features is not None:
                row["features"] = CodedJson(features, table)
            if context is not None:
                row["context"] = CodedJson(context, table)

    def text(self, text: Any) -> Any:
        """A stored features/context value read back as JSON text with names (anything else as it is), for a
        big read decoding every row (serving, a day's rows)."""
        if not self.coded or text.__class__ is not str or text[:1] != "{":
            return text
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if value.__class__ is not dict:
            return text
        try:  # only the keys change: the values are written back as orjson read them
            return orjson.dumps({self._table[key]: inner for key, inner in value.items()}).decode()
        except KeyError:  # a code added since the table was read (or not a code: kept as it is)
            table = self.table()
            return orjson.dumps({table.get(key, key): inner for key, inner in value.items()}).decode()


def register(conn: sqlite3.Connection) -> None:
    """Make ``json_names`` available on ``conn`` (every store connection, read-only ones too)."""
    conn.create_function("json_names", 2, _Names(), deterministic=True)


class KeyCodes:
    """The code of each key a writer has seen, loaded from ``json_keys`` and extended in the writer's
    transaction. Call ``refresh`` at the start of each transaction: another process may have added codes,
    and a rolled-back transaction takes back the codes it handed out (so the table is compared whole:
    a count could match while the codes differ)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._codes: dict[str, str] = {}
        self._table_text: str | None = None
        # A store of names (it held rows before step 18, or is held at an older schema) is written with names.
        self._names_as_they_are = not is_coded(conn)
        self.refresh()

    def refresh(self) -> None:
        """Hold the table as it is now (one small read: a few dozen keys)."""
        if self._names_as_they_are:
            return
        text = self._conn.execute(f"SELECT {_NAME_TABLE_SQL}").fetchone()[0]
        if text != self._table_text:
            self._codes = orjson.loads(text) if text else {}
            self._table_text = text

    def forget(self) -> None:
        """Drop what is held (after a rollback): the next ``refresh`` reads the table again."""
        self._codes, self._table_text = {}, None

    def encode(self, text: str | None) -> str | None:
        """``text`` (a JSON object from ingest) with its top-level keys as codes; anything else as it came."""
        if text is None or not text.startswith("{") or self._names_as_they_are:
            return text
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        codes = self._codes
        try:
            coded = {codes[key]: inner for key, inner in value.items()}
        except KeyError:
            self._add([key for key in value if key not in codes])
            codes = self._codes
            coded = {codes[key]: inner for key, inner in value.items()}
        return orjson.dumps(coded).decode()

    def path(self, name: str) -> str:
        """The JSON path rows hold ``name`` under, given a code now if it has none (an indexed feature not
        logged yet); ``$."name"`` in a store of names."""
        if self._names_as_they_are:
            return '$."' + name + '"'
        if name not in self._codes:
            self._add([name])
        return "$." + self._codes[name]

    def _add(self, names: list[str]) -> None:
        # Read the table again first, under the write lock: another writer may have coded these names.
        self.forget()
        self.refresh()
        self._table_text = None  # changed below: read again by the next refresh
        for name in dict.fromkeys(names):
            if name not in self._codes:
                code = code_for(len(self._codes))
                self._conn.execute("INSERT INTO json_keys (code, name) VALUES (?, ?)", (code, name))
                self._codes[name] = code
