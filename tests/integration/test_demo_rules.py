"""Issue 15: the demo's normal days raise nothing, its real episodes do.

The demo team's rules (data/demo-monitoring.toml, what `modeldeck demo` applies and writes into demo.toml)
run hour by hour over the demo's 30 days through the one monitor flow, ``refresh_model`` (what the console's
monitor and ``modeldeck watch`` call each pass): drift windows computed as each hour closes, then every rule
judged. Every alert that fires must belong to one of the story's episodes (the fraud-scorer amount drift, the
ticket-router language shift, the credit-limit incident), and each of them must fire.

A real demo store (SQLite, the demo generator), smaller than the shipped one so the test stays in a couple of
minutes: 300,000 rows (hourly drift windows of fewer than 100 rows are not judged, so the quiet night hours
drop out) and 2,000-row baselines (the drift statistics' cost grows with the reference). A smaller store is
noisier per window than the 1,000,000-row demo, so normal days that stay quiet here stay quiet there.
"""

from __future__ import annotations

import pytest

from app.alerts.monitor import refresh_model
from app.config.settings import Settings
from app.demo.build import build_demo_store
from app.demo.catalogue import DRIFT_EPISODES, INCIDENT, MODELS
from app.demo.monitoring import with_demo_monitoring
from app.demo.traffic import Clock
from app.drift.windows import HOUR_MS, SETTLE_MS
from app.store import Store

NOW_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z
STEP_MS = HOUR_MS // 2  # a pass every 30 minutes: 15-minute rules see half the time, drift every closed hour
ROWS = 300_000

pytestmark = pytest.mark.slow  # about a minute of CPU: a 300,000-row demo and 2,880 hourly drift windows


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str, str, str]]:
    """(time, state, model, rule) of every alert transition over the 30 days, oldest first."""
    path = tmp_path_factory.mktemp("demo-rules") / "demo.db"
    summary = build_demo_store(path, rows=ROWS, now_ms=NOW_MS, baseline_rows=2_000)
    settings = with_demo_monitoring(Settings(), None)
    assert all(settings.models[spec.name].alerts for spec in MODELS)
    out = []
    with Store.open(path) as store:
        # The story's own alert (ticket-router's language drift, firing at the build) is history told by the
        # build: this run starts with nothing firing and judges the 30 days itself.
        for alert in store.alerts.firing():
            store.alerts.resolve(alert.id, summary.start_ms)
        t = summary.start_ms + 2 * HOUR_MS + SETTLE_MS
        while t <= NOW_MS + SETTLE_MS:
            for spec in MODELS:
                result = refresh_model(store, settings, spec.name, now=t, since=t - 2 * HOUR_MS - SETTLE_MS, until=t)
                out += [(t, tr.state, spec.name, tr.alert.rule) for tr in result.transitions]
            t += STEP_MS
    return out


def _episodes() -> dict[str, list[tuple[int, int]]]:
    """Model -> the spans (ms) when the story says something is wrong, with room for the rules' delay: three
    drifting hours (plus the pass that sees the third), or the 15-minute window held 10 minutes."""
    clock = Clock(now=NOW_MS)
    spans: dict[str, list[tuple[int, int]]] = {}
    for episode in DRIFT_EPISODES:
        spans.setdefault(episode.model, []).append(
            (clock.at(episode.start_days_ago), clock.at(episode.end_days_ago) + 5 * HOUR_MS))
    spans.setdefault(INCIDENT.model, []).append(
        (clock.at(INCIDENT.start_days_ago), clock.at(INCIDENT.end_days_ago) + HOUR_MS))
    return spans


def test_the_demos_normal_days_raise_nothing(history) -> None:
    spans = _episodes()
    outside = [(t, state, model, rule) for t, state, model, rule in history
               if state == "firing" and not any(start <= t <= end for start, end in spans.get(model, []))]
    assert outside == []


def test_its_episodes_and_the_incident_fire(history) -> None:
    spans = _episodes()
    fired = {(model, rule) for t, state, model, rule in history if state == "firing"
             and any(start <= t <= end for start, end in spans[model])}
    fraud, tickets = DRIFT_EPISODES
    assert {(fraud.model, f"feature_drift:{fraud.feature}"), (tickets.model, f"feature_drift:{tickets.feature}"),
            (INCIDENT.model, "error_rate"), (INCIDENT.model, "p95_latency")} <= fired, sorted(fired)
    # Once over, the incident's alerts resolve (the drift episode of ticket-router is still going on).
    resolved = {(model, rule) for _, state, model, rule in history if state == "resolved"}
    assert {(INCIDENT.model, "error_rate"), (INCIDENT.model, "p95_latency"),
            (fraud.model, f"feature_drift:{fraud.feature}")} <= resolved

