"""What the model screen shows, read (or changed) in one blocking call each, from its thread workers.

Overview (versions, 24 h traffic, whether the last switch was a disable), Readiness (the eight areas,
evaluated on every read), Activity (the audit), and the checklist changes made from the Readiness tab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.models import AuditEntry, CheckItem, ModelInfo, Version

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.models import Health
    from app.store import Store
    from app.store.location import StoreLocation
    from app.store.predictions import TrafficBucket
    from app.store.sync_table import SyncState
    from app.views.fleet import FleetRow

DAY_MS = 24 * 3_600_000
BUCKET_MS = 30 * 60_000
AUDIT_ROWS = 200  # the Activity tab's rows, and how far back a disable is looked for
CHECKLIST_AUDIT_ROWS = 1000  # how far back the checklist's past is looked for in the audit (time travel)


@dataclass
class Overview:
    info: ModelInfo | None
    versions: list[Version]
    traffic: "list[TrafficBucket]"
    # The last successful action on the endpoint was a disable (none switched versions since).
    disabled: bool = False
    # What each registry or endpoint sync of this model last did (app/sync): the versions and stages shown
    # are as old as the last success.
    syncs: "list[SyncState]" = field(default_factory=list)
    # Time travel: the version the audit says served at the time shown (None: now, or never switched).
    served_then: str | None = None


@dataclass
class ChecklistChange:
    """A sign-off, waiver or reopen that was recorded, with what the Readiness and Activity tabs show next."""

    items: list[CheckItem]
    entries: list[AuditEntry]


def last_switch_was_disable(entries: list[AuditEntry]) -> bool:
    """Whether, in the audit (newest first), the latest successful promote / rollback / disable is a
    disable: the registry's champion then names the version that would serve, not one that does."""
    for entry in entries:
        if entry.outcome == "succeeded" and entry.action in ("promote", "rollback", "disable"):
            return entry.action == "disable"
    return False


def overview(location: "StoreLocation", model: str, now: int, *, at: bool = False) -> Overview:
    """``at``: ``now`` is a past time the console travelled to (the version that served then is read
    from the audit trail's rollbacks and promotions)."""
    from app.rollback.history import version_at

    with location.open() as store:
        return Overview(
            served_then=version_at(store, model, now) if at else None,
            info=store.registry.model(model),
            versions=store.registry.versions(model),
            traffic=store.predictions.traffic(model, now - DAY_MS, now, BUCKET_MS),
            disabled=last_switch_was_disable(store.audit.entries(model, limit=AUDIT_ROWS, until=now if at else None)),
            syncs=store.syncs.states(model),
        )


def sync_line(syncs: "list[SyncState]", now: int) -> str:
    """``synced mlflow 3m ago · endpoint failed 20s ago (last ok 2h ago): refused``: the age of what the
    store holds from each source, and a failure said as such ("" when the model is never synced)."""
    from app.timeutil import age_text

    parts = []
    for sync in syncs:
        last_ok = f"{age_text(now - sync.synced_at)} ago" if sync.synced_at is not None else "never"
        if sync.error:
            parts.append(f"{sync.source} failed {age_text(now - sync.attempted_at)} ago (last ok {last_ok}): "
                         f"{sync.error}")
        else:
            parts.append(f"{sync.source} {last_ok}")
    return ("synced " + " · ".join(parts)) if parts else ""


def readiness(location: "StoreLocation", settings: "Settings", model: str, now: int,
              health: "Health | None", *, at: bool = False) -> list[CheckItem]:
    """Evaluated on every read: the automatic checks show today's facts, not last week's. ``at`` (viewing
    the past, ``now`` is then): the stored items as they stood (items_then), with no evaluation (which
    would record verdicts)."""
    from app.checklist import evaluate as checklist

    if at:
        with location.open() as store:
            return checklist_then(store, model, now)
    with location.open() as store:
        return list(checklist.evaluate(store, model, settings=settings, now=now, health=health))


def checklist_then(store: "Store", model: str, at: int) -> list[CheckItem]:
    """``model``'s checklist as it stood at ``at``: the status history where it covers the area
    (store.checklist.items_at), else what the audit says (items_then)."""
    recorded = {item.area: item for item in store.checklist.items_at(model, at)}
    stored = [recorded.get(item.area, item) if item.updated_at is not None and item.updated_at > at else item
              for item in store.checklist.items(model)]
    return items_then(stored, store.audit.entries(model, limit=CHECKLIST_AUDIT_ROWS), at)


def items_then(items: list[CheckItem], entries: list[AuditEntry], at: int) -> list[CheckItem]:
    """The checklist as it stood at ``at``, from the stored items and the audit (newest first): an item not
    changed since stands as stored; one changed since takes the state the audit gives it then (the
    ``previous`` of the first checklist change after ``at``, else the outcome of the last one by then).
    Automatic verdicts are audited only when they override or expire a manual one, so an item the
    audit says nothing about is shown as ``pending`` and says so, never as today's verdict. (Stores keep
    a status history since schema 17; checklist_then uses it first, so this fallback covers only changes
    older than that history.)"""
    from app.models import CheckStatus

    statuses = {s.value for s in CheckStatus}
    changes = [e for e in reversed(entries) if e.action.startswith("checklist.") and e.action != "checklist.sign_off"]
    then = []
    for item in items:
        if item.updated_at is None or item.updated_at <= at:
            then.append(item)
            continue
        mine = [e for e in changes if e.detail.get("area") == item.area]
        after = next((e for e in mine if e.ts > at), None)
        before = next((e for e in reversed(mine) if e.ts <= at), None)
        status, note = None, "changed since; its state then is not recorded"
        if after is not None and after.detail.get("previous") in statuses:
            status, note = after.detail["previous"], f"from the audit: before {after.action} by {after.actor}"
        elif before is not None and before.outcome in statuses:
            status, note = before.outcome, f"from the audit: {before.action} by {before.actor}"
        then.append(item.model_copy(update={"status": CheckStatus(status or "pending"), "evidence": note,
                                            "updated_at": before.ts if before is not None else None,
                                            "updated_by": before.actor if before is not None else None,
                                            "expires_at": None}))
    return then


def activity(location: "StoreLocation", model: str, at: int | None = None) -> list[AuditEntry]:
    """The model's audit entries, newest first; ``at``: only those written by then (time travel)."""
    with location.open() as store:
        return store.audit.entries(model, limit=AUDIT_ROWS, until=at)


class ChangeRefused(Exception):
    """Nothing was recorded (a checklist rule refused it, or the store could not take the write)."""


def change_checklist(location: "StoreLocation", settings: "Settings", model: str, now: int,
                     health: "Health | None", kind: str, area: str | None, text: str | None,
                     note: str | None, *, version: str | None = None) -> ChecklistChange:
    """``kind`` is "sign_off" (``text``: the role), "waive" (``text``: the reason, ``note``: the expiry,
    e.g. 30d) or "reopen" (checked at once: the audit's outcome is what the table shows next), on
    ``version`` (default: the active one). The same functions as `modeldeck signoff/waive/reopen`:
    read-only is refused there, audited. Raises ChangeRefused."""
    from app.checklist import evaluate as checklist
    from app.store import StoreError
    from app.timeutil import parse_duration_ms

    with location.open() as store:
        try:
            if kind == "sign_off":
                checklist.sign_off(store, model, text or "", note=note, version=version, settings=settings, now=now)
            elif kind == "waive":
                try:
                    expires = parse_duration_ms(note or "")
                except ValueError as exc:
                    raise checklist.ChecklistError(f"expiry: {exc}") from None
                checklist.waive(store, model, area or "", text or "", expires_in_ms=expires, version=version,
                                settings=settings, now=now)
            else:
                checklist.reopen(store, model, area or "", recheck=True, settings=settings, now=now, health=health,
                                 version=version)
        except (checklist.ChecklistError, StoreError) as exc:
            raise ChangeRefused(str(exc)) from exc
        items = list(checklist.evaluate(store, model, settings=settings, now=now, health=health))
        entries = store.audit.entries(model, limit=AUDIT_ROWS)
    return ChecklistChange(items, entries)


NOTIFICATION_ROWS = 5


def notifications(location: "StoreLocation", model: str) -> list[str]:
    """The model's last alert notifications sent by ``modeldeck watch`` (newest first), one line each:
    when, event, target, outcome (with the last error when it failed or waits for a retry)."""
    from app.timeutil import TimeFormat, format_ms

    with location.open() as store:
        rows = store.deliveries.recent(model, NOTIFICATION_ROWS)
        alerts = store.alerts.by_ids([d.alert_id for d in rows])
    lines = []
    for d in rows:
        alert = alerts.get(d.alert_id)
        rule = alert.rule if alert else f"alert #{d.alert_id}"
        when = format_ms(d.sent_at or d.created_at, TimeFormat.DAY_MINUTE)
        outcome = d.status if d.status == "delivered" else f"{d.status} after {d.attempts} tries: {d.last_error or ''}"
        lines.append(f"{when} {d.event} {rule} -> {d.target}: {outcome}")
    return lines


def figures(location: "StoreLocation", settings: "Settings", model: str, now: int,
            health: "Health | None", live: "object | None", *, at: bool = False) -> "FleetRow | None":
    """The model's fleet row, read exactly as the fleet reads it (same source, same window): the model
    screen's Req/m, p95 and Err% are then the fleet's, and say where they come from. ``at`` (viewing the
    past): read as the fleet reads the past, with no readiness evaluation (which would record verdicts)."""
    from app.views.fleet import fleet_rows

    with location.open() as store:
        rows = fleet_rows(store, settings, now, {model: health} if health else None,
                          {model: live} if live is not None else None, names={model}, at=at)
    return rows[0] if rows else None
