"""The production-readiness checklist: the eight areas, their automatic checks, and manual changes.

``evaluate`` runs the automatic rule of every area (app/checklist/rules.py) and stores the result.
People change items by signing off, waiving (with a reason), marking an area passed (with
evidence) and reopening; each change is written to the audit trail in the same transaction.

Precedence when ``evaluate`` meets a manual status:

* **waived** always stands until someone reopens the area. The item's evidence is refreshed with
  what the automatic check now finds (so the waiver shows what it is waiving); the reason stays in
  ``note`` and ``updated_by``/``updated_at`` keep naming who waived it and when.
* a **manual pass** stands while the automatic check passes or has no facts (pending), and is
  overridden only by a hard failure (the check's status ``fail``): the item becomes automatic and
  failing, its note says whose pass was overridden, and an audit entry ``checklist.override`` is written.
* anything else (automatic items, reopened items, a manual fail or pending) follows the automatic check.

``updated_by``/``updated_at`` of an automatic item change only when its status changes, so "updated"
reads as "in this state since", not "last evaluated".
"""

from __future__ import annotations

from typing import Any

from app.checklist.areas import READINESS_AREAS
from app.checklist.rules import RULES, SIGNOFF_ROLES, CheckContext, Finding, check_signoff, required_roles
from app.models import CheckItem, CheckStatus, Health, SignOff, Stage
from app.store import StoreBusy, StoreReadOnly
from app.store.identity import current_actor
from app.timeutil import now_ms

__all__ = ["AUTO_ACTOR", "ChecklistError", "UnknownModel", "unknown_model_message", "SIGNOFF_ROLES", "evaluate", "stored_items", "sign_off",
           "waive", "mark_passed", "reopen", "readiness_score", "is_ready", "merge", "required_roles"]

# updated_by of changes made by the automatic checks rather than a person.
AUTO_ACTOR = "modeldeck"


class ChecklistError(ValueError):
    """A checklist change that cannot be made; the message is one line for the operator."""


class UnknownModel(ChecklistError):
    pass


def _context(store: Any, model: str, *, settings: Any = None, now: int | None = None,
             health: Health | None = None) -> CheckContext:
    info = store.registry.model(model)
    if info is None:
        raise UnknownModel(unknown_model_message(store, model))
    versions = store.registry.versions(model)
    active = next((v for v in versions if v.stage is Stage.champion), None)
    return CheckContext(store=store, info=info, version=active, versions=versions, settings=settings,
                        now=now_ms() if now is None else now, health=health)


def unknown_model_message(store: Any, model: str) -> str:
    known = [m.name for m in store.registry.models()]
    hint = f" (known: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''})" if known else " (no models)"
    return f"unknown model {model!r}{hint}"


def _check_area(area: str) -> str:
    if area not in READINESS_AREAS:
        raise ChecklistError(f"unknown readiness area {area!r} (one of: {', '.join(READINESS_AREAS)})")
    return area


def merge(previous: CheckItem | None, finding: Finding, *, model: str, area: str, owner: str | None,
          now: int) -> tuple[CheckItem, bool]:
    """The item to store after an automatic check, and whether it overrode a manual pass (see module doc)."""
    owner = previous.owner if previous is not None and previous.owner else owner
    if previous is not None and not previous.auto:
        if previous.status is CheckStatus.waived:
            return previous.model_copy(update={"owner": owner, "evidence": finding.evidence}), False
        if previous.status is CheckStatus.passed:
            if finding.status is not CheckStatus.failed:
                return previous.model_copy(update={"owner": owner}), False
            note = f"manual pass by {previous.updated_by or 'unknown'} overridden: the automatic check failed"
            return CheckItem(model=model, area=area, status=CheckStatus.failed, evidence=finding.evidence, auto=True,
                             owner=owner, note=note, updated_by=AUTO_ACTOR, updated_at=now), True
    same = previous is not None and previous.auto and previous.status is finding.status
    return CheckItem(
        model=model, area=area, status=finding.status, evidence=finding.evidence, auto=True, owner=owner,
        note=previous.note if same else None,
        updated_by=previous.updated_by if same else AUTO_ACTOR,
        updated_at=previous.updated_at if same else now,
    ), False


def _stored(store: Any, model: str) -> dict[str, CheckItem]:
    return {item.area: item for item in store.checklist.items(model)}


def evaluate(store: Any, model: str, *, settings: Any = None, now: int | None = None,
             health: Health | None = None) -> list[CheckItem]:
    """Run every automatic check for ``model`` and store the result; the 8 items in area order.

    ``settings`` (app.config.settings.Settings) supplies endpoints, owners and alert rules; ``health`` is the
    endpoint poller's latest result (without it the serving area is pending). Raises UnknownModel.
    """
    ctx = _context(store, model, settings=settings, now=now, health=health)
    findings = {area: RULES[area](ctx) for area in READINESS_AREAS}  # reads first, then one short write
    try:
        # Stored items are read inside the write transaction: a waiver made by another worker
        # between our read and our write could otherwise be overwritten.
        with store.write():
            return _merge_all(store, ctx, findings, persist=True)
    except (StoreReadOnly, StoreBusy):
        # A read-only store, or a writer holding the lock past the busy timeout: the findings are
        # still right, so show them; the next evaluation stores them. Anything else is a real fault.
        return _merge_all(store, ctx, findings, persist=False)


def _merge_all(store: Any, ctx: CheckContext, findings: dict[str, Finding], *, persist: bool) -> list[CheckItem]:
    model = ctx.model
    previous = _stored(store, model)
    items = []
    for area in READINESS_AREAS:
        item, overridden = merge(previous.get(area), findings[area], model=model, area=area, owner=ctx.owner,
                                 now=ctx.now)
        if persist and overridden:
            store.audit.append("checklist.override", model, actor=AUTO_ACTOR, ts=ctx.now, outcome="fail",
                               detail={"area": area, "was": "pass",
                                       "passed_by": previous[area].updated_by, "evidence": item.evidence})
        if persist and item != previous.get(area):
            store.checklist.put(item)
        items.append(item)
    return items


def stored_items(store: Any, model: str) -> list[CheckItem]:
    """The last stored result, all 8 areas in order (pending where never evaluated); runs no check."""
    stored = _stored(store, model)
    return [stored.get(area) or CheckItem(model=model, area=area) for area in READINESS_AREAS]


def readiness_score(items: list[CheckItem]) -> tuple[int, int]:
    """(areas passed or waived, areas in total)."""
    done = sum(1 for item in items if item.status in (CheckStatus.passed, CheckStatus.waived))
    return done, len(items)


def is_ready(items: list[CheckItem]) -> bool:
    """Every area passes or is waived: the promotion gate."""
    done, total = readiness_score(items)
    return total == len(READINESS_AREAS) and done == total


def _manual_change(store: Any, model: str, area: str, *, action: str, actor: str | None, detail: dict[str, Any],
                   build: Any) -> CheckItem:
    """Write one manual change: the new item (``build(previous, actor, now)``) and its audit row, together."""
    _check_area(area)
    ctx = _context(store, model)
    who = actor or current_actor()
    with store.write():  # the item and its audit row, together
        previous = _stored(store, model).get(area)
        item = build(previous, who, ctx.now)
        store.checklist.put(item)
        version = ctx.version.version if ctx.version is not None else None
        store.audit.append(action, model, actor=who, ts=ctx.now, outcome=item.status.value,
                           detail={"area": area, "version": version,
                                   "previous": previous.status.value if previous else None, **detail})
    return item


def waive(store: Any, model: str, area: str, reason: str, *, actor: str | None = None) -> CheckItem:
    """Waive an area with a reason; it counts as done until reopened."""
    reason = (reason or "").strip()
    if not reason:
        raise ChecklistError("a waiver needs a reason")

    def build(previous: CheckItem | None, who: str, now: int) -> CheckItem:
        return CheckItem(model=model, area=area, status=CheckStatus.waived,
                         evidence=previous.evidence if previous else "", auto=False,
                         owner=previous.owner if previous else None, note=reason, updated_by=who, updated_at=now)

    return _manual_change(store, model, area, action="checklist.waive", actor=actor, detail={"reason": reason},
                          build=build)


def mark_passed(store: Any, model: str, area: str, evidence: str, *, actor: str | None = None) -> CheckItem:
    """Mark an area passed by hand, with the evidence (a link, a measured figure). A later hard failure
    of the automatic check overrides it."""
    evidence = (evidence or "").strip()
    if not evidence:
        raise ChecklistError("a manual pass needs evidence")

    def build(previous: CheckItem | None, who: str, now: int) -> CheckItem:
        return CheckItem(model=model, area=area, status=CheckStatus.passed, evidence=evidence, auto=False,
                         owner=previous.owner if previous else None, note=None, updated_by=who, updated_at=now)

    return _manual_change(store, model, area, action="checklist.pass", actor=actor, detail={"evidence": evidence},
                          build=build)


def reopen(store: Any, model: str, area: str, *, actor: str | None = None, recheck: bool = False,
           settings: Any = None, now: int | None = None, health: Health | None = None) -> CheckItem:
    """Undo a waiver or manual pass: the area is pending until the next ``evaluate`` checks it again.

    ``recheck`` runs the area's automatic check at once (with ``settings``/``health`` as for
    ``evaluate``): the audit's outcome is then what the checklist shows right after, not "pending"."""
    finding = RULES[_check_area(area)](_context(store, model, settings=settings, now=now, health=health)) \
        if recheck else None

    def build(previous: CheckItem | None, who: str, now: int) -> CheckItem:
        if previous is None or previous.auto:
            raise ChecklistError(f"{area} is not waived or passed by hand: nothing to reopen")
        return CheckItem(model=model, area=area, status=finding.status if finding else CheckStatus.pending,
                         evidence=finding.evidence if finding else previous.evidence, auto=True,
                         owner=previous.owner, note=f"reopened by {who}", updated_by=who, updated_at=now)

    return _manual_change(store, model, area, action="checklist.reopen", actor=actor, detail={}, build=build)


def sign_off(store: Any, model: str, role: str, *, note: str | None = None, actor: str | None = None) -> CheckItem:
    """Record ``role``'s sign-off of the active version; returns the updated sign-off item."""
    role = (role or "").strip().lower()
    if role not in SIGNOFF_ROLES:
        raise ChecklistError(f"unknown sign-off role {role!r} (one of: {', '.join(SIGNOFF_ROLES)})")
    ctx = _context(store, model)
    if ctx.version is None:
        raise ChecklistError(f"{model} has no active (champion) version to sign off")
    who = actor or current_actor()
    note = (note or "").strip() or None
    with store.write():
        store.checklist.add_signoff(SignOff(model=model, version=ctx.version.version, role=role, signed_by=who,
                                            signed_at=ctx.now, note=note))
        store.audit.append("checklist.sign_off", model, actor=who, ts=ctx.now, outcome="signed",
                           detail={"area": "signoff", "role": role, "version": ctx.version.version, "note": note})
        previous = _stored(store, model).get("signoff")
        item, _ = merge(previous, check_signoff(ctx), model=model, area="signoff", owner=ctx.owner, now=ctx.now)
        if item.updated_by == AUTO_ACTOR and item.updated_at == ctx.now:
            item = item.model_copy(update={"updated_by": who})  # the person's sign-off changed it
        store.checklist.put(item)
    return item
