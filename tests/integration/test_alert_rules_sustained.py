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


def _answers(store: Store, model: str, at: int, predictions: list, labels: list, tag: str) -> None:
    store.predictions.append([
        PredictionRow(ts=at + i, model=model, version="v1", request_id=f"{tag}{i}", entity_id=None, prediction=p,
                      score=None, label=y, latency_ms=1.0, status="ok", error=None, features=None, context=None,
                      fts_text="") for i, (p, y) in enumerate(zip(predictions, labels))])


def test_accuracy_is_judged_only_once_enough_labels_arrived_and_mae_on_numbers(store_path):
    settings = Settings.model_validate({"models": {
        "clf": {"owner": "ml", "alerts": [{"metric": "accuracy", "threshold": 0.8, "window": "1d", "min_labels": 50}]},
        "reg": {"owner": "ml", "alerts": [{"metric": "mae", "threshold": 5.0, "window": "1d", "min_labels": 10}]}}})
    now = DAY0 + HOUR_MS
    with Store.open(store_path) as store:
        # 100 answers, 60 % right, but only 20 labels so far: not judged.
        _answers(store, "clf", DAY0, [1] * 100, [1, 0, 1, 1, 0] * 4 + [None] * 80, "a")
        assert refresh_model(store, settings, "clf", now=now).transitions == []
        # The late labels arrive (a re-ingest with labels fills them): 60 labelled of 100, accuracy 0.6.
        _answers(store, "clf", DAY0, [1] * 100, [1, 0, 1, 1, 0] * 12 + [None] * 40, "a")
        fired = refresh_model(store, settings, "clf", now=now).transitions
        assert [(t.state, t.alert.rule, round(t.alert.value, 2)) for t in fired] == [("firing", "accuracy", 0.6)]
        _answers(store, "reg", DAY0, [10.0 + i for i in range(12)], [i for i in range(12)], "r")  # off by 10
        fired = refresh_model(store, settings, "reg", now=now).transitions
    assert [(t.alert.rule, t.alert.value) for t in fired] == [("mae", 10.0)]


def test_no_traffic_and_traffic_drop_against_the_same_hour_last_week(store_path):
    week = 7 * 24 * HOUR_MS
    settings = Settings.model_validate({"models": {"shop": {"owner": "ops", "alerts": [
        {"metric": "no_traffic", "window": "10m", "severity": "critical"},
        {"metric": "traffic_drop", "threshold": 0.5, "window": "1h", "compare": "last_week"}]}}})
    now = DAY0 + week + 10 * HOUR_MS
    with Store.open(store_path) as store:
        _answers(store, "shop", now - week - HOUR_MS, [1] * 100, [None] * 100, "lastweek")  # same hour, a week ago
        _answers(store, "shop", now - 2 * HOUR_MS, [1] * 10, [None] * 10, "before")  # the hour before: quiet anyway
        _answers(store, "shop", now - HOUR_MS, [1] * 30, [None] * 30, "now")  # 30 against last week's 100
        fired = refresh_model(store, settings, "shop", now=now).transitions
        # Against the hour before (10 -> 30) traffic rose; against last week it fell by 70 %. No request in the
        # last 10 minutes either: the rows sit in the first 30 ms of the hour.
        assert sorted((t.alert.rule, round(t.alert.value, 2)) for t in fired) == [("no_traffic", 0.0),
                                                                                  ("traffic_drop", 0.7)]
        _answers(store, "shop", now - 60_000, [1], [None], "late")
        resolved = refresh_model(store, settings, "shop", now=now).transitions
    assert [(t.state, t.alert.rule) for t in resolved] == [("resolved", "no_traffic")]


def test_a_quiet_hour_neither_fires_an_error_rule_nor_resolves_a_sustained_drift(store_path):
    """``min_requests``: one error in a quiet hour's few requests is not judged; and a drift alert that fired on
    three drifting hours is not resolved by night hours with too few rows to judge (it was, then fired again
    in the morning: a page a night)."""
    settings = Settings.model_validate({"models": {"fraud": {"owner": "risk", "alerts": [
        {"metric": "error_rate", "threshold": 0.1, "window": "1h", "min_requests": 20},
        {"metric": "feature_drift:amount", "windows": 3}]}}})
    with Store.open(store_path) as store:
        put_baseline(store, "fraud", "v1", np.random.default_rng(1))
        rng = np.random.default_rng(2)
        for hour in (0, 1, 2):  # three drifting busy hours, a 14-hour night of 20-row hours (under min rows)
            traffic(store, "fraud", "v1", hour, rng, n=600, shift=30)
        for hour in range(3, 17):
            traffic(store, "fraud", "v1", hour, rng, n=20, shift=30)
        traffic(store, "fraud", "v1", 17, rng, n=600, shift=30)  # morning: still drifting
        _errors(store, DAY0 + 16 * HOUR_MS + 10, 1, failing=True, tag="night")  # 1 error in 21 requests
        states = []
        for hour in range(3, 19):
            fired = refresh_model(store, settings, "fraud", now=DAY0 + hour * HOUR_MS + SETTLE_MS).transitions
            states += [(hour, t.state, t.alert.rule) for t in fired]
    assert states == [(3, "firing", "feature_drift:amount")]
