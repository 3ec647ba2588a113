"""Which versions of a model actually served, and which one a rollback should go back to.

"Served" means served *as the active version*: a challenger or shadow version answers live
requests too, but nobody relied on those answers, so its rows in the prediction log are not
evidence that it can take the traffic. The evidence is, newest first:

- the audit trail: a succeeded rollback or promotion ``from`` X means X served until then, ``to``
  X means X served from then on;
- the prediction log, for versions the registry does not list as challenger, shadow or candidate.

The same answer is used by the rollback modal (its default target) and by the readiness check
(the version it names as the way back), so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Protocol

from app.models import Stage

if TYPE_CHECKING:
    from app.store import Store

# Stages whose predictions are not evidence of having served as the active version.
_NOT_LIVE = {Stage.challenger.value, Stage.shadow.value, Stage.candidate.value}
_SWITCHES = ("rollback", "promote")


@dataclass(frozen=True)
class ServingHistory:
    last_active: dict[str, int] = field(default_factory=dict)  # version -> last ms it served as active
    # version -> ms of the newest rollback away, unless a later rollback or promotion went back to it
    rolled_back_from: dict[str, int] = field(default_factory=dict)


class Candidate(Protocol):
    """What the choice looks at (app.rollback.actions.Target has it)."""

    version: str
    created_at: int | None
    last_active_at: int | None
    rolled_back_from_at: int | None


def _switches(store: "Store", model: str) -> list[tuple[int, str, dict]]:
    """(ts, action, detail) of every succeeded rollback or promotion of ``model``, oldest first."""
    import orjson

    out = []
    for ts, action, detail in store.audit.succeeded(model, _SWITCHES):
        try:
            parsed = orjson.loads(detail) if detail else {}
        except orjson.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            out.append((ts, action, parsed))
    return out


def version_at(store: "Store", model: str, at: int) -> str | None:
    """The version that served at ``at`` by the audit trail: the target of the last succeeded rollback or
    promotion by then, else the source of the first one after it; None when the audit never switched it."""
    switches = _switches(store, model)
    before = [d.get("to") for ts, _, d in switches if ts <= at]
    if before and isinstance(before[-1], str):
        return before[-1]
    after = [d.get("from") for ts, _, d in switches if ts > at]
    return after[0] if after and isinstance(after[0], str) else None


def serving_history(store: "Store", model: str, versions: Iterable[tuple[str, str | None]]) -> ServingHistory:
    """``versions``: (version, stage or None when the store does not know it)."""
    last: dict[str, int] = {}
    back_from: dict[str, int] = {}

    def saw(version: object, ts: int) -> None:
        if isinstance(version, str) and version:
            last[version] = max(last.get(version, ts), ts)

    for ts, action, detail in _switches(store, model):
        saw(detail.get("from"), ts)
        saw(detail.get("to"), ts)
        source = detail.get("from")
        # A drill's steps (app/checklist/drill.py: reason "drill: ...") flee nothing: the fallback worked.
        drill = str(detail.get("reason", "")).startswith("drill")
        if action == "rollback" and not drill and isinstance(source, str) and source:
            back_from[source] = max(back_from.get(source, ts), ts)
        # Traffic sent back to a version later (oldest first here) supersedes fleeing it: the mark
        # would otherwise call the version serving fine today "rolled back" for ever.
        target = detail.get("to")
        if isinstance(target, str):
            back_from.pop(target, None)
    for version, stage in versions:
        if stage in _NOT_LIVE:
            continue
        newest = store.serving.newest_ts(model, version)
        if newest is not None:
            saw(version, newest)
    return ServingHistory(last_active=last, rolled_back_from=back_from)


def choose_default(candidates: list[Candidate], active: Candidate | None = None) -> Candidate | None:
    """The last known-good version, where a rollback should start: among the versions no rollback moved
    traffic away from, the one that served (as the active one) most recently; when none of them ever
    served, the newest created before the active one, else the newest. A version a rollback fled is the
    default only when it is the only candidate (the modal marks it); a version that never served is never
    preferred over one that did, among the trusted ones."""
    if not candidates:
        return None
    # A version traffic was rolled back away from is a known-bad target: an operator in a hurry who
    # accepts the default must never send traffic back to the last incident's version.
    trusted = [t for t in candidates if t.rolled_back_from_at is None] or candidates
    served = [t for t in trusted if t.last_active_at is not None]
    if served:
        return max(served, key=lambda t: t.last_active_at or 0)
    # None served in the log's time span: an archived (once live) version before a challenger or shadow.
    trusted = [t for t in trusted if getattr(t, "stage", None) not in _NOT_LIVE] or trusted
    if active is not None and active.created_at is not None:
        older = [t for t in trusted if t.created_at is not None and t.created_at < active.created_at]
        if older:
            return max(older, key=lambda t: t.created_at or 0)
    return max(trusted, key=lambda t: t.created_at or 0)


@dataclass(frozen=True)
class WayBack:
    """A version a rollback can return to, with why it qualifies."""

    version: str
    stage: str | None
    created_at: int | None
    last_active_at: int | None
    rolled_back_from_at: int | None


def way_back(store: "Store", model: str, versions: Iterable[tuple[str, str | None, int | None]],
             active: str) -> WayBack | None:
    """The previous champion a rollback of ``model`` would return to (what the readiness check
    names): among the versions that served as the active one or are archived (a demoted champion),
    the one that served most recently, else the newest archived one. A challenger or shadow version
    that never served is not a way back. ``versions``: (version, stage, created_at)."""
    others = [(v, stage, created) for v, stage, created in versions if v != active]
    history = serving_history(store, model, [(v, stage) for v, stage, _ in others])
    eligible = [WayBack(v, stage, created, history.last_active.get(v), history.rolled_back_from.get(v))
                for v, stage, created in others
                if v in history.last_active or stage == Stage.archived.value]
    return choose_default(eligible)  # type: ignore[arg-type,return-value]
