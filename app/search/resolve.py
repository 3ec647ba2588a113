"""``model:`` and ``version:`` values resolved against the names a store holds, so no query is a silent
empty answer because a name was short, mistyped or absent.

    resolve_name("fraud", ["fraud-scorer", "churn-predictor"], "model")
      -> Resolved(("fraud-scorer",), "model:fraud means fraud-scorer")

A value is, in order: an exact name; a glob (``fraud*``, ``v1.?``) standing for every name it
matches; a prefix of exactly one name (with a notice); else an error naming the closest names
(difflib), or, when nothing is close, a valid query that matches nothing, with a notice saying
so (``no model named 'x'``). Pure functions over lists of names: the caller reads the names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Iterable, Sequence

from app.search.language import AnyOf, FieldTerm, Query, Term

_GLOB_CHARS = set("*?[")
SHOWN = 5  # names listed in a message


class UnknownName(ValueError):
    """A name that is neither exact, a glob, nor a unique prefix, but close to known names:
    most likely a typo. The message names the closest ones."""


@dataclass(frozen=True)
class Resolved:
    names: tuple[str, ...]  # what the value stands for; empty: nothing in the store
    notice: str | None  # told to the operator (a prefix expanded, a glob or name matching nothing)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def resolve_name(value: str, names: Iterable[str], what: str) -> Resolved:
    """What ``value`` (typed after ``what:``) stands for among ``names``. Raises UnknownName for a
    likely typo or an ambiguous prefix."""
    known = sorted(set(names))
    if value in known:
        return Resolved((value,), None)
    if _GLOB_CHARS & set(value):
        matched = tuple(n for n in known if fnmatchcase(n, value))
        if matched:
            return Resolved(matched, None)
        return Resolved((), f"no {what} matches {value!r}")
    starting = [n for n in known if n.startswith(value)]
    if len(starting) == 1:
        return Resolved((starting[0],), f"{what}:{value} means {starting[0]}")
    if starting:
        raise UnknownName(f"{what}:{value} could be {_listing(starting)} (type more, or {what}:{value}* for all)")
    close = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
    if close:
        raise UnknownName(f"no {what} named {value!r}; did you mean {' or '.join(close)}?")
    return Resolved((), f"no {what} named {value!r}")


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
        if result.notice and result.notice not in notices:
            notices.append(result.notice)
        if len(result.names) == 1:
            return FieldTerm(term.column, term.op, result.names[0], term.negated, term.text)
        # Several names (a glob) or none: one alternative per name; != is "none of them".
        group = AnyOf(tuple((FieldTerm(term.column, "=", name),) for name in result.names))
        return AnyOf(group.alternatives, term.negated != (term.op == "!="))

    terms = tuple(one(t) for t in query.terms)
    return Resolution(Query(query.text, terms, query.now), tuple(notices))
