"""``model:`` and ``version:`` values resolved against the names a store holds, so no query is a silent
empty answer because a name was short, mistyped or absent.

Each value goes through THE resolver, ``app.catalogue.resolve_name``, with globs and the valid-empty
answer on: an exact name; a glob (``fraud*``, ``v1.?``) standing for every name it matches; a prefix of
exactly one name (with a notice: ``model:fraud means fraud-scorer``); else an error naming the closest
names, or, when nothing is close, a valid query that matches nothing, with a notice saying so
(``no model named 'x'``), answered without reading a row. Pure functions over lists of names: the
caller reads the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from app.catalogue import Resolved, UnknownName, resolve_name as _resolve
from app.search.language import AnyOf, FieldTerm, Query, Term

__all__ = ["Resolution", "Resolved", "UnknownName", "resolve_name", "resolve_query"]


def resolve_name(value: str, names: Iterable[str], what: str) -> Resolved:
    """What ``value`` (typed after ``what:``) stands for among ``names``, as search reads it; ``notice``
    is what to tell the operator (None for an exact name or a glob that matched). Raises UnknownName."""
    return _resolve(value, names, kind=what, globs=True, empty_ok=True)


def notice(result: Resolved, what: str) -> str | None:
    if result.empty:
        return result.empty
    if result.by_prefix:
        return f"{what}:{result.given} means {result.name}"
    return None


@dataclass(frozen=True)
class Resolution:
    query: Query
    notices: tuple[str, ...]


def resolve_query(query: Query, models: Iterable[str], versions: dict[str, list[str]]) -> Resolution:
    """``query`` with every ``model:``/``version:`` value replaced by the names it stands for.

    ``versions`` maps each model to its versions; a ``version:`` value resolves among the versions of
    the query's top-level models when it names any, else among every model's. Raises UnknownName."""
    model_names = list(models)
    notices: list[str] = []
    # Resolve models first: the versions in scope depend on them.
    resolved_models: list[str] = []
    for term in query.terms:
        if isinstance(term, FieldTerm) and term.column == "model" and term.op == "=" and not term.negated:
            resolved_models.extend(resolve_name(str(term.value), model_names, "model").names)
    scope = resolved_models or list(versions)
    version_names = sorted({v for model in scope for v in versions.get(model, [])})

    def one(term: Term) -> Term:
        if isinstance(term, AnyOf):
            return AnyOf(tuple(tuple(one(t) for t in alternative) for alternative in term.alternatives),
                         term.negated)
        if not isinstance(term, FieldTerm) or term.column not in ("model", "version"):
            return term
        names = model_names if term.column == "model" else version_names
        result = resolve_name(str(term.value), names, term.column)
        told = notice(result, term.column)
        if told and told not in notices:
            notices.append(told)
        if len(result.names) == 1:
            return FieldTerm(term.column, term.op, result.names[0], term.negated, term.text)
        # Several names (a glob) or none: one alternative per name; != is "none of them".
        group = AnyOf(tuple((FieldTerm(term.column, "=", name),) for name in result.names))
        return AnyOf(group.alternatives, term.negated != (term.op == "!="), result.empty or "")

    terms = tuple(one(t) for t in query.terms)
    return Resolution(Query(query.text, terms, query.now), tuple(notices))
