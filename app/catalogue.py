"""THE resolver of model and version names (issue 13): one answer for every command and screen.

A name resolves to the exact name, else to the one name it is a prefix of (the caller says so:
``fraud -> fraud-scorer``), else it is an error whose one-line message names the closest names
(``unknown model 'fruad'; did you mean fraud-scorer?``). Versions resolve the same way among one
model's versions.

``resolve_name`` is pure (a given text and a list of names): the search language, the console and
the CLI call it with the names they hold. Search asks for two more things (issue 18 folded its own copy
of this logic in here): ``globs`` (``fraud*`` stands for every name it matches) and ``empty_ok`` (a name
nothing is close to is a valid query that matches nothing, told as ``no model named 'x'``, instead of an
error: a name the store has never seen is answered from the names at once, no rows are read). ``resolve_model`` / ``resolve_version`` are the
store-backed wrappers. Names come from logs and registries (untrusted): messages clean them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Iterable

from app.text import clean_name

if TYPE_CHECKING:
    from app.store import Store

__all__ = ["Resolved", "UnknownName", "resolve_name", "unknown_message", "resolve_model", "resolve_version"]

# How many close names an error lists, and how close they must be (difflib's ratio).
CLOSEST = 3
CUTOFF = 0.5
# Without a close name, how many known names an error lists.
KNOWN_SHOWN = 6


class UnknownName(ValueError):
    """A name that matches nothing, or a prefix of several names; the message is one line."""

    def __init__(self, message: str, *, kind: str, given: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.given = given
        self.candidates = candidates  # the closest (or the ambiguous) names, best first


_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Resolved:
    name: str  # the one name; "" when a glob or an empty answer stands for several or none
    given: str
    names: tuple[str, ...] = field(default=())  # every name the value stands for (empty: none in the store)
    empty: str | None = None  # why a valid value stands for no name: "no model named 'x'"
    glob: bool = False

    def __post_init__(self) -> None:
        if self.name and not self.names:
            object.__setattr__(self, "names", (self.name,))

    @property
    def by_prefix(self) -> bool:
        return bool(self.name) and not self.glob and self.name != self.given

    @property
    def notice(self) -> str | None:
        """``fraud -> fraud-scorer`` when the name was completed from a prefix (say it), else None."""
        return f"{clean_name(self.given)} -> {clean_name(self.name)}" if self.by_prefix else None


def unknown_message(kind: str, given: str, names: Iterable[str], *, scope: str | None = None) -> str:
    """The one line for a name that matches nothing: the closest names, else the known ones."""
    names = sorted(set(names))
    what = f"unknown {kind} {clean_name(given)!r}" + (f" of {clean_name(scope)}" if scope else "")
    close = difflib.get_close_matches(given, names, n=CLOSEST, cutoff=CUTOFF)
    if not close:  # case or separators differ ("Fraud_Scorer"): compare folded names too
        folded = {name.lower().replace("_", "-"): name for name in names}
        close = [folded[n] for n in difflib.get_close_matches(given.lower().replace("_", "-"), list(folded),
                                                              n=CLOSEST, cutoff=CUTOFF)]
    if close:
        return f"{what}; did you mean {' or '.join(clean_name(n) for n in close)}?"
    if not names:
        return f"{what} (no {kind}s{' of it' if scope else ''} in this store)"
    shown = ", ".join(clean_name(n) for n in names[:KNOWN_SHOWN])
    return f"{what} (known: {shown}{', ...' if len(names) > KNOWN_SHOWN else ''})"


def _folded_close(given: str, names: list[str]) -> bool:
    """A close name once case and separators are folded ("Fraud_Scorer"), as unknown_message compares."""
    folded = [name.lower().replace("_", "-") for name in names]
    return bool(difflib.get_close_matches(given.lower().replace("_", "-"), folded, n=1, cutoff=CUTOFF))


def resolve_name(given: str, names: Iterable[str], *, kind: str = "model", scope: str | None = None,
                 globs: bool = False, empty_ok: bool = False) -> Resolved:
    """Exact name, else (``globs``) every name a glob matches, else the unique name ``given`` is a prefix
    of; else UnknownName (one line), or with ``empty_ok`` and no close name, a Resolved standing for no
    name with its ``empty`` notice.

    Pure: ``names`` are the known names (a model's versions for kind="version", with ``scope`` the model).
    """
    given = given.strip()
    names = list(names)
    if given in names:
        return Resolved(given, given)
    if globs and _GLOB_CHARS & set(given):
        matched = tuple(sorted(n for n in set(names) if fnmatchcase(n, given)))
        return Resolved(matched[0] if len(matched) == 1 else "", given, matched, glob=True,
                        empty=None if matched else f"no {kind} matches {clean_name(given)!r}")
    if given:
        matches = sorted(name for name in names if name.startswith(given))
        if not matches:  # a prefix typed in another case ("Fraud")
            matches = sorted(name for name in names if name.lower().startswith(given.lower()))
        if len(matches) == 1:
            return Resolved(matches[0], given)
        if matches:
            shown = ", ".join(clean_name(n) for n in matches[:KNOWN_SHOWN])
            more = ", ..." if len(matches) > KNOWN_SHOWN else ""
            raise UnknownName(f"{kind} {clean_name(given)!r} is a prefix of {len(matches)}"
                              f"{' versions of ' + clean_name(scope) if scope else ''}: "
                              f"{shown}{more}; say which" + (f" (or {kind}:{clean_name(given)}* for all)" if globs
                                                            else ""), kind=kind, given=given, candidates=matches)
    close = difflib.get_close_matches(given, names, n=CLOSEST, cutoff=CUTOFF)
    if empty_ok and not close and not _folded_close(given, names):
        return Resolved("", given, (), empty=f"no {kind} named {clean_name(given)!r}")
    raise UnknownName(unknown_message(kind, given, names, scope=scope), kind=kind, given=given, candidates=close)


def resolve_model(store: "Store", given: str) -> Resolved:
    """``resolve_name`` over every model the store knows (logged, synced, the demo's)."""
    return resolve_name(given, store.registry.names(), kind="model")


def resolve_version(store: "Store", model: str, given: str) -> Resolved:
    """``resolve_name`` over ``model``'s versions (``model`` already resolved)."""
    return resolve_name(given, store.registry.version_names(model), kind="version", scope=model)
