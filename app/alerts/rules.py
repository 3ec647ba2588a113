"""Alert rules from the config, evaluated against the store: firing and resolved transitions, acknowledgement.

A rule watches one metric of one model:

- ``feature_drift:NAME`` / ``prediction_drift``: the latest computed drift window of that feature (or of the
  prediction). Without a threshold the stored verdict decides; with one, the value is compared in the
  method's own direction (p-values fire below it, distances at or above it).
- ``error_rate`` (fraction of requests with status error), ``p95_latency`` (ms): over the last ``window``
  of the prediction log; fire at or above the threshold.
- ``traffic_drop``: 1 - requests in the last ``window`` / requests in the window before; fires at or above
  the threshold (0.5 = traffic halved).
- ``traffic_drop`` with ``compare = "last_week"``: against the same window a week earlier (daily and weekly
  cycles make the window before a poor reference).
- ``no_traffic``: no request at all in the last ``window`` (e.g. 10m); needs no threshold.
- ``accuracy`` (answers equal to their label; fires at or *below* the threshold) and ``mae`` (mean absolute
  error; fires at or above): over the labelled answers of the last ``window``. Labels arrive late, so a
  window with fewer than ``min_labels`` labelled answers is not judged (the state is left as it is).
  Likewise ``min_requests`` for ``error_rate``, ``p95_latency`` and ``quarantine_rate``: a quiet hour's handful
  of requests is not judged.
- ``quarantine_rate``: the share of the model's log lines that ingest refused over the last ``window``: lines
  quarantined in the window that name the model (or, with ``source = "GLOB"``, came from matching files,
  even lines too broken to name one) / those lines + the model's predictions in the window. Meant for
  followed logs (``watch``, ``ingest --follow``), where a line is ingested as it is written; fires at or above
  the threshold (0.01 = 1 line in 100).
- ``schedule``: a notice every ``every`` (e.g. 30d, to trigger retraining through a webhook), counted from the
  last notice, else from the champion version's creation. It is stored as an alert fired and resolved at
  once (nothing stays firing on the fleet); ``modeldeck watch`` delivers it as a ``schedule`` event.

Two qualifiers make a rule mean something rather than flap on noise:

- ``for = "30m"`` (any rule): the condition must hold that long, pass after pass, before the alert fires, as
  in Prometheus. Until then the rule is *pending* (kept in the store, so a restart does not reset the clock);
  a pass where it does not hold clears it.
- ``windows = N`` (drift rules): the last N drift windows with enough rows must all drift (by the verdict, or
  by the threshold: the minimum effect). One noisy hour does not fire a rule that asks for three. Fewer than N
  judged windows within reach (a quiet night of thin hours) is no data: the state is left as it is.

Evaluation is edge-triggered: a rule that starts to hold adds a firing alert, a firing one that stops holding
is resolved; no data leaves the state alone. Acknowledging is an operator action, so it is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.config.settings import AlertRule
from app.models import Alert
from app.timeutil import now_ms, parse_duration_ms

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.models import DriftPoint
    from app.store import Store

FEATURE_DRIFT = "feature_drift:"
SCHEDULE = "schedule"
PREDICTION_FEATURE = "__prediction__"  # same name as app.drift.stats's, without importing numpy here


class AlertError(Exception):
    """An acknowledgement that cannot be done, worded for the operator."""


@dataclass(frozen=True)
class Observation:
    value: float | None
    holds: bool | None  # None: no data, the alert state is left as it is


@dataclass(frozen=True)
class Transition:
    state: str  # "firing" | "resolved"
    alert: Alert

    def __str__(self) -> str:
        a = self.alert
        value = "-" if a.value is None else f"{a.value:.4g}"
        threshold = "verdict" if a.threshold is None else f"{a.threshold:.4g}"
        owner = a.owner or "NO OWNER"
        if self.state == "scheduled":
            return f"scheduled: {a.model} {a.rule} {a.severity}, owner {owner}"
        return f"{self.state}: {a.model} {a.rule} value {value} (threshold {threshold}) {a.severity}, owner {owner}"


def rule_key(rule: AlertRule) -> str:
    return rule.name or rule.metric


def drift_feature(rule: AlertRule) -> str | None:
    if rule.metric == "prediction_drift":
        return PREDICTION_FEATURE
    if rule.metric.startswith(FEATURE_DRIFT):
        return rule.metric[len(FEATURE_DRIFT):]
    return None


def _drift_holds(point: "DriftPoint", threshold: float | None) -> bool:
    if threshold is None:
        return point.drifted
    if point.method == "ks":
        return point.value <= threshold
    if point.method in ("chisquare", "z"):
        return point.value < threshold
    return point.value >= threshold


def _judged_drift(store: "Store", model: str, min_rows: int | None) -> dict[str, "DriftPoint"]:
    """The newest hourly window with enough current rows: a window with too few rows never fires a rule."""
    from app.drift.verdicts import DEFAULT_MIN_ROWS
    from app.drift.windows import latest_verdict_window

    points = latest_verdict_window(store, model, DEFAULT_MIN_ROWS if min_rows is None else min_rows)
    return {p.feature: p for p in points}


def _consecutive_drift(store: "Store", model: str, rule: AlertRule, feature: str, min_rows: int | None,
                       latest: "DriftPoint") -> Observation:
    """Whether the newest ``rule.windows`` judged windows of ``feature`` (ending with ``latest``) all drift."""
    from app.drift.verdicts import DEFAULT_MIN_ROWS

    floor = DEFAULT_MIN_ROWS if min_rows is None else min_rows
    span = latest.window_end - latest.window_start
    since = latest.window_start - (rule.windows * 4) * span  # a few sparse hours may sit between judged ones
    judged = [p for p in store.drift.series(model, feature, since)
              if p.window_end - p.window_start == span and p.n_current >= floor and p.window_start <= latest.window_start]
    recent = judged[-rule.windows:]
    if len(recent) < rule.windows:
        # Too few judged windows to tell (a quiet night between busy hours, or a start): not judged, so a
        # firing alert is not resolved by the night and fired again in the morning.
        return Observation(latest.value, None)
    return Observation(latest.value, all(_drift_holds(p, rule.threshold) for p in recent))


def observe(store: "Store", model: str, rule: AlertRule, *, now: int,
            latest_drift: dict[str, "DriftPoint"] | None = None, min_rows: int | None = None) -> Observation:
    feature = drift_feature(rule)
    if feature is not None:
        if latest_drift is None:
            latest_drift = _judged_drift(store, model, min_rows)
        point = latest_drift.get(feature)
        if point is None:
            return Observation(None, None)
        if rule.windows > 1:
            return _consecutive_drift(store, model, rule, feature, min_rows, point)
        return Observation(point.value, _drift_holds(point, rule.threshold))
    window = parse_duration_ms(rule.window)
    if rule.metric == "no_traffic":
        requests = store.predictions.window_stats(model, now - window, now).requests
        return Observation(float(requests), requests == 0)
    if rule.threshold is None:
        return Observation(None, None)  # nothing to compare with: flagged by unowned/invalid rule checks
    if rule.metric in ("accuracy", "mae"):
        labelled, correct, mae = store.predictions.label_stats(model, now - window, now)
        if labelled < rule.min_labels:
            return Observation(None, None)  # the labels have not arrived yet: not judged
        if rule.metric == "accuracy":
            accuracy = correct / labelled
            return Observation(accuracy, accuracy <= rule.threshold)
        return Observation(mae, None if mae is None else mae >= rule.threshold)
    stats = store.predictions.window_stats(model, now - window, now)
    if rule.metric == "quarantine_rate":
        refused = store.quarantine.count_between(now - window, now, model=model, source_glob=rule.source)
        lines = refused + stats.requests
        if lines == 0 or lines < rule.min_requests:
            return Observation(None, None)  # nothing (or too little) arrived: nothing to judge
        return Observation(refused / lines, refused / lines >= rule.threshold)
    if rule.metric in ("error_rate", "p95_latency") and stats.requests < rule.min_requests:
        return Observation(None, None)  # too few requests to tell a rate from noise: not judged
    if rule.metric == "error_rate":
        value = stats.error_rate
    elif rule.metric == "p95_latency":
        value = stats.p95_latency_ms
    else:  # traffic_drop
        back = 7 * 86_400_000 if rule.compare == "last_week" else window
        before = store.predictions.window_stats(model, now - back - window, now - back).requests
        value = None if before == 0 else 1 - stats.requests / before
    if value is None:
        return Observation(None, None)
    return Observation(value, value >= rule.threshold)


def evaluate(store: "Store", model: str, rules: list[AlertRule], *, model_owner: str | None = None,
             now: int | None = None, min_rows: int | None = None) -> list[Transition]:
    """Fire the rules that start to hold and resolve the firing ones that stopped holding."""
    now = now_ms() if now is None else now
    firing = {alert.rule: alert for alert in store.alerts.firing(model)}
    latest_drift = None
    if any(drift_feature(rule) is not None for rule in rules):
        latest_drift = _judged_drift(store, model, min_rows)
    transitions = []
    for rule in rules:
        if rule.metric == SCHEDULE:
            notice = _scheduled(store, model, rule, model_owner, now)
            if notice is not None:
                transitions.append(notice)
            continue
        seen = observe(store, model, rule, now=now, latest_drift=latest_drift, min_rows=min_rows)
        if seen.holds is None:
            continue
        key = rule_key(rule)
        current = firing.get(key)
        if rule.for_ is not None and current is None:
            if not seen.holds:
                store.alerts.clear_pending(model, key)
                continue
            if now - store.alerts.pending_since(model, key, now) < parse_duration_ms(rule.for_):
                continue  # pending: holds, not for long enough yet
            store.alerts.clear_pending(model, key)
        if seen.holds and current is None:
            alert = Alert(rule=key, model=model, severity=rule.severity, owner=rule_owner(rule, model_owner),
                          state="firing", value=seen.value, threshold=rule.threshold, fired_at=now,
                          runbook=rule.runbook)
            alert.id = store.alerts.add(alert)
            firing[key] = alert
            transitions.append(Transition("firing", alert))
        elif not seen.holds and current is not None:
            store.alerts.resolve(current.id, now)  # type: ignore[arg-type]
            resolved = current.model_copy(update={"state": "resolved", "resolved_at": now})
            del firing[key]
            transitions.append(Transition("resolved", resolved))
    return transitions


def schedule_due(store: "Store", model: str, rule: AlertRule, now: int) -> bool:
    last = store.alerts.last_fired(model, rule_key(rule))
    if last is None:
        champion = next((v for v in store.registry.versions(model) if v.stage.value == "champion"), None)
        last = champion.created_at if champion is not None else None
    return last is None or now - last >= parse_duration_ms(rule.every or "30d")


def _scheduled(store: "Store", model: str, rule: AlertRule, model_owner: str | None, now: int) -> Transition | None:
    if not schedule_due(store, model, rule, now):
        return None
    alert = Alert(rule=rule_key(rule), model=model, severity=rule.severity, owner=rule_owner(rule, model_owner),
                  state="resolved", fired_at=now, resolved_at=now, runbook=rule.runbook)
    alert.id = store.alerts.add(alert)
    return Transition("scheduled", alert)


def schedule_rules(settings: "Settings") -> set[tuple[str, str]]:
    """(model, rule key) of every schedule rule: their alerts are notices, not conditions."""
    return {(model, rule_key(rule)) for model, config in settings.models.items() for rule in config.alerts
            if rule.metric == SCHEDULE}


def owner_of_model(store: "Store | None", settings: "Settings | None", model: str) -> str | None:
    """Who answers a model's rules that name nobody: the model's owner, from the store's registry or,
    failing that, from ``[models.MODEL] owner`` (the same precedence as the readiness checklist)."""
    info = store.registry.model(model) if store is not None else None
    config = settings.models.get(model) if settings is not None else None
    return _present(info.owner if info else None) or _present(config.owner if config else None)


def rule_owner(rule: AlertRule, fallback: str | None) -> str | None:
    """A rule's own owner, else the model's (``fallback``); None when neither names anybody."""
    return _present(rule.owner) or _present(fallback)


def _present(text: str | None) -> str | None:
    return text.strip() if text and text.strip() else None


def evaluate_model(store: "Store", settings: "Settings", model: str, *, now: int | None = None) -> list[Transition]:
    """Evaluate the rules configured under ``[models.MODEL]``; none configured, nothing happens."""
    config = settings.models.get(model)
    if config is None or not config.alerts:
        return []
    return evaluate(store, model, config.alerts, model_owner=owner_of_model(store, settings, model), now=now,
                    min_rows=config.drift_min_rows)


def unowned_rules(settings: "Settings", model: str, *, store: "Store | None" = None) -> list[str]:
    """Rules nobody answers: no owner on the rule and none on the model (registry or config).
    The readiness checklist flags them (app/checklist/rules.py, monitoring)."""
    config = settings.models.get(model)
    if config is None:
        return []
    fallback = owner_of_model(store, settings, model)
    return [rule_key(rule) for rule in config.alerts if rule_owner(rule, fallback) is None]


def acknowledge(store: "Store", alert_id: int, actor: str | None = None, *, now: int | None = None,
                settings: "Settings | None" = None) -> Alert:
    """Mark a firing alert as seen by ``actor`` (default: $USER@host), with an audit entry, atomically.
    Refused (audited) when ``settings`` say read-only."""
    from app.guard import refuse_if_read_only
    from app.store.identity import current_actor

    actor = actor or current_actor()
    now = now_ms() if now is None else now
    alert = next((a for a in store.alerts.firing() if a.id == alert_id), None)
    if alert is None:
        raise AlertError(f"no firing alert #{alert_id}")
    refuse_if_read_only(store, settings, "alert.acknowledge", alert.model, actor=actor, detail={"alert_id": alert_id})
    with store.write():
        store.alerts.acknowledge(alert_id, actor, now)
        store.audit.append("alert.acknowledge", alert.model, actor=actor, ts=now, outcome="acknowledged",
                           detail={"alert_id": alert_id, "rule": alert.rule, "severity": alert.severity,
                                   "owner": alert.owner, "fired_at": alert.fired_at})
    return alert.model_copy(update={"acked_by": actor, "acked_at": now})


def acknowledge_model(store: "Store", model: str, actor: str | None = None, *, now: int | None = None,
                      settings: "Settings | None" = None) -> list[Alert]:
    """Acknowledge every firing alert of ``model`` nobody has acknowledged yet (one audit entry each)."""
    return [acknowledge(store, alert.id, actor, now=now, settings=settings)  # type: ignore[arg-type]
            for alert in reversed(store.alerts.firing(model)) if alert.acked_by is None]


@dataclass(frozen=True)
class AlertQuery:
    """What an alert list shows and acts on, handed to the widget by its screen (widgets never open the
    store themselves). Both methods block: call them from a thread worker."""

    db_path: Path
    model: str | None = None  # None: every model (the fleet)
    resolved_limit: int = 5

    def run(self) -> list[Alert]:
        from app.store import Store

        with Store.open(self.db_path, create=False) as store:  # the console never creates a store
            return store.alerts.recent(self.model, resolved_limit=self.resolved_limit)

    def acknowledge(self, model: str, *, now: int | None = None, settings: "Settings | None" = None) -> list[Alert]:
        from app.store import Store

        with Store.open(self.db_path, create=False) as store:  # the console never creates a store
            return acknowledge_model(store, model, now=now, settings=settings)
