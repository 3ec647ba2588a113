"""The query AST -> parameterised SQL over ``predictions`` (+ the FTS5 table), SQLite dialect.

Pure text building, no connection: ``app.store.search`` runs what this compiles. A second backend
(PostgreSQL) gets its own compiler beside this one; the language (``app.search.language``) stays.

Values only ever travel as ``?`` parameters; the SQL text is built from a fixed vocabulary of
column names chosen here (a user's field name selects one, it is never copied in). Feature and
context names are passed as parameters too, each looked up as rows hold it (a coded store's code, or
the name: app/store/json_keys.py), or, for features declared in
``settings.search.indexed_features``, the name of a generated column derived by a hash.

Comparison semantics (SQLite dynamic typing made predictable):
- ``=`` on a value typed as a number matches the number and the same text as typed
  (``features.zip=01234`` finds 1234 and "01234"); ``!=`` needs the field present.
- ``>``/``<`` compare numbers with numbers and text with text, never across.
- ``-term`` keeps every row the term does not match, including rows without the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal, Sequence

from app.search.language import AnyOf, FieldTerm, JsonTerm, PairTerm, Query, Term, TextTerm, TimeTerm, Value
from app.store.json_keys import key_code_sql, key_path_sql

FTS_TABLE = "predictions_fts"
GENERATED_PREFIX = "xf_"


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause (without the keyword; "1" when empty) and its parameters."""

    where: str
    params: tuple[object, ...]


def feature_column(name: str) -> str:
    """The generated column for an indexed feature: readable, and unique by a short hash."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name)[:40].strip("_").lower()
    return f"{GENERATED_PREFIX}{slug}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def fts_phrase(text: str) -> str:
    """One FTS5 string token: everything inside is literal (``*``, ``NEAR``, ``AND``, ``:``); the
    tokenizer splits it into words, which then match as a phrase (in sequence)."""
    return '"' + text.replace('"', '""') + '"'


def fts_term(term: TextTerm) -> str:
    """A free-text term as FTS5 syntax: its phrase, the last word a prefix for ``word*``."""
    return fts_phrase(term.phrase) + (" *" if term.prefix else "")


TextPlan = Literal["drive", "scan", "probe"]


def text_expressions(query: Query) -> tuple[str | None, str | None]:
    """The FTS5 MATCH expressions of a query's free text: (positive, negative-only).

    Positive phrases AND together, with any negated ones folded in as ``NOT``; negated phrases
    alone (nothing positive to subtract them from) come back as the second element.
    """
    positive = [fts_term(t) for t in query.terms if isinstance(t, TextTerm) and not t.negated]
    negative = [fts_term(t) for t in query.terms if isinstance(t, TextTerm) and t.negated]
    if positive:
        expression = " AND ".join(positive)
        if negative:
            expression = f"({expression}) NOT ({' OR '.join(negative)})"
        return expression, None
    if negative:
        return None, " OR ".join(negative)
    return None, None


# How the free-text condition joins the rest (chosen by Searcher from how common the text is):
#   drive: fetch the FTS matches, then the rows, then sort; best when matches are few.
#   scan:  walk the rows newest first and probe a set built from the matches; middling.
#   probe: walk the rows newest first and ask FTS about each row; best for common words.
_TEXT_SQL: dict[str, tuple[str, str]] = {
    "drive": (f"id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)",
              f"id NOT IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"),
    # Unary plus: keep the planner from turning the IN list into the driving loop.
    "scan": (f"+id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)",
             f"+id NOT IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"),
    "probe": (f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid = predictions.id)",
              f"NOT EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid = predictions.id)"),
}


def compile_query(query: Query, *, generated: frozenset[str] = frozenset(),
                  text_plan: TextPlan = "drive") -> Compiled:
    parts: list[str] = []
    params: list[object] = []
    for term in query.terms:
        if isinstance(term, TextTerm):
            continue
        sql, values = _negatable(term, generated)
        parts.append(sql)
        params.extend(values)
    # Free text last: SQLite tests AND terms in order, and the cheap column tests should go first.
    positive, negative = text_expressions(query)
    if positive is not None:
        parts.append(_TEXT_SQL[text_plan][0])
        params.append(positive)
    elif negative is not None:
        parts.append(_TEXT_SQL[text_plan][1])
        params.append(negative)
    return Compiled(" AND ".join(parts) if parts else "1", tuple(params))


def _negatable(term: Term, generated: frozenset[str]) -> tuple[str, list[object]]:
    sql, values = _term(term, generated)
    if term.negated:
        # NOT of NULL is NULL: coalesce so rows without the field count as "not matching".
        sql = f"NOT coalesce(({sql}), 0)"
    return sql, values


def _any_of(term: AnyOf, generated: frozenset[str]) -> tuple[str, list[object]]:
    """``(a AND b) OR (c)``; free text inside a group is its own FTS lookup (drive plan)."""
    if not term.alternatives:
        return "0", []
    if _one_column(term):
        # model:a OR model:b (a glob's names): one IN list, which the planner seeks as a set.
        values = [a[0].value for a in term.alternatives]  # type: ignore[union-attr]
        column = term.alternatives[0][0].column  # type: ignore[union-attr]
        return f"{_COLUMNS[column]} IN ({', '.join('?' * len(values))})", values
    ors: list[str] = []
    params: list[object] = []
    for alternative in term.alternatives:
        ands: list[str] = []
        for inner in alternative:
            if isinstance(inner, TextTerm):
                ands.append(_TEXT_SQL["drive"][1 if inner.negated else 0])
                params.append(fts_term(inner))
                continue
            sql, values = _negatable(inner, generated)
            ands.append(sql)
            params.extend(values)
        ors.append("(" + " AND ".join(ands) + ")" if ands else "1")
    return "(" + " OR ".join(ors) + ")", params


def _one_column(term: AnyOf) -> bool:
    """``model:a OR model:b``: every alternative is one value of the same plain column."""
    first = term.alternatives[0][0] if term.alternatives and term.alternatives[0] else None
    return isinstance(first, FieldTerm) and first.column in _PLAIN_COLUMNS and all(
        len(a) == 1 and isinstance(a[0], FieldTerm) and a[0].column == first.column and a[0].op == "="
        and not a[0].negated for a in term.alternatives)


def _term(term: Term, generated: frozenset[str]) -> tuple[str, list[object]]:
    if isinstance(term, AnyOf):
        return _any_of(term, generated)
    if isinstance(term, TextTerm):  # only inside a group; top-level text is planned by the caller
        raise ValueError("free text is compiled by compile_query")
    if isinstance(term, PairTerm):
        return _pair(term)
    if isinstance(term, TimeTerm):
        return ("ts >= ?" if term.bound == "since" else "ts < ?"), [term.at]
    if isinstance(term, JsonTerm):
        expr, expr_params = _json_expr(term, generated)
        return _dynamic(expr, expr_params, term.op, term.value, term.text)
    column = _COLUMNS[term.column]
    if term.column in ("prediction", "label"):
        return _dynamic(column, [], term.op, term.value, term.text)
    return f"{column} {term.op} ?", [term.value]


# Columns compared as they are stored (no number-or-text reading): an OR of their values is an IN list.
_PLAIN_COLUMNS = ("request_id", "entity_id", "model", "version", "status")

# The only column names that reach SQL text.
_COLUMNS = {name: name for name in ("request_id", "entity_id", "model", "version", "status", "score",
                                    "latency_ms", "prediction", "label")}


def _json_expr(term: JsonTerm, generated: frozenset[str]) -> tuple[str, list[object]]:
    column = "features" if term.column == "features" else "context"
    if column == "features":
        indexed = feature_column(term.key)
        if indexed in generated:
            return f'"{indexed}"', []
    if '"' in term.key:
        # A JSON path cannot hold a double quote: look the key up as rows hold it (its code in a coded store).
        return f"(SELECT value FROM json_each({column}) WHERE key = {key_code_sql()})", [term.key]
    # The key's path as rows hold it (its code in a coded store: app/store/json_keys.py), found once per statement.
    return f"json_extract({column}, {key_path_sql()})", [term.key]


def _pair(term: PairTerm) -> tuple[str, list[object]]:
    """The twin answer, looked up through the unique (model, version, request_id) index."""
    key, params = "predictions.request_id", []
    if term.key is not None:
        key, params = (f"coalesce(json_extract(predictions.context, {key_path_sql()}), predictions.request_id)",
                       [term.key])
    return (f"predictions.status = 'ok' AND EXISTS (SELECT 1 FROM predictions AS twin WHERE "
            f"twin.model = predictions.model AND twin.version = ? AND twin.request_id = {key} "
            f"AND twin.status = 'ok' AND twin.prediction IS NOT predictions.prediction)", [term.version, *params])


def _dynamic(expr: str, expr_params: list[object], op: str, value: Value,
             text: str | None) -> tuple[str, list[object]]:
    """A comparison on a column holding numbers or text (see the module docstring)."""
    if op in ("=", "!="):
        candidates: list[object] = [value]
        if text is not None and text != value:
            candidates.append(text)
        keyword = "IN" if op == "=" else "NOT IN"
        marks = ", ".join("?" * len(candidates))
        return f"{expr} {keyword} ({marks})", [*expr_params, *candidates]
    if isinstance(value, str):
        if op in (">", ">="):
            return f"{expr} {op} ?", [*expr_params, value]  # only text sorts above text
        return f"{expr} {op} ? AND {expr} >= ''", [*expr_params, value, *expr_params]
    if op in (">", ">="):
        # Every text value sorts above every number in SQLite: keep the range numeric.
        return f"{expr} {op} ? AND {expr} < ''", [*expr_params, value, *expr_params]
    return f"{expr} {op} ?", [*expr_params, value]


# Columns whose index finds a value's rows at once: (model, ts) and (entity_id, ts) in (ts, id) order,
# (request_id, ...) a handful of rows. An OR of alternatives each naming one is read as one index seek per
# alternative (``union_branches``), not as every row of each alternative sorted together.
_SEEKABLE = ("model", "entity_id", "request_id")


def union_branches(query: Query, *, generated: frozenset[str] = frozenset(),
                   text_plan: TextPlan = "drive") -> list[Compiled] | None:
    """A query whose first top-level OR has alternatives that each name a model, entity or request
    (``status:error (model:a OR entity:x)``), as one WHERE per alternative: the other terms AND that
    alternative. Their rows together are the query's. None for any other query, and for an OR of one
    column's values (``model:a OR model:b``: an IN list, which SQLite already seeks value by value)."""
    for k, term in enumerate(query.terms):
        if not isinstance(term, AnyOf) or term.negated:
            continue
        if len(term.alternatives) < 2 or _one_column(term) or not all(
                any(_seeks(t) for t in alternative) for alternative in term.alternatives):
            return None
        rest = query.terms[:k] + query.terms[k + 1:]
        return [compile_query(Query(query.text, rest + alternative, query.now), generated=generated,
                              text_plan=text_plan) for alternative in term.alternatives]
    return None


def _seeks(term: Term) -> bool:
    return isinstance(term, FieldTerm) and term.column in _SEEKABLE and term.op == "=" and not term.negated


def union_sql(columns: Sequence[str], branches: Sequence[Compiled], *, keyset: str | None,
              newest_first: bool) -> str:
    """The page of a query read as ``union_branches``: each branch a page of its own through its index,
    the union (a row matching two alternatives counted once) cut to one page. Parameters: each branch's,
    its keyset bound and its ``LIMIT ?`` in turn, then the page's ``LIMIT ?``."""
    order = "DESC" if newest_first else "ASC"
    names = ", ".join(columns)
    arms = [f"SELECT {names} FROM ({select_sql(columns, branch, keyset=keyset, newest_first=newest_first)})"
            for branch in branches]
    return f"{' UNION '.join(arms)} ORDER BY ts {order}, id {order} LIMIT ?"


def select_sql(columns: Sequence[str], compiled: Compiled, *, keyset: str | None, newest_first: bool,
               index: str | None = None) -> str:
    """The page query: filters, an optional keyset bound, newest (or oldest) first, ``LIMIT ?``; ``index``
    (an indexed feature's index, a name chosen by the store) makes SQLite read through it."""
    order = "DESC" if newest_first else "ASC"
    where = compiled.where if not keyset else f"({compiled.where}) AND {keyset}"
    source = f'predictions INDEXED BY "{index}"' if index else "predictions"
    return (f"SELECT {', '.join(columns)} FROM {source} WHERE {where} "
            f"ORDER BY ts {order}, id {order} LIMIT ?")
