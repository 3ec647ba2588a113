"""The ONE monitor function (refresh a model's drift windows, then judge its rules) and the store's own
error types that it, the CLI and the console act on."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from app.alerts.monitor import refresh_model
from app.config.settings import Settings
from app.drift.windows import HOUR_MS, SETTLE_MS
from app.store import Store, StoreBusy, StoreError, StoreReadOnly
from app.store.files import set_busy_timeout
from tests.integration.test_drift_windows import DAY0, put_baseline, traffic

SETTINGS = Settings.model_validate({"models": {
    "fraud": {"owner": "risk-ml", "alerts": [{"metric": "feature_drift:amount", "severity": "critical"}]},
    "router": {"owner": "ops", "alerts": [{"metric": "error_rate", "threshold": 0.1, "window": "1h"}]},
}})
NOW = DAY0 + 2 * HOUR_MS + SETTLE_MS


def drifted_store(store_path) -> None:
    with Store.open(store_path) as setup:
        put_baseline(setup, "fraud", "v1", np.random.default_rng(7))
        traffic(setup, "fraud", "v1", 0, np.random.default_rng(8), n=800)
        traffic(setup, "fraud", "v1", 1, np.random.default_rng(9), n=800, shift=30)


def test_one_refresh_computes_the_new_windows_and_the_rules_see_them_at_once(store_path):
    drifted_store(store_path)
    with Store.open(store_path) as store:
        first = refresh_model(store, SETTINGS, "fraud", now=NOW)
        assert first.windows == 2 and not first.read_only and first.busy_with is None
        assert [(t.state, t.alert.rule, t.alert.owner) for t in first.transitions] == \
            [("firing", "feature_drift:amount", "risk-ml")]
        again = refresh_model(store, SETTINGS, "fraud", now=NOW)
        assert again.windows == 0 and again.transitions == []  # computed once, fired once


def test_a_model_without_baseline_only_has_its_rules_judged(store):
    from app.store.predictions import PredictionRow

    store.predictions.append([  # half of the last minute's requests failed
        PredictionRow(ts=NOW - 60_000 + i, model="router", version="r1", request_id=f"q{i}", entity_id=None,
                      prediction=None, score=None, label=None, latency_ms=1.0, status="error" if i % 2 else "ok",
                      error=None, features=None, context=None, fts_text="")
        for i in range(20)])
    result = refresh_model(store, SETTINGS, "router", now=NOW)
    assert result.windows == 0
    assert [(t.state, t.alert.rule) for t in result.transitions] == [("firing", "error_rate")]


def test_a_read_only_store_is_refreshed_into_nothing_and_not_an_error(store_path):
    drifted_store(store_path)
    with Store.open(store_path, read_only=True) as store:
        result = refresh_model(store, SETTINGS, "fraud", now=NOW)
    assert result.read_only and result.windows == 0 and result.transitions == []
    with Store.open(store_path, read_only=True) as store:
        assert store.drift.computed_windows("fraud") == set()


def test_writing_to_a_read_only_store_raises_the_stores_own_type(store_path):
    Store.open(store_path).close()
    with Store.open(store_path, read_only=True) as store:
        with pytest.raises(StoreReadOnly) as raised:
            store.audit.append("note", "fraud")
    assert isinstance(raised.value, StoreError)


def test_a_write_lock_held_elsewhere_is_store_busy_naming_the_file(store_path):
    Store.open(store_path).close()
    other = sqlite3.connect(store_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(store_path) as store:
            set_busy_timeout(store, 50)
            with pytest.raises(StoreBusy, match="another process is writing"):
                with store.write():
                    store.audit.append("note", "fraud")
    finally:
        other.execute("ROLLBACK")
        other.close()
