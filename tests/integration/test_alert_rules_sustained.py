"""Rules that mean something (issue 15): ``for = "30m"`` fires only when the condition held that long, pass
after pass, and survives a restart; ``windows = N`` needs N consecutive drifting windows, so one noisy hour
raises nothing and a sustained episode does. Real SQLite stores, the one monitor flow (refresh_model)."""

from __future__ import annotations

import numpy as np

from app.alerts.monitor import refresh_model
from app.config.settings import Settings
from app.drift.windows import HOUR_MS, SETTLE_MS
from app.store import Store
from app.store.predictions import PredictionRow
from tests.integration.test_drift_windows import DAY0, put_baseline, traffic

MINUTE = 60_000


def _errors(store: Store, at: int, n: int, *, failing: bool, tag: str) -> None:
    store.predictions.append([
        PredictionRow(ts=at + i, model="router", version="r1", request_id=f"{tag}{i}", entity_id=None, prediction=None,
                      score=None, label=None, latency_ms=1.0, status="error" if failing else "ok", error=None,
                      features=None, context=None, fts_text="") for i in range(n)])


def test_for_30m_fires_only_after_the_condition_held_30_minutes_and_a_restart_keeps_the_clock(store_path):
    settings = Settings.model_validate({"models": {"router": {"owner": "ops", "alerts": [
        {"metric": "error_rate", "threshold": 0.5, "window": "5m", "for": "30m", "severity": "critical"}]}}})
    t0 = DAY0
    with Store.open(store_path) as store:
        _errors(store, t0 - MINUTE, 10, failing=True, tag="a")
        assert refresh_model(store, settings, "router", now=t0).transitions == []  # holds: pending
        _errors(store, t0 + 9 * MINUTE, 10, failing=False, tag="b")
        _errors(store, t0 + 9 * MINUTE + 100, 20, failing=False, tag="c")
        assert refresh_model(store, settings, "router", now=t0 + 10 * MINUTE).transitions == []  # stopped: cleared
        _errors(store, t0 + 19 * MINUTE, 40, failing=True, tag="d")
        assert refresh_model(store, settings, "router", now=t0 + 20 * MINUTE).transitions == []  # pending again
    for minute in (30, 45):  # a new process each time (the watcher restarted): the clock is the store's
        with Store.open(store_path) as store:
            _errors(store, t0 + (minute - 1) * MINUTE, 40, failing=True, tag=f"e{minute}")
            assert refresh_model(store, settings, "router", now=t0 + minute * MINUTE).transitions == []
    with Store.open(store_path) as store:
        _errors(store, t0 + 50 * MINUTE, 40, failing=True, tag="f")
        fired = refresh_model(store, settings, "router", now=t0 + 51 * MINUTE).transitions
    assert [(t.state, t.alert.rule, t.alert.fired_at) for t in fired] == [("firing", "error_rate", t0 + 51 * MINUTE)]


def test_a_drift_rule_needing_3_windows_ignores_a_noisy_hour_and_fires_on_an_episode(store_path):
    def rule(windows: int) -> Settings:
        return Settings.model_validate({"models": {"fraud": {"owner": "risk", "alerts": [
            {"metric": "feature_drift:amount", "windows": windows}]}}})

    with Store.open(store_path) as store:
        put_baseline(store, "fraud", "v1", np.random.default_rng(1))
        rng = np.random.default_rng(2)
        for hour, shift in enumerate([0, 30, 0, 0, 30, 30, 30]):  # one noisy hour, then a 3-hour episode
            traffic(store, "fraud", "v1", hour, rng, n=600, shift=shift)
        fired_at = {}
        for hour in range(1, 8):
            now = DAY0 + hour * HOUR_MS + SETTLE_MS
            sustained = refresh_model(store, rule(3), "fraud", now=now)
            if sustained.transitions:
                fired_at[hour] = [t.state for t in sustained.transitions]
    assert fired_at == {7: ["firing"]}  # windows 4, 5 and 6 drift: judged once window 6 closed

    # The same data with a single-window rule fires on the noisy hour already (what the qualifier prevents).
    with Store.open(store_path) as store:
        for alert in store.alerts.firing("fraud"):
            store.alerts.resolve(alert.id, DAY0)
        store.drift.invalidate("fraud", DAY0, DAY0 + 8 * HOUR_MS)
        noisy = refresh_model(store, rule(1), "fraud", now=DAY0 + 2 * HOUR_MS + SETTLE_MS)
    assert [t.state for t in noisy.transitions] == ["firing"]
