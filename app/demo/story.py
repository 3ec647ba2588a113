"""The demo's history: readiness checklists, sign-offs, the audit trail and alerts.

Told relative to the demo's "now", and written with the same action names and detail
shapes the real workflows write (app/checklist/, app/rollback/, app/alerts/), so the
console shows demo history exactly as it would show its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.checklist.areas import READINESS_AREAS
from app.demo.catalogue import DRIFT_EPISODES, INCIDENT, MINUTE_MS, MODELS, IncidentSpec
from app.demo.traffic import Clock
from app.models import Alert, CheckItem, CheckStatus, Review, SignOff
from app.store import Store
from app.timeutil import TimeFormat, format_ms

# Who did what (the audit's actor is $USER@host).
ALEX = "akowalski@ops-bastion-1"  # ML engineer, payments
PRIYA = "pnair@ops-bastion-1"  # data scientist
SAM = "soduya@laptop-soduya"  # product manager
RANA = "rhaddad@legal-vdi-04"  # legal counsel
MEI = "mchen@ops-bastion-2"  # credit on-call engineer
JORGE = "jgarcia@ops-bastion-2"  # support platform engineer
CI = "deploy@ci-runner-7"  # the release pipeline
CHECKER = "modeldeck-checker"

ROLE_PEOPLE = {"engineering": ALEX, "product": SAM, "data": PRIYA, "legal": RANA, "fairness": PRIYA,
               "retention": RANA}
DAY_MS = 86_400_000
SIGNOFF_DAYS = 90  # governance.signoff_days' default

# (model, version, role, days ago, signed by or None for the role's usual person)
SIGNOFFS: tuple[tuple[str, str, str, float, str | None], ...] = (
    ("fraud-scorer", "v2.3.1", "engineering", 46, None),
    ("fraud-scorer", "v2.3.1", "data", 45.5, None),
    ("fraud-scorer", "v2.3.1", "product", 45, None),
    ("fraud-scorer", "v2.3.1", "legal", 44.5, None),
    ("fraud-scorer", "v2.3.1", "fairness", 44.8, None),
    ("fraud-scorer", "v2.3.1", "retention", 44.4, None),
    ("fraud-scorer", "v2.4.0-rc1", "engineering", 3, None),
    ("fraud-scorer", "v2.4.0-rc1", "data", 2.2, None),
    ("churn-predictor", "v6", "engineering", 38.5, None),
    ("churn-predictor", "v6", "data", 38, None),
    ("credit-limit", "v3.1.2", "engineering", 64, MEI),
    ("credit-limit", "v3.1.2", "product", 63.5, None),
    ("credit-limit", "v3.1.2", "data", 63, None),
    ("credit-limit", "v3.1.2", "fairness", 62.5, None),
    ("credit-limit", "v3.1.2", "retention", 62, None),
    ("credit-limit", "v3.2.0", "engineering", 4.6, MEI),
    ("credit-limit", "v3.2.0", "data", 4.4, None),
    ("ticket-router", "r19", "engineering", 23, JORGE),
)

# (model, area) -> status, evidence, days ago, who; the areas not listed pass on automatic evidence.
_OWNERS = {"benchmarks": "ml-platform", "serving": "ml-platform", "features": "feature-platform",
           "rollback": "ml-platform", "logging": "ml-platform"}
_NOT_PASSING: dict[tuple[str, str], tuple[CheckStatus, str, float, str]] = {
    ("churn-predictor", "features"): (CheckStatus.pending, "Reopened: feature parity check against the v7 "
                                      "training set is scheduled", 5, PRIYA),
    # What the live check says of data/demo-monitoring.toml's rules (the console evaluates it again).
    ("churn-predictor", "monitoring"): (CheckStatus.failed, "no alert rule at the model level (have infrastructure: "
                                        "error_rate; data: feature_drift:tenure_months)", 5, CHECKER),
    ("churn-predictor", "signoff"): (CheckStatus.pending, "v6 signed by engineering, data; product missing",
                                     38, CHECKER),
    ("credit-limit", "signoff"): (CheckStatus.failed, "v3.1.2 signed by engineering, product, data; legal "
                                  "missing (model flagged for legal review)", 2.7, CHECKER),
    ("ticket-router", "model_card"): (CheckStatus.failed, "r19's card is missing factors, ethical considerations / "
                                      "caveats and recommendations; evaluation data is empty", 1, CHECKER),
    ("ticket-router", "benchmarks"): (CheckStatus.pending, "No load test recorded for r19", 20, CHECKER),
    ("ticket-router", "monitoring"): (CheckStatus.pending, "Alert routing for the DACH queues to be confirmed", 2,
                                      JORGE),
    ("ticket-router", "signoff"): (CheckStatus.pending, "r19 signed by engineering; product and data missing", 23,
                                   CHECKER),
}
# (model, days ago, reviewer, note): the monthly health reviews; churn-predictor's is overdue and
# ticket-router never had one, so the fleet marks both.
REVIEWS: tuple[tuple[str, float, str, str], ...] = (
    ("fraud-scorer", 9, ALEX, "October review: AUC stable on late labels, amount drift episode closed"),
    ("credit-limit", 2.5, MEI, "Post-incident review of INC-4821; v3.1.2 back in service"),
    ("churn-predictor", 47, PRIYA, "September review: no action"),
)
WAIVER_DAYS = 30
WAIVER = ("credit-limit", "features", MEI, 12,
          "Feature-store parity test waived until the months_at_address backfill lands (CRD-2291); "
          "risk reviewed the gap, waiver expires in 30 days")


@dataclass(order=True)
class Event:
    ts: int
    actor: str = field(compare=False)
    action: str = field(compare=False)
    model: str | None = field(compare=False)
    outcome: str | None = field(compare=False)
    detail: dict[str, Any] = field(compare=False)


def _evidence(model: str, area: str, champion: str, metrics: dict[str, Any], clock: Clock) -> str:
    figures = ", ".join(f"{key} {value}" for key, value in metrics.items() if key != "holdout_rows")
    return {
        "model_card": f"{champion}'s card has all 7 required sections",
        "benchmarks": f"{champion}: {figures}",
        "serving": "Endpoint configured; health check answered",
        "features": f"Logged features match the {champion} baseline",
        "monitoring": f"Drift baselines for {champion}; alert rules owned",
        "rollback": f"Previous version deployable; rollback drill on {format_ms(clock.at(18), TimeFormat.DATE)}",
        "logging": "Predictions logged in the last hour with request_id and features",
        "signoff": f"{champion} signed by " + ", ".join(r for m, v, r, _, _ in SIGNOFFS if m == model
                                                         and v == champion),
    }[area]


def checklist(store: Store, clock: Clock, metrics: dict[tuple[str, str], dict[str, Any]]) -> None:
    for spec in MODELS:
        champion = next(v.version for v in spec.versions if v.stage.value == "champion")
        for area in READINESS_AREAS:
            owner = _OWNERS.get(area, spec.info.owner)
            if area == "monitoring":
                owner = spec.info.flags.get("alert_owner", owner)
            if (spec.name, area) == WAIVER[:2]:
                _, _, who, days, reason = WAIVER
                item = CheckItem(model=spec.name, area=area, version=champion, status=CheckStatus.waived,
                                 evidence="Parity test not run for months_at_address", auto=False, owner=owner,
                                 note=reason, updated_by=who, updated_at=clock.at(days),
                                 expires_at=clock.at(days) + WAIVER_DAYS * DAY_MS)
            elif (spec.name, area) in _NOT_PASSING:
                status, evidence, days, who = _NOT_PASSING[(spec.name, area)]
                item = CheckItem(model=spec.name, area=area, version=champion, status=status, evidence=evidence,
                                 auto=who == CHECKER, owner=owner, updated_by=who, updated_at=clock.at(days))
            else:
                item = CheckItem(model=spec.name, area=area, version=champion, status=CheckStatus.passed,
                                 evidence=_evidence(spec.name, area, champion, metrics[(spec.name, champion)], clock),
                                 auto=True, owner=owner, updated_by=CHECKER, updated_at=clock.at(1 / 24))
            store.checklist.put(item)


def events(clock: Clock, alert_ids: dict[tuple[str, str], int], incident: IncidentSpec = INCIDENT) -> list[Event]:
    """Every audit entry of the story, oldest first; ``alert_ids`` from ``alerts()``, by (model, rule)."""
    out: list[Event] = []

    def add(days_ago: float, actor: str, action: str, model: str | None, outcome: str | None, *, later_ms: int = 0,
            **detail: Any) -> None:
        out.append(Event(clock.at(days_ago) + later_ms, actor, action, model, outcome, detail))

    for model, version, role, days, who in SIGNOFFS:
        add(days, who or ROLE_PEOPLE[role], "checklist.sign_off", model, "signed",
            area="signoff", role=role, version=version, note=None)

    # Promotions through the release pipeline (intent, then the verified outcome).
    for model, old, new, days, reason in (
            ("fraud-scorer", "v2.2.0", "v2.3.1", 44, "quarterly retrain; AUC +0.02 on the out-of-time holdout"),
            ("churn-predictor", "v5", "v6", 37, "retrained with support-contact features"),
            ("ticket-router", "r18", "r19", 21, "new subject-line encoder"),
            ("credit-limit", "v3.1.2", "v3.2.0", 3.8, "MAE -9% on last quarter's applications")):
        endpoint = {"kind": "http", "url": f"http://serving.internal/models/{model}"}
        add(days, CI, "promote", model, "intent", to=new, reason=reason, endpoint=endpoint, **{"from": old})
        add(days, CI, "promote", model, "succeeded", later_ms=38_000, to=new, reason=reason, endpoint=endpoint,
            readback=new, health="up", elapsed_ms=38_000, **{"from": old})

    # A rollback drill (modeldeck drill): fraud-scorer to its fallback and back, each step audited and timed the
    # way app/checklist/drill.py records it, then the drill's own row. The Rollback area reads the last step.
    endpoint = {"kind": "http", "url": "http://serving.internal/models/fraud-scorer"}
    drill_days, away_ms, back_ms = 21, 18_600, 21_400  # 40 s in all, three weeks ago
    for start_ms, took, old, new, reason in ((0, away_ms, "v2.3.1", "v2.2.0", "drill: switch to the fallback v2.2.0"),
                                             (away_ms, back_ms, "v2.2.0", "v2.3.1", "drill: back to v2.3.1")):
        add(drill_days, PRIYA, "rollback", "fraud-scorer", "intent", later_ms=start_ms, to=new, reason=reason,
            endpoint=endpoint, read_error=None, **{"from": old})
        add(drill_days, PRIYA, "rollback", "fraud-scorer", "succeeded", later_ms=start_ms + took, to=new,
            reason=reason, endpoint=endpoint, readback=new, health="up", health_reason="", error=None,
            elapsed_ms=took, **{"from": old})
    add(drill_days, PRIYA, "drill", "fraud-scorer", "succeeded", later_ms=away_ms + back_ms + 1, serving="v2.3.1",
        fallback="v2.2.0", switch_ms=away_ms, return_ms=back_ms, error=None)

    model, area, who, days, reason = WAIVER
    add(days, who, "checklist.waive", model, "waived", area=area, version="v3.1.2", previous="fail", reason=reason,
        expires_at=clock.at(days) + WAIVER_DAYS * DAY_MS)
    for model, days, who, note in REVIEWS:
        add(days, who, "review", model, "reviewed", kind="health", version=None, note=note)
    add(5, PRIYA, "checklist.reopen", "churn-predictor", "pending", area="features", version="v6",
        previous="pass")

    # The incident: the alert fires, on-call acknowledges it, then rolls back.
    start_days, end_days = incident.start_days_ago, incident.end_days_ago
    minute = MINUTE_MS / 86_400_000
    add(start_days - 20 * minute, MEI, "alert.acknowledge", incident.model, "acknowledged",
        alert_id=alert_ids[(incident.model, "error_rate")], rule="error_rate", severity="critical",
        owner="credit-decisioning-oncall",
        fired_at=clock.at(start_days - 8 * minute))
    endpoint = {"kind": "http", "url": f"http://serving.internal/models/{incident.model}"}
    why = (f"INC-4821: error rate above 30% and p95 latency x6 on {incident.version} since "
           f"{format_ms(clock.at(start_days), TimeFormat.CLOCK)} UTC; feature-store pool exhausted")
    # Traffic is back on the old version at the incident's end: the verified outcome.
    add(end_days, MEI, "rollback", incident.model, "intent", later_ms=-41_700, to=incident.rollback_to, reason=why,
        endpoint=endpoint, read_error=None, **{"from": incident.version})
    add(end_days, MEI, "rollback", incident.model, "succeeded", to=incident.rollback_to, reason=why,
        endpoint=endpoint, readback=incident.rollback_to, health="up", health_reason="", error=None,
        elapsed_ms=41_700, **{"from": incident.version})
    add(3 / 24, JORGE, "alert.acknowledge", "ticket-router", "acknowledged",
        alert_id=alert_ids[("ticket-router", "feature_drift:language")],
        rule="feature_drift:language", severity="warning", owner="support-platform-oncall",
        fired_at=clock.at(DRIFT_EPISODES[1].start_days_ago - 0.25))
    return sorted(out)


def audit(store: Store, clock: Clock, alert_ids: dict[tuple[str, str], int]) -> int:
    entries = events(clock, alert_ids)
    intent_id: int | None = None
    for event in entries:
        detail = dict(event.detail)
        if event.action in ("rollback", "promote") and event.outcome != "intent":
            detail["intent_id"] = intent_id
        new_id = store.audit.append(event.action, event.model, detail=detail, outcome=event.outcome,
                                    actor=event.actor, ts=event.ts)
        if event.outcome == "intent":
            intent_id = new_id
    return len(entries)


def alerts(store: Store, clock: Clock, incident: IncidentSpec = INCIDENT) -> dict[tuple[str, str], int]:
    minute = MINUTE_MS / 86_400_000
    start, end = incident.start_days_ago, incident.end_days_ago
    fraud_drift, ticket_drift = DRIFT_EPISODES
    rows = [
        Alert(rule="feature_drift:amount", model="fraud-scorer", severity="warning", owner="payments-risk-oncall",
              state="resolved", value=0.62, threshold=0.2, fired_at=clock.at(fraud_drift.start_days_ago - 0.2),
              resolved_at=clock.at(fraud_drift.end_days_ago - 0.1), acked_by=ALEX,
              acked_at=clock.at(fraud_drift.start_days_ago - 0.25),
              runbook="https://runbooks.example.com/ml/fraud-scorer#drift"),
        Alert(rule="error_rate", model=incident.model, severity="critical", owner="credit-decisioning-oncall",
              state="resolved", value=0.35, threshold=0.1, fired_at=clock.at(start - 8 * minute),
              resolved_at=clock.at(end - 10 * minute), acked_by=MEI, acked_at=clock.at(start - 20 * minute),
              runbook="https://runbooks.example.com/ml/credit-limit#errors"),
        Alert(rule="p95_latency", model=incident.model, severity="warning", owner="credit-decisioning-oncall",
              state="resolved", value=540.0, threshold=250.0, fired_at=clock.at(start - 10 * minute),
              resolved_at=clock.at(end - 12 * minute), runbook="https://runbooks.example.com/ml/credit-limit#latency"),
        Alert(rule="feature_drift:language", model="ticket-router", severity="warning",
              owner="support-platform-oncall", state="firing", value=0.41, threshold=0.2,
              fired_at=clock.at(ticket_drift.start_days_ago - 0.25), acked_by=JORGE, acked_at=clock.at(3 / 24),
              runbook="https://runbooks.example.com/ml/ticket-router#drift"),
    ]
    return {(alert.model, alert.rule): store.alerts.add(alert) for alert in rows}


def signoffs(store: Store, clock: Clock) -> None:
    for model, version, role, days, who in SIGNOFFS:
        store.checklist.add_signoff(SignOff(model=model, version=version, role=role,
                                            signed_by=who or ROLE_PEOPLE[role], signed_at=clock.at(days),
                                            expires_at=clock.at(days) + SIGNOFF_DAYS * DAY_MS))
    for model, days, who, note in REVIEWS:
        store.checklist.add_review(Review(model=model, reviewed_by=who, reviewed_at=clock.at(days), note=note))
