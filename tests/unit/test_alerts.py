"""Alert rules: firing and resolved transitions on a real store, and the audited acknowledgement."""

from __future__ import annotations

import pytest

from app.alerts.rules import AlertError, acknowledge, evaluate, evaluate_model, unowned_rules
from app.config.settings import AlertRule, Settings
from app.models import DriftPoint
from app.store.predictions import PredictionRow

T0 = 1_764_000_000_000
MINUTE = 60_000


def requests(store, start: int, n: int, *, errors: int = 0, latency: float = 10.0, tag: str = "r") -> None:
    store.predictions.append([
        PredictionRow(ts=start + i * 1000, model="fraud", version="v1", request_id=f"{tag}{start}-{i}",
                      entity_id=None, prediction=None, score=None, label=None, latency_ms=latency,
                      status="error" if i < errors else "ok", error="boom" if i < errors else None,
                      features=None, context=None, fts_text="")
        for i in range(n)
    ])


def drift_point(start: int, value: float, *, feature: str = "amount", method: str = "wasserstein") -> DriftPoint:
    threshold = 0.05 if method in ("ks", "chisquare", "z") else 0.1
    drifted = value <= threshold if method in ("ks", "chisquare", "z") else value >= threshold
    return DriftPoint(model="fraud", version="v1", feature=feature, window_start=start, window_end=start + 3600_000,
                      n_reference=5000, n_current=500, method=method, value=value, threshold=threshold,
                      drifted=drifted)


def test_error_rate_fires_once_then_resolves(store):
    rule = AlertRule(metric="error_rate", threshold=0.1, window="10m", severity="critical", owner="ana",
                     runbook="https://runbooks.example/errors")
    requests(store, T0, 100, errors=20)
    fired = evaluate(store, "fraud", [rule], now=T0 + 5 * MINUTE)
    assert [(t.state, t.alert.value) for t in fired] == [("firing", 0.2)]
    assert evaluate(store, "fraud", [rule], now=T0 + 6 * MINUTE) == []  # still firing: no second alert
    [alert] = store.alerts.firing("fraud")
    assert (alert.owner, alert.severity, alert.fired_at, alert.runbook) == \
        ("ana", "critical", T0 + 5 * MINUTE, "https://runbooks.example/errors")
    requests(store, T0 + 20 * MINUTE, 100, errors=0, tag="ok")
    resolved = evaluate(store, "fraud", [rule], now=T0 + 25 * MINUTE)
    assert [t.state for t in resolved] == ["resolved"] and resolved[0].alert.resolved_at == T0 + 25 * MINUTE
    assert store.alerts.firing("fraud") == []
    row = store.db.execute("SELECT state, resolved_at FROM alerts WHERE id = ?", (alert.id,)).fetchone()
    assert row == ("resolved", T0 + 25 * MINUTE)


def test_no_data_leaves_the_state_alone(store):
    rule = AlertRule(metric="p95_latency", threshold=200, window="5m")
    requests(store, T0, 50, latency=500)
    assert [t.state for t in evaluate(store, "fraud", [rule], now=T0 + MINUTE)] == ["firing"]
    assert evaluate(store, "fraud", [rule], now=T0 + 60 * MINUTE) == []  # no traffic at all: not "resolved"
    assert len(store.alerts.firing("fraud")) == 1


def test_traffic_drop_compares_with_the_window_before(store):
    rule = AlertRule(metric="traffic_drop", threshold=0.5, window="10m")
    requests(store, T0, 200, tag="before")
    requests(store, T0 + 10 * MINUTE, 80, tag="now")
    [transition] = evaluate(store, "fraud", [rule], now=T0 + 20 * MINUTE)
    assert transition.state == "firing" and transition.alert.value == pytest.approx(0.6)


def test_feature_drift_follows_the_latest_window_and_the_model_owner(store):
    rule = AlertRule(metric="feature_drift:amount")
    store.drift.put_many([drift_point(T0, 0.3)])
    [fired] = evaluate(store, "fraud", [rule], model_owner="risk-oncall", now=T0 + 2 * 3600_000)
    assert fired.alert.owner == "risk-oncall" and fired.alert.value == 0.3
    store.drift.put_many([drift_point(T0 + 3600_000, 0.02)])
    assert [t.state for t in evaluate(store, "fraud", [rule], now=T0 + 3 * 3600_000)] == ["resolved"]


def test_drift_rule_threshold_uses_the_methods_direction(store):
    store.drift.put_many([drift_point(T0, 0.01, method="ks", feature="__prediction__")])
    strict = AlertRule(metric="prediction_drift", threshold=0.001, name="prediction-very-unlikely")
    loose = AlertRule(metric="prediction_drift", threshold=0.02)
    fired = evaluate(store, "fraud", [strict, loose], now=T0)
    assert [t.alert.rule for t in fired] == ["prediction_drift"]  # p 0.01 < 0.02 but not < 0.001


def test_acknowledge_is_audited(store):
    rule = AlertRule(metric="error_rate", threshold=0.1, window="10m", owner="ana")
    requests(store, T0, 10, errors=5)
    [fired] = evaluate(store, "fraud", [rule], now=T0 + MINUTE)
    acked = acknowledge(store, fired.alert.id, "bob@bastion", now=T0 + 2 * MINUTE)
    assert (acked.acked_by, acked.acked_at) == ("bob@bastion", T0 + 2 * MINUTE)
    [still] = store.alerts.firing("fraud")
    assert (still.acked_by, still.state) == ("bob@bastion", "firing")  # acknowledged is not resolved
    [entry] = store.audit.entries("fraud")
    assert (entry.action, entry.actor, entry.detail["alert_id"], entry.detail["rule"]) == \
        ("alert.acknowledge", "bob@bastion", fired.alert.id, "error_rate")


def test_acknowledging_an_unknown_alert_is_refused_and_not_audited(store):
    with pytest.raises(AlertError, match="no firing alert #99"):
        acknowledge(store, 99, "bob")
    assert store.audit.entries() == []


def test_rules_from_config_and_unowned_rules(store):
    from app.models import ModelInfo

    settings = Settings.model_validate({"models": {
        "fraud": {"alerts": [{"metric": "error_rate", "threshold": 0.05},
                             {"metric": "p95_latency", "threshold": 300, "owner": "sre"}]},
        "churn": {"owner": "growth", "alerts": [{"metric": "traffic_drop", "threshold": 0.5}]},
    }})
    assert unowned_rules(settings, "fraud", store=store) == ["error_rate"]
    assert unowned_rules(settings, "churn", store=store) == []
    # The model's owner in the registry counts as much as the config's: the rule inherits it.
    store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml"))
    assert unowned_rules(settings, "fraud", store=store) == []


def test_a_rule_without_owner_fires_to_the_model_owner_and_an_ownerless_one_says_so(store):
    from app.models import ModelInfo

    settings = Settings.model_validate({"models": {"fraud": {"alerts": [
        {"metric": "error_rate", "threshold": 0.1, "window": "10m"},
        {"metric": "p95_latency", "threshold": 1, "window": "10m", "owner": "sre"}]}}})
    requests(store, T0, 20, errors=10)
    fired = evaluate_model(store, settings, "fraud", now=T0 + MINUTE)
    assert [(t.alert.rule, t.alert.owner) for t in fired] == [("error_rate", None), ("p95_latency", "sre")]
    assert "owner NO OWNER" in str(fired[0])
    store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml"))
    requests(store, T0 + 30 * MINUTE, 20, errors=0, tag="calm")
    calm = evaluate_model(store, settings, "fraud", now=T0 + 31 * MINUTE)
    assert [(t.state, t.alert.rule) for t in calm] == [("resolved", "error_rate")]  # latency still over 1 ms
    requests(store, T0 + 60 * MINUTE, 20, errors=10, tag="again")
    again = evaluate_model(store, settings, "fraud", now=T0 + 61 * MINUTE)
    assert [(t.state, t.alert.rule, t.alert.owner) for t in again] == [("firing", "error_rate", "risk-ml")]


def test_unknown_metric_is_a_config_error():
    with pytest.raises(ValueError):
        Settings.model_validate({"models": {"fraud": {"alerts": [{"metric": "cpu", "threshold": 1}]}}})


def test_evaluate_model_without_rules_does_nothing(store):
    requests(store, T0, 10, errors=10)
    assert evaluate_model(store, Settings(), "fraud", now=T0 + MINUTE) == []


def test_a_drift_window_with_too_few_rows_neither_fires_nor_resolves(store):
    rule = AlertRule(metric="feature_drift:amount", severity="warning", owner="ana")
    store.drift.put_many([drift_point(T0, 0.02)])  # 500 rows, no drift
    small = drift_point(T0 + 3600_000, 6.9).model_copy(update={"n_current": 3})  # the log's last 3 rows
    store.drift.put_many([small])
    assert evaluate(store, "fraud", [rule], now=T0 + 3 * 3600_000) == []  # judged by the 500-row window
    # The same window judged with the bar at 3 rows fires: the minimum is what kept it quiet.
    fired = evaluate(store, "fraud", [rule], now=T0 + 3 * 3600_000, min_rows=3)
    assert [(t.state, t.alert.value) for t in fired] == [("firing", 6.9)]
    # A firing alert is not resolved by a tiny quiet window either.
    store.drift.put_many([drift_point(T0 + 2 * 3600_000, 0.01).model_copy(update={"n_current": 2})])
    assert evaluate(store, "fraud", [rule], now=T0 + 4 * 3600_000, min_rows=3) == []
    assert [a.rule for a in store.alerts.firing("fraud")] == ["feature_drift:amount"]
