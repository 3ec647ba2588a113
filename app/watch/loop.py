"""``modeldeck watch``: monitoring without a console. One pass, repeated every ``[watch] interval_s``:

1. read the followed logs up to their end (``app.ingest.run.Follower``: rows and offsets commit together);
2. poll every configured endpoint once and store its metric samples (``app.endpoints.poller``);
3. for every model, ``app.alerts.monitor.refresh_model``: the drift windows that closed, then the rules;
4. deliver what the alerts table owes the ``[[notify]]`` targets (``app.alerts.notify``);
5. publish the figures ``/metrics`` serves (``app.watch.exposition``), read once per pass, never per scrape.

Each step's failure is reported and counted, and the next step still runs: a dead endpoint must not stop
the drift alerts. The pass is the unit of work: SIGTERM lets the current one finish, then stops.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.alerts.notify import Notifier
    from app.config.settings import Settings
    from app.endpoints.poller import Poller
    from app.ingest.run import Follower
    from app.store import Store

TRAFFIC_WINDOW_MS = 3_600_000  # the model figures (error rate, p95, traffic) cover the last hour


@dataclass(frozen=True)
class FeatureFigure:
    model: str
    version: str
    feature: str
    method: str
    value: float
    drifted: bool


@dataclass(frozen=True)
class VersionFigure:
    model: str
    version: str
    requests: int
    error_rate: float | None
    p95_ms: float | None


@dataclass
class Snapshot:
    """What /metrics serves: written by the pass, read by the scrape thread (replaced whole, never mutated)."""

    passes: int = 0
    last_pass_at: float | None = None  # unix seconds
    last_pass_seconds: float = 0.0
    pass_errors: int = 0
    lag_bytes: dict[str, int] = field(default_factory=dict)
    lines_read: int = 0
    quarantined: int = 0
    delivered: dict[str, int] = field(default_factory=dict)  # target -> deliveries delivered (store totals)
    delivery_failures: dict[str, int] = field(default_factory=dict)  # target -> failed or dropped
    delivery_queue: int = 0
    features: list[FeatureFigure] = field(default_factory=list)
    versions: list[VersionFigure] = field(default_factory=list)
    firing: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, severity) -> firing alerts
    endpoint_up: dict[str, int] = field(default_factory=dict)  # model -> 1 up/degraded, 0 down/unknown


@dataclass
class PassReport:
    seconds: float = 0.0
    lines: int = 0
    windows: int = 0
    transitions: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Watcher:
    """The watch process's state across passes: followed files, the endpoint poller, the notifier."""

    def __init__(self, settings: "Settings", db_path: Path, *, clock: Callable[[], int] = now_ms,
                 note: Callable[[str], None] = lambda message: None) -> None:
        from app.store import Store

        self.settings = settings
        self.db_path = db_path
        self.clock = clock
        self.note = note
        self.snapshot = Snapshot()
        self.store: "Store" = Store.open(db_path)
        self._follower: "Follower | None" = None
        if settings.watch.follow:
            from app.ingest.run import Follower

            self._follower = Follower(self.store, settings.watch.follow, note=note,
                                      allow_swapped_link=settings.ingest.allow_swapped_link)
        self._loop = asyncio.new_event_loop()
        self._poller: "Poller | None" = None
        if any(config.endpoint or config.registry for config in settings.models.values()):
            from app.endpoints.poller import Poller

            async def make() -> "Poller":  # built inside the loop it will always run on
                return Poller.from_settings(settings, store_path=db_path)

            self._poller = self._loop.run_until_complete(make())
        self._notifier: "Notifier | None" = None
        if settings.notify:
            from app.alerts.notify import Notifier

            self._notifier = Notifier(settings)

    def close(self) -> None:
        if self._poller is not None:
            self._loop.run_until_complete(self._poller.aclose())
        self._loop.close()
        if self._notifier is not None:
            self._notifier.close()
        if self._follower is not None:
            self._follower.close()
        self.store.close()

    def run_pass(self) -> PassReport:
        report = PassReport()
        started = time.perf_counter()
        endpoint_up: dict[str, int] = {}
        self._step(report, "follow", lambda: self._follow(report))
        self._step(report, "endpoints", lambda: endpoint_up.update(self._poll()))
        self._step(report, "monitor", lambda: self._monitor(report))
        self._step(report, "notify", lambda: self._notify(report))
        self._step(report, "retention", lambda: self._prune(report))
        report.seconds = time.perf_counter() - started
        self._step(report, "metrics", lambda: self._publish(report, endpoint_up))
        return report

    def _step(self, report: PassReport, name: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # one step's failure is told and counted; the pass goes on
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}"[:300])

    def _follow(self, report: PassReport) -> None:
        if self._follower is None:
            return
        before = self._follower._run.summary.lines
        summary = self._follower.catch_up()
        report.lines = summary.lines - before

    def _poll(self) -> dict[str, int]:
        if self._poller is None:
            return {}
        from app.models import HealthState

        results = self._loop.run_until_complete(self._poller.poll_once())
        return {model: int(r.health.state in (HealthState.up, HealthState.degraded)) for model, r in results.items()}

    def _monitor(self, report: PassReport) -> None:
        from app.alerts.monitor import monitor_store

        outcome = monitor_store(self.store, self.settings, self.clock())
        report.windows = outcome.windows
        report.transitions = [str(t) for t in outcome.transitions]
        if outcome.read_only:
            report.errors.append("monitor: the store is read-only for this user: nothing computed")

    def _notify(self, report: PassReport) -> None:
        if self._notifier is None:
            return
        outcome = self._notifier.run(self.store, self.clock())
        report.deliveries = outcome.lines

    def _prune(self, report: PassReport) -> None:
        # [retention] prune = true: once a day, rows older than keep_days (app/checklist/retention.py).
        from app.checklist.retention import prune_if_due

        done = prune_if_due(self.store, self.settings, now=self.clock())
        if done is not None and done.rows:
            self.note(f"retention: pruned {done.rows} predictions" +
                      (f" into {len(done.files)} archive files" if done.files else ""))

    def _publish(self, report: PassReport, endpoint_up: dict[str, int]) -> None:
        previous = self.snapshot
        snapshot = read_figures(self.store, self.settings, self.clock())
        snapshot.passes = previous.passes + 1
        snapshot.last_pass_at = time.time()
        snapshot.last_pass_seconds = report.seconds
        snapshot.pass_errors = previous.pass_errors + len(report.errors)
        snapshot.endpoint_up = endpoint_up or previous.endpoint_up
        if self._follower is not None:
            snapshot.lag_bytes = self._follower.lag_bytes()
            snapshot.lines_read = self._follower._run.summary.lines
            snapshot.quarantined = self._follower._run.summary.quarantined
        self.snapshot = snapshot  # one assignment: a scrape sees the old figures or the new, never a mix


def read_figures(store: "Store", settings: "Settings", now: int) -> Snapshot:
    """The model-level figures: per model and version, the drift verdict window's value and verdict per
    feature, the last hour's error rate, p95 and traffic, and the firing alerts; delivery totals."""
    from app.drift.windows import latest_verdict_window, min_rows_for

    snapshot = Snapshot()
    models = dict.fromkeys([*store.baselines.models(), *settings.models, *store.predictions.logged_models()])
    for model in models:
        for point in latest_verdict_window(store, model, min_rows_for(settings, model)):
            snapshot.features.append(FeatureFigure(model, point.version or "", point.feature, point.method,
                                                   point.value, point.drifted))
        for version, stats in store.predictions.version_stats(model, now - TRAFFIC_WINDOW_MS, now).items():
            snapshot.versions.append(VersionFigure(model, version, stats.requests, stats.error_rate,
                                                   stats.p95_latency_ms))
    for alert in store.alerts.firing():
        key = (alert.model, alert.severity)
        snapshot.firing[key] = snapshot.firing.get(key, 0) + 1
    snapshot.delivered = store.deliveries.delivered()
    snapshot.delivery_failures = store.deliveries.failures()
    snapshot.delivery_queue = store.deliveries.outstanding()
    return snapshot
