"""The fleet overview as data: one ``FleetRow`` per model, worst first.

Pure reads from the store (no UI): the console calls ``fleet_rows`` in a worker thread and
renders the result; ``modeldeck`` commands may print it too. Costs per model: a few indexed
lookups and the last 15 minutes of its prediction log; nothing counts a whole table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from pydantic import BaseModel, Field

from app.checklist.areas import READINESS_AREAS
from app.config.settings import Settings
from app.models import Health, HealthState

if TYPE_CHECKING:
    from app.store import Store
    from app.store.location import StoreLocation

WINDOW_MS = 15 * 60_000
"""The window behind requests/min, p95 latency and error rate."""

# Thresholds that make a model "worse" in the sort (and earn a warning style on screen).
ERROR_RATE_BAD = 0.05
ERROR_RATE_WARN = 0.01

MIN_LIVE_REQUESTS = round(1 / ERROR_RATE_BAD)
"""Fewest requests in the endpoint's live window (up to its last minute) for its p95 and Err% to replace
the log's 15-minute figures. Below it they are noise that reorders the fleet: with fewer than 20 requests
a single failure is already past ERROR_RATE_BAD (one request just after a model is re-enabled reads 100 %)
and the p95 of a few requests is their slowest one. Req/m needs no such bar: a count over a minute is a
fair rate however small (0 just after a disable is the news), and the rate does not enter the sort."""


class FleetRow(BaseModel):
    """One model as the fleet screen shows it."""

    name: str
    active_version: str | None = None
    health: HealthState = HealthState.unknown
    health_checked_at: int | None = Field(default=None, description="When the endpoint was last checked (epoch ms)")
    health_age_ms: int | None = Field(default=None, description="Age of that check at the time of the read")
    health_reason: str = Field(default="", description="Why it is not up, as the endpoint poller saw it")
    last_ok_at: int | None = Field(default=None, description="The endpoint's last good answer (epoch ms)")
    live_metrics: bool = Field(default=False, description="p95 and error rate from the endpoint's Prometheus "
                               "metrics (enough requests in its window) rather than the prediction log")
    live_rate: bool = Field(default=False, description="Requests/min from the endpoint's metrics")
    live_requests: float | None = Field(default=None, description="Requests the endpoint counted in its live "
                                        "window (None: no endpoint figures yet)")
    requests: int = 0
    requests_per_min: float = 0.0
    p95_latency_ms: float | None = None
    error_rate: float | None = None
    drift_feature: str | None = Field(default=None, description="The worst drifting input feature of the judged "
                                      "drift window (the prediction is reported by prediction_drifted)")
    drift_value: float | None = None
    drift_method: str | None = None
    # Input features only, as the drift screen counts them ("1/8 drifted"); the prediction on its own.
    drifted_features: int = 0
    drift_features: int = 0
    prediction_drifted: bool = False
    drift_since: int | None = Field(default=None, description="When the worst drifting feature started drifting: "
                                    "the first window of its current run of drifting windows (epoch ms)")
    drift_windows: int = Field(default=0, description="Windows in that run")
    drift_age_ms: int | None = Field(default=None, description="How long ago that run started, at the time of the read")
    readiness_passed: int = 0
    readiness_total: int = len(READINESS_AREAS)
    alerts_firing: int = 0
    # The monthly health review (modeldeck review): overdue when none, or the last is older than
    # governance.review_every_days.
    review_overdue: bool = False
    last_review_at: int | None = None
    last_review_by: str | None = None
    # What hurts (hurt_rank): firing alerts by severity and acknowledgement, and the error-rate rule's bar.
    critical_unacked: int = 0
    warnings_unacked: int = 0  # firing warning (or info) alerts nobody acknowledged
    acked: int = 0
    error_rate_limit: float = ERROR_RATE_BAD  # the model's error_rate rule threshold (lowest), else 5 %
    error_rate_min_requests: int = Field(default=MIN_LIVE_REQUESTS, description="Fewest requests behind the "
                                         "error rate for it to rank the model (the rule's min_requests, at least 20)")
    health_stale: bool = Field(default=False, description="The last check is older than three poll intervals "
                               "(at least 15 s): the state shown may no longer be true")

    @property
    def health_word(self) -> str:
        """The health state, or ``stale`` when the last check is too old to vouch for it."""
        return "stale" if self.health_stale else self.health.value

    @property
    def figures_source(self) -> str:
        """Where Req/m, p95 and Err% come from, and over which window (the fleet and the model screen
        show the same figures and say this)."""
        if self.live_metrics:
            return "endpoint metrics, last min"
        if self.live_rate:
            return "Req/m endpoint (last min); p95 Err% log (last 15 min)"
        return "prediction log, last 15 min"

    @property
    def severity(self) -> int:
        """How bad this model looks, in tiers: an outage outranks alerts, which outrank drift..."""
        score = 0
        if self.health is HealthState.down:
            score += 10_000
        elif self.health is HealthState.degraded:
            score += 5_000
        score += min(self.alerts_firing, 9) * 500
        if self.error_rate is not None:
            if self.error_rate >= ERROR_RATE_BAD:
                score += 400
            elif self.error_rate >= ERROR_RATE_WARN:
                score += 100
        if self.drifted_features or self.prediction_drifted:
            score += 200 + min(self.drifted_features + self.prediction_drifted, 9) * 10
        score += (self.readiness_total - self.readiness_passed) * 5
        return score

    @property
    def sort_key(self) -> tuple[int, int, str]:
        """Worst first by what hurts (hurt_rank); ties by name so the order is stable between refreshes."""
        return hurt_rank(self)


HURT_TIERS = ("down or critical alert unacknowledged", "error rate over its rule", "warning firing",
              "acknowledged", "healthy")


def hurt_tier(row: FleetRow) -> int:
    """The fleet's documented order (README, Console), an index into HURT_TIERS: an endpoint down or a critical
    alert nobody acknowledged; then an error rate at or over the model's error_rate rule (else 5 %); then
    firing warnings nobody acknowledged; then acknowledged alerts only; then healthy."""
    if row.health is HealthState.down or row.critical_unacked:
        return 0
    if row.error_rate is not None and row.error_rate >= row.error_rate_limit \
            and _error_rate_basis(row) >= row.error_rate_min_requests:
        return 1
    if row.warnings_unacked:
        return 2
    if row.acked:
        return 3
    return 4


def _error_rate_basis(row: FleetRow) -> float:
    """How many requests the shown error rate is over: one failure among the three requests of a quiet
    quarter hour is not a model failing a third of its traffic, and must not rank it above a firing alert."""
    return (row.live_requests or 0) if row.live_metrics else row.requests


def hurt_rank(row: FleetRow) -> tuple[int, int, str]:
    """Tier first; within a tier the finer severity score (degraded, drift, readiness), then the name."""
    return (hurt_tier(row), -row.severity, row.name)


def _worst_drift(points: list) -> tuple[str | None, float | None, str | None, int]:
    """The drift screen's verdict in one cell: among the input features of one judged window
    (app.drift.windows.latest_verdict_window), the drifting one furthest past its threshold (the screen's sort
    key) and how many drift; no feature when none does. The prediction is not a feature here, as on the drift
    screen ("1/8 drifted"): ``_prediction_drifted`` reports it. Ties by name, so the same window reads the same
    on every refresh."""
    from app.drift.verdicts import PREDICTION_FEATURE, drift_ratio

    drifting = [p for p in points if p.drifted and p.feature != PREDICTION_FEATURE]
    if not drifting:
        return None, None, None, 0
    worst = min(drifting, key=lambda p: (-drift_ratio(p.method, p.value, p.threshold), p.feature))
    return worst.feature, worst.value, worst.method, len(drifting)


def _prediction_drifted(points: list) -> bool:
    from app.drift.verdicts import PREDICTION_FEATURE

    return any(p.drifted for p in points if p.feature == PREDICTION_FEATURE)


def _judged_drift(store: "Store", settings: Settings, name: str, until: int | None = None) -> list:
    # The drift screen's window: the newest hourly one with enough rows (app/drift/windows.py).
    from app.drift.windows import latest_verdict_window, min_rows_for

    return latest_verdict_window(store, name, min_rows_for(settings, name), until=until)


def _run(store: "Store", settings: Settings, name: str, points: list, feature: str | None) -> tuple[int | None, int]:
    """Since when the worst feature (the one the Drift cell names) drifts, as the drift screen says it."""
    from app.drift.windows import min_rows_for, run_since

    point = next((p for p in points if p.feature == feature), None) if feature is not None else None
    if point is None:
        return None, 0
    run = run_since(store, name, point, min_rows_for(settings, name))
    return run.since, run.windows


def _live_figures(row: FleetRow, result: object | None) -> FleetRow:
    """Figures from the endpoint's last poll (an ``app.endpoints.poller.PollResult``) replace the
    log-derived ones it provides: the endpoint sees every request, the log only what was shipped.
    The rate always; p95 and error rate only when they rest on MIN_LIVE_REQUESTS requests or more, else
    the row keeps the log's (both, so the two never come from different windows)."""
    metrics = getattr(result, "metrics", None)
    update: dict = {}
    if getattr(result, "active_version", None):
        update["active_version"] = result.active_version  # type: ignore[union-attr]
    if metrics is not None:
        update["live_requests"] = metrics.window_requests
        if metrics.request_rate is not None:
            update.update(requests_per_min=metrics.request_rate * 60, live_rate=True)
    if metrics is not None and (metrics.window_requests or 0) >= MIN_LIVE_REQUESTS:
        figures: dict = {}
        if metrics.error_rate is not None:
            figures["error_rate"] = metrics.error_rate
        if "p95" in metrics.latency_ms:
            figures["p95_latency_ms"] = metrics.latency_ms["p95"]
        update.update(figures, live_metrics=bool(figures))
    return row.model_copy(update=update) if update else row


STALE_MIN_MS = 15_000


def _stale(settings: Settings, name: str, age_ms: int | None, *, recorded: bool = False) -> bool:
    """Whether a check this old no longer vouches for its state. ``recorded``: a check read back from the
    store (time travel), judged even when the model's endpoint is no longer configured."""
    config = settings.models.get(name)
    endpoint = config.endpoint if config else None
    if age_ms is None or (endpoint is None and not recorded):
        return False
    return age_ms > max(STALE_MIN_MS, 3_000 * (endpoint.poll_interval_s if endpoint else 0))


def _health_then(store: "Store", settings: Settings, at: int, names: set[str] | None) -> dict[str, Health]:
    """Each model's endpoint health as the poller recorded it at or before ``at`` (incident time travel):
    the state then, when it was checked and the last good answer. A record older than a sample period
    plus the stale limit reads as stale, as a live check that old would (fleet_rows)."""
    from app.store.metrics import HEALTH_CODES

    states = {code: HealthState(name) for name, code in HEALTH_CODES.items()}
    found: dict[str, Health] = {}
    for name in names if names is not None else ({i.name for i in store.registry.models()} | set(settings.models)):
        then = store.metrics.health_at(name, at)
        if then is None:
            continue
        ts, code, last_up = then
        found[name] = Health(state=states.get(code, HealthState.unknown), checked_at=ts, last_ok_at=last_up,
                             reason="as recorded then")
    return found


def fleet_rows(store: "Store", settings: Settings, now_ms: int,
               health: Mapping[str, Health] | None = None, live: Mapping[str, object] | None = None,
               names: set[str] | None = None, *, at: bool = False) -> list[FleetRow]:
    """Every known model (in the store or the config), worst first.

    ``health`` comes from the endpoint poller when there is one; without it health is unknown.
    ``live`` (model -> the poller's latest result) supplies the serving version and live traffic figures.
    ``at``: ``now_ms`` is a time in the past (incident time travel). The figures are the log's window before
    it, alerts those firing then, drift the last window closed by then, the version the audit says served
    then; nothing live (no poll reads the past).
    """
    from app.store.metrics import HEALTH_EVERY_MS

    if at:
        # No poll reads the past: the health checks the poller recorded by then (None: nothing recorded).
        health, live = _health_then(store, settings, now_ms, names), None
    from app.drift.verdicts import PREDICTION_FEATURE

    if names is None:  # one model (the model screen's header) reads exactly as its fleet row
        names = {info.name for info in store.registry.models()} | set(settings.models)
    # Viewing the past writes nothing: the verdicts recorded by then (the checklist's status history, schema
    # 17), not an evaluation (which records what it finds).
    passed = _readiness_then(store, now_ms, names) if at else readiness_counts(store, settings, now_ms, names,
                                                                              health or {})
    from app.checklist.evaluate import review_overdue

    reviews = store.checklist.last_reviews("health")
    firing: dict[str, int] = {}
    hurts: dict[str, dict[str, int]] = {}
    for alert in (store.alerts.firing_at(now_ms) if at else store.alerts.firing()):
        firing[alert.model] = firing.get(alert.model, 0) + 1
        kind = "acked" if alert.acked_by else "critical_unacked" if alert.severity == "critical" else "warnings_unacked"
        counts = hurts.setdefault(alert.model, {})
        counts[kind] = counts.get(kind, 0) + 1
    health = health or {}
    rows = []
    for name in names:
        # No champion named (a model known from its logs): the version the log saw last is what serves.
        active = store.registry.active_version(name) or store.registry.logged_version(name)
        version = active.version if active else None
        if at:
            from app.rollback.history import version_at

            version = version_at(store, name, now_ms) or version
        stats = store.predictions.window_stats(name, now_ms - WINDOW_MS, now_ms)
        drift = _judged_drift(store, settings, name, until=now_ms if at else None)
        feature, value, method, drifted = _worst_drift(drift)
        features = sum(1 for p in drift if p.feature != PREDICTION_FEATURE)
        run = _run(store, settings, name, drift, feature)
        seen = health.get(name) or Health()
        rows.append(FleetRow(
            name=name,
            active_version=version,
            health=seen.state,
            health_checked_at=seen.checked_at,
            health_age_ms=(now_ms - seen.checked_at) if seen.checked_at is not None else None,
            # In the past a state is recorded once a HEALTH_EVERY_MS while it holds: stale only past that too.
            health_stale=_stale(settings, name, None if seen.checked_at is None else
                                now_ms - seen.checked_at - (HEALTH_EVERY_MS if at else 0), recorded=at),
            health_reason=seen.reason,
            last_ok_at=seen.last_ok_at,
            requests=stats.requests,
            requests_per_min=stats.requests_per_minute,
            p95_latency_ms=stats.p95_latency_ms,
            error_rate=stats.error_rate,
            drift_feature=feature,
            drift_value=value,
            drift_method=method,
            drifted_features=drifted,
            drift_features=features,
            prediction_drifted=_prediction_drifted(drift),
            drift_since=run[0],
            drift_windows=run[1],
            drift_age_ms=max(0, now_ms - run[0]) if run[0] is not None else None,
            readiness_passed=passed.get(name, 0),
            alerts_firing=firing.get(name, 0),
            review_overdue=review_overdue(reviews.get(name), settings=settings, now=now_ms),
            last_review_at=reviews[name].reviewed_at if name in reviews else None,
            last_review_by=reviews[name].reviewed_by if name in reviews else None,
            error_rate_limit=_error_rate_limit(settings, name),
            error_rate_min_requests=_error_rate_min_requests(settings, name),
            **hurts.get(name, {}),
        ))
    if live:
        rows = [_live_figures(row, live.get(row.name)) for row in rows]
    rows.sort(key=hurt_rank)
    return rows


def _error_rate_limit(settings: Settings, name: str) -> float:
    config = settings.models.get(name)
    limits = [rule.threshold for rule in (config.alerts if config else [])
              if rule.metric == "error_rate" and rule.threshold is not None]
    return min(limits) if limits else ERROR_RATE_BAD


def _error_rate_min_requests(settings: Settings, name: str) -> int:
    config = settings.models.get(name)
    bars = [rule.min_requests for rule in (config.alerts if config else []) if rule.metric == "error_rate"]
    return max([MIN_LIVE_REQUESTS, *bars])


def read_fleet(location: "StoreLocation", settings: Settings, now_ms: int,
               health: Mapping[str, Health] | None = None, live: Mapping[str, object] | None = None,
               *, at: bool = False) -> list[FleetRow]:
    """``fleet_rows`` of the store at ``location``; a deleted store is said (StoreError), not re-created.
    ``at``: ``now_ms`` is the past the console travelled to."""
    with location.open() as store:
        return fleet_rows(store, settings, now_ms, health, live, at=at)


def _readiness_then(store: "Store", at: int, names: set[str]) -> dict[str, int]:
    """Areas passed or waived per model as they stood at ``at``: the model screen's Readiness tab then
    (app.views.model.checklist_then), counted."""
    from app.checklist.evaluate import readiness_score
    from app.views.model import checklist_then

    return {name: readiness_score(checklist_then(store, name, at))[0] for name in names}


def readiness_counts(store: "Store", settings: Settings, now_ms: int, names: set[str],
                     health: Mapping[str, Health]) -> dict[str, int]:
    """Areas passed or waived per model, from the same evaluation the model screen runs (a few ms a
    model): the fleet's n/8 must not disagree with the Readiness tab until the model is opened. Its reads of
    the log are remembered by the store while nothing new is logged (app/store/log_memo.py): an idle
    refresh reads none of them again."""
    from app.checklist import evaluate as checklist

    counts = store.checklist.passed_counts()  # models only in the config have nothing to evaluate
    for name in names:
        try:
            items = checklist.evaluate(store, name, settings=settings, now=now_ms, health=health.get(name))
        except checklist.UnknownModel:
            continue
        counts[name] = checklist.readiness_score(items)[0]
    return counts
