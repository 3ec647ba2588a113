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

Governance over time (issue 17): items, waivers and sign-offs belong to one version (a waiver of
v3.1.2 does not hold for v3.2.0 after a promotion, and holds again if traffic rolls back to v3.1.2),
and they expire: a waiver at the expiry its maker gave (at most ``governance.max_waiver_days``), a
manual pass and a sign-off after ``governance.signoff_days`` (default 90). An expired waiver or pass
is judged by the automatic check again, and ``checklist.expire`` is audited once.

Every change refuses first, with an audit row ``refused``, when modeldeck or the model is read-only
(``guard``: the one check, the rule of app/rollback/actions.read_only_reason).
"""

from __future__ import annotations

from typing import Any

from app.checklist.areas import READINESS_AREAS
from app.checklist.rules import RULES, SIGNOFF_ROLES, CheckContext, Finding, check_signoff, pending, required_roles
from app.models import CheckItem, CheckStatus, Health, Review, SignOff, Stage
from app.store import StoreBusy, StoreReadOnly
from app.store.connection import StoreUnsupported
from app.store.identity import current_actor
from app.timeutil import TimeFormat, format_ms, now_ms

DAY_MS = 86_400_000
DEFAULT_SIGNOFF_DAYS = 90
DEFAULT_MAX_WAIVER_DAYS = 90
DEFAULT_REVIEW_EVERY_DAYS = 31

__all__ = ["AUTO_ACTOR", "ChecklistError", "UnknownModel", "unknown_model_message", "SIGNOFF_ROLES", "evaluate", "stored_items", "sign_off",
           "waive", "mark_passed", "reopen", "readiness_score", "is_ready", "merge", "required_roles",
           "ChangeRefused", "guard", "record_review", "review_overdue"]

# updated_by of changes made by the automatic checks rather than a person.
AUTO_ACTOR = "modeldeck"


class ChecklistError(ValueError):
    """A checklist change that cannot be made; the message is one line for the operator."""


class UnknownModel(ChecklistError):
    pass


class ChangeRefused(ChecklistError):
    """Refused by policy (read-only); the refusal is in the audit trail."""


def _governance(settings: Any, name: str, default: int) -> int:
    return int(getattr(getattr(settings, "governance", None), name, default))


def _context(store: Any, model: str, *, settings: Any = None, now: int | None = None,
             health: Health | None = None, version: str | None = None) -> CheckContext:
    """What the rules judge: ``version`` of ``model`` (default: its active (champion) version)."""
    info = store.registry.model(model)
    if info is None:
        raise UnknownModel(unknown_model_message(store, model))
    versions = store.registry.versions(model)
    from_logs = False
    if version is None:
        chosen = next((v for v in versions if v.stage is Stage.champion), None)
        if chosen is None:
            # A model known only from its logs (issue 13): nobody named a champion, so check the version the
            # log saw last, and say so in the evidence, rather than failing every area on "no version".
            chosen = store.registry.logged_version(model)
            from_logs = chosen is not None
    else:
        chosen = next((v for v in versions if v.version == version), None)
        if chosen is None:
            known = ", ".join(v.version for v in versions[:10]) or "none"
            raise ChecklistError(f"{model} has no version {version!r} (known: {known})")
    return CheckContext(store=store, info=info, version=chosen, versions=versions, settings=settings,
                        now=now_ms() if now is None else now, health=health, version_from_logs=from_logs)


# For a model known only from its logs: how to provide what an area misses (issue 13).
_LOGGED_HINTS = {
    "model_card": "set one: modeldeck card {m} --version {v} CARD.md",
    "benchmarks": "record them: modeldeck metrics {m} --version {v} --set auc=... p95_latency_ms=... "
                  "throughput_rps=...",
    "features": "modeldeck baseline {m} --version {v} --from-logs (or a training FILE)",
    "monitoring": "modeldeck baseline {m} --version {v} --from-logs; alert rules and an owner in the config",
}


def _logged_note(ctx: CheckContext, finding: Finding, area: str) -> Finding:
    """For a model known only from its logs, a finding that is not a pass says how to provide what is
    missing; the first area also says which version is checked and why (the log saw it last; nothing
    named a champion). The command's header and the model screen say it once more."""
    if not ctx.version_from_logs or finding.status is CheckStatus.passed or ctx.version is None:
        return finding
    from app.text import clean_name

    m, v = clean_name(ctx.model), clean_name(ctx.version.version)
    text = finding.evidence
    if area == next(iter(READINESS_AREAS)):
        text += f" ({v} is the version the logs saw last: {ctx.version.logged_rows:,} rows, no champion named)"
    hint = _LOGGED_HINTS.get(area)
    return Finding(finding.status, text + (f"; {hint.format(m=m, v=v)}" if hint else ""))


def _version_of(ctx: CheckContext) -> str:
    return ctx.version.version if ctx.version is not None else ""


def guard(store: Any, settings: Any, model: str, action: str, *, actor: str, detail: dict[str, Any]) -> None:
    """THE read-only check of every readiness change: raise ChangeRefused, audited ``refused``, when
    modeldeck runs read-only or the model is read-only in the config. (A read-only *store* refuses the
    write itself: StoreReadOnly.)"""
    from app.rollback.actions import read_only_reason

    why = read_only_reason(settings, model) if settings is not None else None
    if why:
        store.audit.append(action, model, actor=actor, outcome="refused", detail={**detail, "refused": why})
        raise ChangeRefused(f"refused: {why}")


def unknown_model_message(store: Any, model: str) -> str:
    from app.catalogue import unknown_message

    return unknown_message("model", model, store.registry.names())


def _check_area(area: str) -> str:
    if area not in READINESS_AREAS:
        raise ChecklistError(f"unknown readiness area {area!r} (one of: {', '.join(READINESS_AREAS)})")
    return area


def _expired(item: CheckItem | None, now: int) -> bool:
    return item is not None and not item.auto and item.expires_at is not None and item.expires_at <= now


def merge(previous: CheckItem | None, finding: Finding, *, model: str, area: str, owner: str | None,
          now: int, version: str = "") -> tuple[CheckItem, bool]:
    """The item to store after an automatic check, and whether it overrode a manual pass (see module doc).
    An expired waiver or manual pass no longer holds: the automatic check decides, and the note says so."""
    owner = previous.owner if previous is not None and previous.owner else owner
    if _expired(previous, now):
        kind = "waiver" if previous.status is CheckStatus.waived else f"manual {previous.status.value}"
        note = (f"{kind} by {previous.updated_by or 'unknown'} expired "
                f"{format_ms(previous.expires_at, TimeFormat.DATE)}")
        return CheckItem(model=model, area=area, version=version, status=finding.status, evidence=finding.evidence,
                         auto=True, owner=owner, note=note, updated_by=AUTO_ACTOR, updated_at=now), False
    if previous is not None and not previous.auto:
        if previous.status is CheckStatus.waived:
            return previous.model_copy(update={"owner": owner, "evidence": finding.evidence}), False
        if previous.status is CheckStatus.passed:
            if finding.status is not CheckStatus.failed:
                return previous.model_copy(update={"owner": owner}), False
            note = f"manual pass by {previous.updated_by or 'unknown'} overridden: the automatic check failed"
            return CheckItem(model=model, area=area, version=version, status=CheckStatus.failed, evidence=finding.evidence, auto=True,
                             owner=owner, note=note, updated_by=AUTO_ACTOR, updated_at=now), True
    same = previous is not None and previous.auto and previous.status is finding.status
    return CheckItem(
        model=model, area=area, version=version, status=finding.status, evidence=finding.evidence, auto=True, owner=owner,
        note=previous.note if same else None,
        updated_by=previous.updated_by if same else AUTO_ACTOR,
        updated_at=previous.updated_at if same else now,
    ), False


def _stored(store: Any, model: str, version: str) -> dict[str, CheckItem]:
    return {item.area: item for item in store.checklist.items(model, version)}


def evaluate(store: Any, model: str, *, settings: Any = None, now: int | None = None,
             health: Health | None = None, version: str | None = None) -> list[CheckItem]:
    """Run every automatic check for ``version`` of ``model`` (default: the active one) and store the
    result; the 8 items in area order.

    ``settings`` (app.config.settings.Settings) supplies endpoints, owners and alert rules; ``health`` is the
    endpoint poller's latest result (without it the serving area is pending). Raises UnknownModel.
    """
    ctx = _context(store, model, settings=settings, now=now, health=health, version=version)
    findings = {area: _logged_note(ctx, _judged(ctx, area), area) for area in READINESS_AREAS}  # reads, then one write
    try:
        # Stored items are read inside the write transaction: a waiver made by another worker
        # between our read and our write could otherwise be overwritten.
        with store.write():
            return _merge_all(store, ctx, findings, persist=True)
    except (StoreReadOnly, StoreBusy):
        # A read-only store, or a writer holding the lock past the busy timeout: the findings are
        # still right, so show them; the next evaluation stores them. Anything else is a real fault.
        return _merge_all(store, ctx, findings, persist=False)


def _judged(ctx: CheckContext, area: str) -> Finding:
    """The area's rule; pending, saying why, when it reads a part this store's backend does not have yet
    (a PostgreSQL store before that family is built): the other areas are still judged."""
    try:
        return RULES[area](ctx)
    except StoreUnsupported as exc:
        return pending(f"cannot be judged on this store yet: {exc}")


def _merge_all(store: Any, ctx: CheckContext, findings: dict[str, Finding], *, persist: bool) -> list[CheckItem]:
    model, version = ctx.model, _version_of(ctx)
    previous = _stored(store, model, version)
    items = []
    for area in READINESS_AREAS:
        before = previous.get(area)
        item, overridden = merge(before, findings[area], model=model, area=area, owner=ctx.owner,
                                 now=ctx.now, version=version)
        if persist and _expired(before, ctx.now):
            store.audit.append("checklist.expire", model, actor=AUTO_ACTOR, ts=ctx.now, outcome=item.status.value,
                               detail={"area": area, "version": version, "was": before.status.value,
                                       "by": before.updated_by, "expired_at": before.expires_at})
        if persist and overridden:
            store.audit.append("checklist.override", model, actor=AUTO_ACTOR, ts=ctx.now, outcome="fail",
                               detail={"area": area, "was": "pass",
                                       "passed_by": previous[area].updated_by, "evidence": item.evidence})
        if persist and item != previous.get(area):
            store.checklist.put(item)
        items.append(item)
    return items


def stored_items(store: Any, model: str, version: str | None = None) -> list[CheckItem]:
    """The last stored result for ``version`` (default: the champion), all 8 areas in order (pending where
    never evaluated); runs no check."""
    stored = {item.area: item for item in store.checklist.items(model, version)}
    return [stored.get(area) or CheckItem(model=model, area=area, version=version or "") for area in READINESS_AREAS]


def readiness_score(items: list[CheckItem]) -> tuple[int, int]:
    """(areas passed or waived, areas in total)."""
    done = sum(1 for item in items if item.status in (CheckStatus.passed, CheckStatus.waived))
    return done, len(items)


def is_ready(items: list[CheckItem]) -> bool:
    """Every area passes or is waived: the promotion gate."""
    done, total = readiness_score(items)
    return total == len(READINESS_AREAS) and done == total


def _manual_change(store: Any, model: str, area: str, *, action: str, actor: str | None, detail: dict[str, Any],
                   build: Any, settings: Any = None, version: str | None = None, now: int | None = None) -> CheckItem:
    """Write one manual change to ``version`` (default: the active one): the new item
    (``build(previous, actor, now, version)``) and its audit row, together; refused when read-only."""
    _check_area(area)
    ctx = _context(store, model, now=now, version=version)
    who = actor or current_actor()
    target = _version_of(ctx)
    guard(store, settings, model, action, actor=who, detail={"area": area, "version": target, **detail})
    with store.write():  # the item and its audit row, together
        previous = _stored(store, model, target).get(area)
        item = build(previous, who, ctx.now, target)
        store.checklist.put(item)
        store.audit.append(action, model, actor=who, ts=ctx.now, outcome=item.status.value,
                           detail={"area": area, "version": target,
                                   "previous": previous.status.value if previous else None, **detail})
    return item


def waive(store: Any, model: str, area: str, reason: str, *, expires_in_ms: int | None, version: str | None = None,
          actor: str | None = None, settings: Any = None, now: int | None = None) -> CheckItem:
    """Waive an area of one version with a reason and an expiry; it counts as done until it expires or
    is reopened. The expiry is required and at most ``governance.max_waiver_days``."""
    reason = (reason or "").strip()
    if not reason:
        raise ChecklistError("a waiver needs a reason")
    limit = _governance(settings, "max_waiver_days", DEFAULT_MAX_WAIVER_DAYS)
    if expires_in_ms is None or expires_in_ms <= 0:
        raise ChecklistError(f"a waiver needs an expiry (e.g. 30d, at most {limit}d)")
    if expires_in_ms > limit * DAY_MS:
        raise ChecklistError(f"a waiver may last at most {limit} days (governance.max_waiver_days)")
    now = now_ms() if now is None else now
    expires_at = now + expires_in_ms

    def build(previous: CheckItem | None, who: str, now: int, version: str) -> CheckItem:
        return CheckItem(model=model, area=area, version=version, status=CheckStatus.waived,
                         evidence=previous.evidence if previous else "", auto=False,
                         owner=previous.owner if previous else None, note=reason, updated_by=who, updated_at=now,
                         expires_at=expires_at)

    return _manual_change(store, model, area, action="checklist.waive", actor=actor, settings=settings,
                          version=version, now=now, detail={"reason": reason, "expires_at": expires_at},
                          build=build)


def mark_passed(store: Any, model: str, area: str, evidence: str, *, actor: str | None = None,
                version: str | None = None, settings: Any = None, now: int | None = None) -> CheckItem:
    """Mark an area passed by hand, with the evidence (a link, a measured figure). A later hard failure
    of the automatic check overrides it; it expires after ``governance.signoff_days``."""
    evidence = (evidence or "").strip()
    if not evidence:
        raise ChecklistError("a manual pass needs evidence")
    days = _governance(settings, "signoff_days", DEFAULT_SIGNOFF_DAYS)

    def build(previous: CheckItem | None, who: str, now: int, version: str) -> CheckItem:
        return CheckItem(model=model, area=area, version=version, status=CheckStatus.passed, evidence=evidence,
                         auto=False, owner=previous.owner if previous else None, note=None, updated_by=who,
                         updated_at=now, expires_at=now + days * DAY_MS)

    return _manual_change(store, model, area, action="checklist.pass", actor=actor, settings=settings,
                          version=version, now=now, detail={"evidence": evidence}, build=build)


def reopen(store: Any, model: str, area: str, *, actor: str | None = None, recheck: bool = False,
           settings: Any = None, now: int | None = None, health: Health | None = None,
           version: str | None = None) -> CheckItem:
    """Undo a waiver or manual pass of one version: the area is pending until the next ``evaluate``
    checks it again.

    ``recheck`` runs the area's automatic check at once (with ``settings``/``health`` as for
    ``evaluate``): the audit's outcome is then what the checklist shows right after, not "pending"."""
    finding = RULES[_check_area(area)](_context(store, model, settings=settings, now=now, health=health,
                                                version=version)) if recheck else None

    def build(previous: CheckItem | None, who: str, now: int, version: str) -> CheckItem:
        if previous is None or previous.auto:
            raise ChecklistError(f"{area} of {version or model} is not waived or passed by hand: nothing to reopen")
        return CheckItem(model=model, area=area, version=version,
                         status=finding.status if finding else CheckStatus.pending,
                         evidence=finding.evidence if finding else previous.evidence, auto=True,
                         owner=previous.owner, note=f"reopened by {who}", updated_by=who, updated_at=now)

    return _manual_change(store, model, area, action="checklist.reopen", actor=actor, settings=settings,
                          version=version, now=now, detail={}, build=build)


def sign_off(store: Any, model: str, role: str, *, note: str | None = None, actor: str | None = None,
             version: str | None = None, settings: Any = None, now: int | None = None) -> CheckItem:
    """Record ``role``'s sign-off of ``version`` (default: the active one) under the caller's identity,
    expiring after ``governance.signoff_days``; returns that version's updated sign-off item."""
    role = (role or "").strip().lower()
    if role not in SIGNOFF_ROLES:
        raise ChecklistError(f"unknown sign-off role {role!r} (one of: {', '.join(SIGNOFF_ROLES)})")
    ctx = _context(store, model, settings=settings, now=now, version=version)
    if ctx.version is None:
        raise ChecklistError(f"{model} has no active (champion) version to sign off")
    who = actor or current_actor()
    note = (note or "").strip() or None
    target = ctx.version.version
    guard(store, settings, model, "checklist.sign_off", actor=who,
          detail={"area": "signoff", "role": role, "version": target, "note": note})
    expires = ctx.now + _governance(settings, "signoff_days", DEFAULT_SIGNOFF_DAYS) * DAY_MS
    with store.write():
        store.checklist.add_signoff(SignOff(model=model, version=target, role=role, signed_by=who,
                                            signed_at=ctx.now, note=note, expires_at=expires))
        store.audit.append("checklist.sign_off", model, actor=who, ts=ctx.now, outcome="signed",
                           detail={"area": "signoff", "role": role, "version": target, "note": note,
                                   "expires_at": expires})
        previous = _stored(store, model, target).get("signoff")
        item, _ = merge(previous, check_signoff(ctx), model=model, area="signoff", owner=ctx.owner, now=ctx.now,
                        version=target)
        if item.updated_by == AUTO_ACTOR and item.updated_at == ctx.now:
            item = item.model_copy(update={"updated_by": who})  # the person's sign-off changed it
        store.checklist.put(item)
    return item


def record_review(store: Any, model: str, note: str, *, actor: str | None = None, settings: Any = None,
                  now: int | None = None) -> Review:
    """Record the monthly health review of ``model`` (of its active version) with the reviewer's note."""
    note = (note or "").strip()
    if not note:
        raise ChecklistError("a review needs a note (what was looked at, what was found)")
    ctx = _context(store, model, now=now)
    who = actor or current_actor()
    version = ctx.version.version if ctx.version is not None else None
    guard(store, settings, model, "review", actor=who, detail={"version": version, "note": note})
    review = Review(model=model, kind="health", version=version, reviewed_by=who, reviewed_at=ctx.now, note=note)
    with store.write():
        store.checklist.add_review(review)
        store.audit.append("review", model, actor=who, ts=ctx.now, outcome="reviewed",
                           detail={"kind": "health", "version": version, "note": note})
    return review


def review_overdue(last: Review | None, *, settings: Any, now: int) -> bool:
    """Whether a model's monthly health review is due: none recorded, or the last is older than
    ``governance.review_every_days``."""
    every = _governance(settings, "review_every_days", DEFAULT_REVIEW_EVERY_DAYS) * DAY_MS
    return last is None or now - last.reviewed_at > every
