"""The readiness checklist on a real store: every automatic check passing and failing, manual
changes written to the audit trail, and which status wins when a person and a check disagree."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from app.checklist.evaluate import ChecklistError, UnknownModel, evaluate, mark_passed, readiness_score, reopen, sign_off, stored_items, waive
from app.checklist.areas import READINESS_AREAS
from app.config.settings import Settings
from app.models import CheckStatus, FeatureBaseline, Health, HealthState, ModelInfo, Stage, Version
from app.store import Store
from app.store.predictions import PredictionRow

NOW = 1_790_000_000_000  # a fixed "now" (2026-09-21): the checks take it as an argument
MIN = 60_000
HOUR = 60 * MIN

FULL_CARD = {
    "1. Model Details": "Gradient-boosted trees, v2, owned by risk-ml.",
    "intendedUses": "Score card transactions for fraud review. Out of scope: credit decisions.",
    "Relevant factors": "Country, card type, merchant category.",
    "Evaluation metrics": "AUC, precision at 1% FPR.",
    "Evaluation datasets": "October 2026 holdout, 2M transactions.",
    "Training data": "Jan-Sep 2026 labelled transactions.",
    "Ethical considerations": "Disparate review rates across countries are monitored.",
}
GOOD_METRICS = {"auc": 0.912, "p95_latency_ms": 38.5, "throughput_rps": 1200}
FEATURES = ("amount", "country", "merchant")


def add_model(store: Store, name: str = "fraud", *, owner: str | None = "alice", flags: dict | None = None,
              card: dict | None = None, metrics: dict | None = None, previous: bool = True) -> None:
    store.registry.upsert_model(ModelInfo(name=name, owner=owner, flags=flags or {}))
    if previous:
        store.registry.upsert_version(Version(model=name, version="v1", stage=Stage.archived,
                                              created_at=NOW - 30 * 86_400_000, metrics={"auc": 0.89}))
    store.registry.upsert_version(Version(model=name, version="v2", stage=Stage.champion,
                                          created_at=NOW - 86_400_000,
                                          metrics=GOOD_METRICS if metrics is None else metrics,
                                          card=FULL_CARD if card is None else card))


def timed_switch(store: Store, model: str = "fraud", *, ago_ms: int = 5 * 86_400_000, elapsed_ms: int = 2300,
                 action: str = "promote") -> None:
    """A switch the audit timed from command to verified read-back (what rollback, promote and drill write)."""
    store.audit.append(action, model, outcome="succeeded", ts=NOW - ago_ms,
                       detail={"from": "v2", "to": "v2", "elapsed_ms": elapsed_ms})


def add_baseline(store: Store, model: str = "fraud", version: str = "v2", features=FEATURES) -> None:
    for feature in (*features, "__prediction__"):
        store.baselines.put(FeatureBaseline(model=model, version=version, feature=feature, kind="numeric", n=1000,
                                            created_at=NOW))


def log(store: Store, n: int, *, model: str = "fraud", version: str = "v2", ago_ms: int = MIN,
        features: dict[str, Any] | None | str = "default", entity: bool = True, prefix: str = "r") -> None:
    feats = {f: 1 for f in FEATURES} if features == "default" else features
    rows = [PredictionRow(NOW - ago_ms - i * 1000, model, version, f"{prefix}{i}", f"cust-{i}" if entity else None,
                          None, 0.5, None, 12.0, "ok", None,
                          orjson.dumps(feats).decode() if feats is not None else None, None, "")
            for i in range(n)]
    store.predictions.append(rows)


RETENTION = {"keep_days": 400}  # over the default 180-day debugging horizon
DAY = 86_400_000


def settings_with(model: str = "fraud", **model_config: Any) -> Settings:
    return Settings(models={model: model_config}, retention=RETENTION)


ENDPOINT = {"kind": "http", "url": "http://127.0.0.1:8500"}


def item(items, area: str):
    return next(i for i in items if i.area == area)


def ready_store(store: Store) -> Settings:
    """A model where every automatic check passes (given an up health result)."""
    add_model(store)
    add_baseline(store)
    timed_switch(store)  # the last drill or rollback worked, and how long it took
    log(store, 50)
    log(store, 1, ago_ms=200 * DAY, prefix="old")  # the oldest kept record proves the 180-day horizon
    for role in ("engineering", "product", "data", "fairness", "retention"):
        sign_off(store, "fraud", role, actor=f"{role}-lead")
    return settings_with(endpoint=ENDPOINT, alerts=THREE_LEVELS)


UP = Health(state=HealthState.up, checked_at=NOW - 5_000)


# --- the whole list -----------------------------------------------------------------------------

def test_evaluate_returns_the_eight_areas_in_order_and_stores_them(store: Store):
    settings = ready_store(store)
    items = evaluate(store, "fraud", settings=settings, now=NOW, health=UP)
    assert [i.area for i in items] == list(READINESS_AREAS)
    assert all(i.status is CheckStatus.passed and i.auto for i in items), [(i.area, i.evidence) for i in items]
    assert readiness_score(items) == (8, 8)
    stored = {i.area: i for i in store.checklist.items("fraud")}
    assert stored == {i.area: i for i in items}
    assert store.checklist.passed_counts() == {"fraud": 8}
    assert all(i.owner == "alice" for i in items)


def test_unknown_model_is_refused_and_names_the_known_ones(store: Store):
    add_model(store)
    with pytest.raises(UnknownModel, match="'froud'.*fraud"):
        evaluate(store, "froud", now=NOW)


def test_updated_at_changes_only_when_the_status_changes(store: Store):
    add_model(store)
    log(store, 1, ago_ms=200 * DAY, prefix="old")
    settings = settings_with()
    first = item(evaluate(store, "fraud", now=NOW, settings=settings), "logging")
    assert first.status is CheckStatus.failed and first.updated_at == NOW and first.updated_by == "modeldeck"
    again = item(evaluate(store, "fraud", now=NOW + MIN, settings=settings), "logging")
    assert again.updated_at == NOW
    log(store, 5, ago_ms=-MIN)  # logged just before the next evaluation
    later = item(evaluate(store, "fraud", now=NOW + 2 * MIN, settings=settings), "logging")
    assert later.status is CheckStatus.passed and later.updated_at == NOW + 2 * MIN


def test_a_model_without_a_champion_fails_the_version_checks(store: Store):
    store.registry.upsert_model(ModelInfo(name="new", owner="bob"))
    store.registry.upsert_version(Version(model="new", version="c1", stage=Stage.candidate, created_at=NOW))
    items = evaluate(store, "new", now=NOW)
    for area in ("model_card", "benchmarks", "features", "monitoring", "rollback", "signoff"):
        assert item(items, area).status is CheckStatus.failed
        assert "no active (champion) version" in item(items, area).evidence


# --- model card ---------------------------------------------------------------------------------

def test_model_card_with_every_section_under_its_own_wording_passes(store: Store):
    add_model(store)
    found = item(evaluate(store, "fraud", now=NOW), "model_card")
    assert found.status is CheckStatus.passed
    assert "all 7 required sections" in found.evidence


def test_model_card_missing_sections_fails_and_lists_them(store: Store):
    card = {k: v for k, v in FULL_CARD.items() if k not in ("Relevant factors", "Training data")}
    card["Caveats and recommendations"] = "TODO"
    card.pop("Ethical considerations")
    add_model(store, card=card)
    found = item(evaluate(store, "fraud", now=NOW), "model_card")
    assert found.status is CheckStatus.failed
    assert "factors" in found.evidence and "training data" in found.evidence
    assert "4 of 7 present" in found.evidence
    assert "empty: ethical considerations" in found.evidence


def test_no_model_card_fails(store: Store):
    add_model(store, card={})
    found = item(evaluate(store, "fraud", now=NOW), "model_card")
    assert found.status is CheckStatus.failed and found.evidence == "v2 has no model card"


# --- benchmarks ---------------------------------------------------------------------------------

def test_benchmarks_pass_when_the_production_peak_is_within_them(store: Store):
    add_model(store)
    log(store, 36, ago_ms=HOUR + MIN)  # the hour before: 36 requests, p95 12 ms
    log(store, 9, prefix="now")
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.passed
    assert found.evidence.startswith("v2: auc 0.912, p95_latency_ms 38.5, throughput_rps 1,200; peak hour ")
    assert found.evidence.endswith(": 0.01 req/s, p95 12 ms, within both")


def test_a_production_peak_over_the_benchmarked_throughput_fails(store: Store):
    add_model(store, metrics={"auc": 0.9, "p95_latency_ms": 38.5, "throughput_rps": 0.005})
    log(store, 36)  # 36 requests in one hour: 0.01 req/s
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("v2: peak 0.01 req/s is over the benchmarked 0.005 (peak hour ")


def test_a_p95_at_the_peak_over_the_benchmarked_p95_fails(store: Store):
    add_model(store, metrics={"auc": 0.9, "p95_latency_ms": 10, "throughput_rps": 100})
    log(store, 20)  # 12 ms each
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("v2: p95 12 ms at the peak is over the benchmarked 10 (")


def test_benchmarks_without_production_traffic_in_7_days_are_pending(store: Store):
    add_model(store)
    log(store, 20, ago_ms=8 * DAY)  # older than the 7-day window: not held against the benchmark
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.pending
    assert found.evidence == ("v2: auc 0.912, p95_latency_ms 38.5, throughput_rps 1,200; no production traffic "
                              "of v2 logged in the last 7d to hold them to")


def test_declared_success_criteria_are_judged_on_production_within_the_benchmarks_area(store: Store):
    """Issue 17: [models.NAME.success] in check/report evidence. 12 ms answers, none failing, no labels yet."""
    add_model(store)
    log(store, 36, ago_ms=HOUR + MIN)
    log(store, 9, prefix="now")
    held = settings_with(success={"max_p95_latency_ms": 50, "max_error_rate": 0.01, "min_auc": 0.8})
    found = item(evaluate(store, "fraud", now=NOW, settings=held), "benchmarks")
    assert found.status is CheckStatus.passed
    assert found.evidence.endswith("within both; success criteria (7d): 2 of 3 met; auc not measured")
    slow = settings_with(success={"window": "1d", "max_p95_latency_ms": 10})
    missed = item(evaluate(store, "fraud", now=NOW, settings=slow), "benchmarks")
    assert missed.status is CheckStatus.failed
    assert missed.evidence.endswith("success criteria (1d): 0 of 1 met; p95 latency 12.0 ms needs <= 10 ms")


def test_regression_benchmarks_under_other_names_pass(store: Store):
    add_model(store, metrics={"offline": {"rmse": 412.0}, "latency_p95_ms": 20, "rps": 300})
    log(store, 5)
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.passed
    assert "offline.rmse 412" in found.evidence


def test_benchmarks_missing_latency_and_throughput_fail_and_say_what_is_missing(store: Store):
    add_model(store, metrics={"accuracy": 0.95, "p95_latency_ms": "fast", "throughput": True})
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.failed
    assert found.evidence == "v2 has no p95 latency, no throughput recorded (has accuracy 0.95)"


def test_no_benchmarks_at_all_fail(store: Store):
    add_model(store, metrics={})
    found = item(evaluate(store, "fraud", now=NOW), "benchmarks")
    assert found.status is CheckStatus.failed
    assert "quality metric" in found.evidence and "(has" not in found.evidence


# --- serving ------------------------------------------------------------------------------------

def test_serving_without_an_endpoint_is_not_configured_never_a_stored_fail(store: Store):
    add_model(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "serving")
    assert found.status is CheckStatus.pending and found.evidence.startswith("not configured: no endpoint configured")
    stored = item(stored_items(store, "fraud"), "serving")  # what the console reads back
    assert stored.status is CheckStatus.pending and stored.evidence == found.evidence


def test_serving_with_an_endpoint_but_no_health_yet_is_pending(store: Store):
    add_model(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "serving")
    assert found.status is CheckStatus.pending
    assert found.evidence == "http endpoint http://127.0.0.1:8500 configured, health not checked yet"


def test_serving_with_an_endpoint_that_answers_up_passes(store: Store):
    add_model(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT), health=UP), "serving")
    assert found.status is CheckStatus.passed and "up, checked 5s ago" in found.evidence


def test_serving_with_an_endpoint_that_is_down_fails_with_the_reason(store: Store):
    add_model(store)
    down = Health(state=HealthState.down, reason="GET /health: connection refused", checked_at=NOW - 1000)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT), health=down), "serving")
    assert found.status is CheckStatus.failed
    assert "down (GET /health: connection refused)" in found.evidence


def test_serving_health_from_long_ago_does_not_count(store: Store):
    add_model(store)
    stale = Health(state=HealthState.up, checked_at=NOW - 3_600_000)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT), health=stale), "serving")
    assert found.status is CheckStatus.pending and "too old" in found.evidence


# --- features -----------------------------------------------------------------------------------

def test_features_in_logs_matching_the_baseline_pass(store: Store):
    add_model(store)
    add_baseline(store)
    log(store, 30)
    log(store, 20, version="v1", features={"legacy_score": 1}, prefix="old")  # another version: not compared
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.passed
    assert found.evidence == "last 30 predictions of v2 vs its baseline of 3 features: all 3 match; worst missing rate 0%"


def categorical_baseline(store: Store) -> None:
    store.baselines.put(FeatureBaseline(model="fraud", version="v2", feature="country", kind="categorical", n=100,
                                        categories={"DE": 60, "FR": 40}, created_at=NOW))
    store.baselines.put(FeatureBaseline(model="fraud", version="v2", feature="amount", kind="numeric", n=100,
                                        created_at=NOW))


def test_a_feature_missing_too_often_fails_with_its_rate(store: Store):
    add_model(store)
    categorical_baseline(store)
    log(store, 18, features={"amount": 10.0, "country": "DE"})
    log(store, 2, features={"amount": None, "country": "FR"}, prefix="null")  # 10% null amounts
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("missing rate over 5%: amount 10% (last 20 predictions")


def test_categories_not_in_the_baseline_fail_with_their_share_and_examples(store: Store):
    add_model(store)
    categorical_baseline(store)
    log(store, 16, features={"amount": 10.0, "country": "DE"})
    log(store, 3, features={"amount": 10.0, "country": "AT"}, prefix="at")
    log(store, 1, features={"amount": 10.0, "country": "CH"}, prefix="ch")
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("categories not in the baseline: country 20% (e.g. AT, CH)")


def test_a_few_unseen_categories_and_nulls_under_the_limits_pass_with_the_worst_figures(store: Store):
    add_model(store)
    categorical_baseline(store)
    log(store, 39, features={"amount": 10.0, "country": "DE"})
    log(store, 1, features={"amount": None, "country": "AT"}, prefix="odd")
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.passed
    assert found.evidence.endswith("all 2 match; worst missing rate 2%, worst unseen-category share 2%")


def test_features_missing_from_logs_or_not_in_the_baseline_fail_and_are_named(store: Store):
    add_model(store)
    add_baseline(store)
    log(store, 30, features={"amount": 5, "country": "DE", "zip_code": "10115"})
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.failed
    assert "missing from logs: merchant" in found.evidence
    assert "not in baseline: zip_code" in found.evidence


def test_logs_without_features_fail_the_feature_check(store: Store):
    add_model(store)
    add_baseline(store)
    log(store, 10, features=None)
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.failed and "carry features" in found.evidence


def test_features_without_a_baseline_or_without_logs_are_pending(store: Store):
    add_model(store)
    log(store, 10)
    assert item(evaluate(store, "fraud", now=NOW), "features").status is CheckStatus.pending
    add_model(store, "churn")
    add_baseline(store, "churn")
    found = item(evaluate(store, "churn", now=NOW), "features")
    assert found.status is CheckStatus.pending and "no recent predictions" in found.evidence


def test_hostile_feature_names_are_cleaned_in_the_evidence(store: Store):
    add_model(store)
    add_baseline(store)
    log(store, 5, features={**{f: 1 for f in FEATURES}, "\x1b[31mred\x1b[0m": 1})
    found = item(evaluate(store, "fraud", now=NOW), "features")
    assert found.status is CheckStatus.failed
    assert "\x1b" not in found.evidence and "\\x1b[31mred\\x1b[0m" in found.evidence


# --- monitoring ---------------------------------------------------------------------------------

# A rule at each of the three levels, each with a delivery target; owners from the rule or the model.
THREE_LEVELS = [{"metric": "p95_latency", "threshold": 250, "owner": "sre", "notify": "pagerduty-sre"},
                {"metric": "feature_drift:amount", "name": "amount drift", "notify": "#risk-ml"},
                {"metric": "prediction_drift", "notify": "#risk-ml"}]


def test_monitoring_with_rules_at_three_levels_owners_and_delivery_passes(store: Store):
    add_model(store)
    add_baseline(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(alerts=THREE_LEVELS)), "monitoring")
    assert found.status is CheckStatus.passed
    assert found.evidence == ("3 alert rules with owners and delivery targets: infrastructure: p95_latency; "
                              "data: amount drift; model: prediction_drift")


def test_monitoring_with_an_owner_but_no_rules_fails(store: Store):
    # An owner alone is not monitoring: nothing would ever page them.
    add_model(store)
    add_baseline(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(owner="oncall-risk")), "monitoring")
    assert found.status is CheckStatus.failed
    assert found.evidence == ("no alert rule at the infrastructure, data, model levels "
                              "(no alert rules configured)")


def test_monitoring_names_the_missing_level(store: Store):
    add_model(store)
    add_baseline(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(alerts=THREE_LEVELS[:2])), "monitoring")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("no alert rule at the model level (have infrastructure: p95_latency; ")


def test_data_level_rules_without_a_drift_baseline_fail(store: Store):
    add_model(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(alerts=THREE_LEVELS)), "monitoring")
    assert found.status is CheckStatus.failed and found.evidence.startswith("data-level rules but no drift "
                                                                             "baseline for v2")


def test_a_rule_without_a_delivery_target_fails(store: Store):
    add_model(store)
    add_baseline(store)
    rules = [*THREE_LEVELS[:2], {"metric": "prediction_drift"}]
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(alerts=rules)), "monitoring")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("alert rules without a delivery target (notify): prediction_drift")


def test_an_alert_rule_left_with_no_owner_at_all_fails_monitoring(store: Store):
    add_model(store, owner=None)
    add_baseline(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(alerts=THREE_LEVELS)), "monitoring")
    assert found.status is CheckStatus.failed
    assert found.evidence.startswith("alert rules without an owner (none on the rule or the model): amount drift, "
                                     "prediction_drift")


def test_rules_in_any_shape_with_an_owner_field_plug_in(store: Store):
    # Rules are read by attribute or key, so a plain list of dicts works as well as the config models.
    add_model(store, owner=None)
    add_baseline(store)
    config = SimpleNamespace(endpoint=None, registry=None, read_only=False, owner=None,
                             alerts=[{"rule": "traffic_drop", "owner": None}])
    found = item(evaluate(store, "fraud", now=NOW, settings=SimpleNamespace(models={"fraud": config})), "monitoring")
    assert found.status is CheckStatus.failed and "traffic_drop" in found.evidence


def test_a_read_only_store_still_gets_the_findings(store: Store, store_path):
    add_model(store)
    with Store.open(store_path, read_only=True) as readonly:
        items = evaluate(readonly, "fraud", now=NOW)
    assert item(items, "model_card").status is CheckStatus.passed
    assert store.checklist.items("fraud") == []


# --- rollback -----------------------------------------------------------------------------------

def test_rollback_with_a_previous_version_and_a_writable_target_passes(store: Store):
    add_model(store)
    timed_switch(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "rollback")
    assert found.status is CheckStatus.passed
    assert found.evidence == ("can return to v1 (archived) through the http endpoint at http://127.0.0.1:8500; "
                              "last switch (promote) 5d ago took 2.3 s")


def test_rollback_needs_a_recent_switch_timed_under_five_minutes(store: Store):
    add_model(store)
    settings = settings_with(endpoint=ENDPOINT)
    never = item(evaluate(store, "fraud", now=NOW, settings=settings), "rollback")
    assert never.status is CheckStatus.pending and "no switch timed in the last 90d: run modeldeck drill fraud" in \
        never.evidence
    timed_switch(store, ago_ms=100 * 86_400_000)
    old = item(evaluate(store, "fraud", now=NOW, settings=settings), "rollback")
    assert old.status is CheckStatus.pending and "(the last, 100d ago, is too old)" in old.evidence
    timed_switch(store, ago_ms=86_400_000, elapsed_ms=6 * 60_000, action="rollback")
    slow = item(evaluate(store, "fraud", now=NOW, settings=settings), "rollback")
    assert slow.status is CheckStatus.failed and "took 360.0 s, over the 5 min a rollback may take" in slow.evidence


def test_rollback_through_a_registry_names_it_without_its_credentials(store: Store):
    add_model(store)
    registry = {"kind": "mlflow", "url": "http://ci:s3cret@127.0.0.1:5000/mlflow"}
    timed_switch(store)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(registry=registry)), "rollback")
    assert found.status is CheckStatus.passed
    assert "through the mlflow registry at http://127.0.0.1:5000/mlflow;" in found.evidence


def test_rollback_without_a_previous_version_fails(store: Store):
    add_model(store, previous=False)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "rollback")
    assert found.status is CheckStatus.failed and "no previous champion to return to" in found.evidence


def test_rollback_never_names_a_challenger_that_only_answered_in_shadow(store: Store):
    add_model(store, previous=False)
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.challenger, created_at=NOW - MIN))
    log(store, 20, version="v3", prefix="shadow-")  # it answers, but nobody relied on those answers
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "rollback")
    assert found.status is CheckStatus.failed
    assert "no previous champion" in found.evidence and "v3" not in found.evidence


def test_rollback_names_the_previous_champion_that_served_last(store: Store):
    add_model(store)  # v1 archived (30 days old), v2 champion
    store.registry.upsert_version(Version(model="fraud", version="v1.5", stage=Stage.archived,
                                          created_at=NOW - 10 * 86_400_000))  # newer, but never served
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.challenger, created_at=NOW - MIN))
    log(store, 5, version="v1", ago_ms=2 * 86_400_000, prefix="old-")
    log(store, 5, version="v3", prefix="shadow-")
    timed_switch(store, ago_ms=30 * 86_400_000)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "rollback")
    assert found.status is CheckStatus.passed
    assert found.evidence.startswith("can return to v1 (archived, last served 2d ago) through the http endpoint")


def test_rollback_counts_a_version_the_audit_trail_shows_serving_and_marks_a_rollback_away(store: Store):
    add_model(store, previous=False)
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.challenger, created_at=NOW - MIN))
    day = NOW - 3 * 86_400_000  # 2026-09-18
    store.audit.append("promote", "fraud", outcome="succeeded", ts=day - HOUR, detail={"from": "v2", "to": "v3"})
    store.audit.append("rollback", "fraud", outcome="succeeded", ts=day, detail={"from": "v3", "to": "v2",
                                                                                 "elapsed_ms": 1500})
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT)), "rollback")
    assert found.status is CheckStatus.passed
    assert found.evidence.startswith("can return to v3 (challenger, last served 3d ago, rolled back from on 09-18)")


def test_rollback_without_a_target_or_with_a_read_only_one_fails(store: Store):
    add_model(store)
    none = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "rollback")
    assert none.status is CheckStatus.failed and "no rollback target" in none.evidence
    locked = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint=ENDPOINT, read_only=True)),
                  "rollback")
    assert locked.status is CheckStatus.failed and "read-only" in locked.evidence


# --- logging ------------------------------------------------------------------------------------

def test_logging_passes_on_coverage_and_a_retention_the_oldest_record_proves(store: Store):
    add_model(store)
    log(store, 40)
    log(store, 2, entity=False, prefix="anon")
    log(store, 7, ago_ms=200 * DAY, prefix="old")  # outside the hour: not counted, but proves the horizon
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "logging")
    assert found.status is CheckStatus.passed
    assert found.evidence == ("42 predictions in the last hour: 100% with request id, 100% with features, "
                              "95% with entity id; retention 400d; oldest kept record 200d old (horizon 180d)")


def test_logging_without_a_retention_policy_fails(store: Store):
    add_model(store)
    log(store, 40)
    found = item(evaluate(store, "fraud", now=NOW), "logging")
    assert found.status is CheckStatus.failed
    assert found.evidence.endswith("no retention policy declared ([retention] keep_days, at least the 180d "
                                   "debugging horizon)")


def test_a_retention_under_the_debugging_horizon_fails(store: Store):
    add_model(store)
    log(store, 40)
    settings = Settings(retention={"keep_days": 90})
    found = item(evaluate(store, "fraud", now=NOW, settings=settings), "logging")
    assert found.status is CheckStatus.failed
    assert found.evidence.endswith("retention keep_days 90d is under the 180d debugging horizon")
    # A shorter horizon, declared, is what the check holds the policy to.
    settings = Settings(retention={"keep_days": 90, "debug_horizon_days": 30})
    log(store, 1, ago_ms=31 * DAY, prefix="old")
    assert item(evaluate(store, "fraud", now=NOW, settings=settings), "logging").status is CheckStatus.passed


def test_logs_younger_than_the_horizon_cannot_prove_it_yet(store: Store):
    add_model(store)
    log(store, 40)
    log(store, 1, ago_ms=20 * DAY, prefix="old")
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "logging")
    assert found.status is CheckStatus.pending
    assert found.evidence.endswith("retention 400d; oldest kept record 20d old, short of the 180d horizon it "
                                   "must prove")


def test_predictions_mostly_without_entity_ids_fail_logging(store: Store):
    add_model(store)
    log(store, 10)
    log(store, 10, entity=False, prefix="anon")
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "logging")
    assert found.status is CheckStatus.failed and "50% with entity id" in found.evidence


def test_no_predictions_in_the_last_hour_fails_and_says_when_the_last_was(store: Store):
    add_model(store)
    log(store, 5, ago_ms=3 * 3_600_000)
    found = item(evaluate(store, "fraud", now=NOW), "logging")
    assert found.status is CheckStatus.failed
    assert found.evidence == "no predictions logged in the last hour (last one 3h ago)"


def test_predictions_mostly_without_features_fail_logging(store: Store):
    add_model(store)
    log(store, 10)
    log(store, 10, features=None, prefix="bare")
    found = item(evaluate(store, "fraud", now=NOW), "logging")
    assert found.status is CheckStatus.failed and "50% with features" in found.evidence


# --- sign-off -----------------------------------------------------------------------------------

def test_signoff_is_pending_until_every_role_signed_then_passes(store: Store):
    add_model(store)
    sign_off(store, "fraud", "engineering", actor="erin", now=NOW - 2 * HOUR)
    found = item(evaluate(store, "fraud", now=NOW), "signoff")
    assert found.status is CheckStatus.pending
    assert found.evidence == ("v2 awaits sign-off from product, data, bias/fairness review, data-retention review; "
                              "signed: engineering (erin, 2h ago)")
    sign_off(store, "fraud", "Product ", actor="pat", now=NOW)
    sign_off(store, "fraud", "data", actor="dana", now=NOW)
    sign_off(store, "fraud", "fairness", actor="fay", now=NOW)
    sign_off(store, "fraud", "retention", actor="ray", now=NOW)
    found = item(evaluate(store, "fraud", now=NOW), "signoff")
    assert found.status is CheckStatus.passed
    assert found.evidence.startswith("v2 signed off by engineering (erin, 2h ago), product (pat, ")
    assert "bias/fairness review (fay, " in found.evidence and "data-retention review (ray, " in found.evidence
    assert found.evidence.endswith("first expiry in 89d")


def test_legal_review_flag_requires_a_legal_sign_off(store: Store):
    add_model(store, flags={"legal_review": True})
    for role in ("engineering", "product", "data", "fairness", "retention"):
        sign_off(store, "fraud", role)
    assert "awaits sign-off from legal" in item(evaluate(store, "fraud", now=NOW), "signoff").evidence
    updated = sign_off(store, "fraud", "legal", note="DPIA ref 2026-114", actor="lee")
    assert updated.status is CheckStatus.passed


def test_sign_offs_belong_to_a_version_so_a_new_champion_needs_new_ones(store: Store):
    add_model(store)
    for role in ("engineering", "product", "data", "fairness", "retention"):
        sign_off(store, "fraud", role)
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.candidate, created_at=NOW))
    store.registry.set_stage("fraud", "v3", Stage.champion)
    found = item(evaluate(store, "fraud", now=NOW), "signoff")
    assert found.status is CheckStatus.pending and "v3 awaits sign-off from engineering, product, data" in found.evidence


def test_sign_off_is_audited_and_unknown_roles_are_refused(store: Store):
    add_model(store)
    sign_off(store, "fraud", "data", note="baseline reviewed", actor="dana")
    [entry] = store.audit.entries("fraud")
    assert (entry.action, entry.actor, entry.model) == ("checklist.sign_off", "dana", "fraud")
    assert entry.detail["role"] == "data" and entry.detail["version"] == "v2"
    assert entry.detail["note"] == "baseline reviewed"
    with pytest.raises(ChecklistError, match="unknown sign-off role"):
        sign_off(store, "fraud", "marketing")
    assert len(store.audit.entries("fraud")) == 1


# --- manual changes and precedence ----------------------------------------------------------------

def test_waive_needs_a_reason_and_writes_nothing_without_one(store: Store):
    add_model(store)
    for reason in ("", "   "):
        with pytest.raises(ChecklistError, match="reason"):
            waive(store, "fraud", "serving", reason, expires_in_ms=30 * 86_400_000)
    assert store.audit.entries("fraud") == [] and store.checklist.items("fraud") == []


def test_waive_unknown_area_or_model_is_refused(store: Store):
    add_model(store)
    with pytest.raises(ChecklistError, match="unknown readiness area"):
        waive(store, "fraud", "vibes", "because", expires_in_ms=30 * 86_400_000)
    with pytest.raises(UnknownModel):
        waive(store, "nope", "serving", "because", expires_in_ms=30 * 86_400_000)


def test_a_waiver_is_audited_and_stands_against_a_failing_check_until_reopened(store: Store):
    add_model(store)
    before = readiness_score(evaluate(store, "fraud", now=NOW))[0]
    waived = waive(store, "fraud", "serving", "served by the batch job; no online endpoint", actor="alice",
                   expires_in_ms=30 * 86_400_000, now=NOW)
    assert waived.status is CheckStatus.waived and not waived.auto
    [entry] = store.audit.entries("fraud")
    assert entry.action == "checklist.waive" and entry.actor == "alice"
    assert entry.detail == {"area": "serving", "version": "v2", "previous": "pending",
                            "reason": "served by the batch job; no online endpoint",
                            "expires_at": NOW + 30 * 86_400_000}

    items = evaluate(store, "fraud", now=NOW + MIN)  # the check still fails: the waiver stands
    serving = item(items, "serving")
    assert serving.status is CheckStatus.waived
    assert serving.note == "served by the batch job; no online endpoint"
    assert serving.updated_by == "alice" and "no endpoint configured" in serving.evidence
    assert readiness_score(items) == (before + 1, 8)

    reopened = reopen(store, "fraud", "serving", actor="bob")
    assert reopened.status is CheckStatus.pending and reopened.auto
    assert store.audit.entries("fraud")[0].action == "checklist.reopen"
    assert store.audit.entries("fraud")[0].detail["previous"] == "waived"
    assert item(evaluate(store, "fraud", now=NOW + 2 * MIN), "serving").status is CheckStatus.pending


def test_reopening_an_automatic_item_is_refused(store: Store):
    add_model(store)
    evaluate(store, "fraud", now=NOW)
    with pytest.raises(ChecklistError, match="nothing to reopen"):
        reopen(store, "fraud", "serving")
    assert store.audit.entries("fraud") == []


def test_a_manual_pass_stands_while_the_check_has_no_facts(store: Store):
    add_model(store)
    settings = settings_with(endpoint=ENDPOINT)
    mark_passed(store, "fraud", "serving", "smoke test green: https://ci.example/run/42", actor="erin")
    assert store.audit.entries("fraud")[0].action == "checklist.pass"
    found = item(evaluate(store, "fraud", now=NOW, settings=settings), "serving")  # no health: pending
    assert found.status is CheckStatus.passed and not found.auto
    assert found.evidence == "smoke test green: https://ci.example/run/42"


def test_a_hard_failure_overrides_a_manual_pass_and_is_audited(store: Store):
    add_model(store)
    settings = settings_with(endpoint=ENDPOINT)
    mark_passed(store, "fraud", "serving", "checked by hand", actor="erin")
    down = Health(state=HealthState.down, reason="connection refused", checked_at=NOW)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings, health=down), "serving")
    assert found.status is CheckStatus.failed and found.auto
    assert "manual pass by erin overridden" in found.note
    override = store.audit.entries("fraud")[0]
    assert override.action == "checklist.override" and override.detail["area"] == "serving"
    assert override.detail["passed_by"] == "erin"
    # Once overridden it is an automatic item: the next evaluation writes no second override.
    evaluate(store, "fraud", now=NOW + MIN, settings=settings, health=down)
    assert [e.action for e in store.audit.entries("fraud")].count("checklist.override") == 1


def test_a_waiver_stands_even_against_a_hard_failure(store: Store):
    add_model(store)
    settings = settings_with(endpoint=ENDPOINT)
    waive(store, "fraud", "serving", "endpoint migration this week", actor="alice", expires_in_ms=30 * 86_400_000)
    down = Health(state=HealthState.down, reason="connection refused", checked_at=NOW)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings, health=down), "serving")
    assert found.status is CheckStatus.waived and "down" in found.evidence


def _log_timed(store: Store, n: int, *, age_s: float, fetch_ms: float) -> None:
    """Predictions whose context says how old their features were and how long fetching them took."""
    rows = [PredictionRow(NOW - MIN - i * 1000, "fraud", "v2", f"t{i}", f"cust-{i}", None, 0.5, None, 12.0, "ok", None,
                          orjson.dumps({f: 1 for f in FEATURES}).decode(),
                          orjson.dumps({"feature_ts": NOW - MIN - i * 1000 - int(age_s * 1000),
                                        "feature_latency_ms": fetch_ms}).decode(), "")
            for i in range(n)]
    store.predictions.append(rows)


def test_feature_freshness_and_fetch_latency_are_judged_against_the_declared_budgets(store: Store):
    add_model(store)
    add_baseline(store)
    _log_timed(store, 40, age_s=30, fetch_ms=8)
    no_budget = item(evaluate(store, "fraud", now=NOW, settings=settings_with()), "features")
    assert no_budget.status is CheckStatus.passed
    assert "freshness p95 30.0s over 40 rows (no budget declared)" in no_budget.evidence
    assert "fetch latency p95 8.0 ms over 40 rows (no budget declared)" in no_budget.evidence
    within = item(evaluate(store, "fraud", now=NOW, settings=settings_with(feature_max_age_s=60,
                                                                          feature_max_fetch_ms=10)), "features")
    assert within.status is CheckStatus.passed and "(budget 60s)" in within.evidence
    stale = item(evaluate(store, "fraud", now=NOW, settings=settings_with(feature_max_age_s=10)), "features")
    assert stale.status is CheckStatus.failed
    assert "freshness p95 30.0s over 40 rows, over the 10s budget (models.fraud.feature_max_age_s)" in stale.evidence


def test_a_declared_feature_budget_without_the_logged_field_fails(store: Store):
    add_model(store)
    add_baseline(store)
    log(store, 40)
    found = item(evaluate(store, "fraud", now=NOW, settings=settings_with(feature_max_fetch_ms=10)), "features")
    assert found.status is CheckStatus.failed and "no recent row logs context.feature_latency_ms" in found.evidence


def test_serving_judges_declared_facts_from_the_config_and_a_kserve_manifest(store: Store, tmp_path):
    add_model(store)
    digest = "registry.example/fraud@sha256:" + "a" * 64
    pinned = settings_with(endpoint={**ENDPOINT, "replicas_min": 2, "replicas_max": 10, "image": digest})
    found = item(evaluate(store, "fraud", now=NOW, settings=pinned, health=UP), "serving")
    assert found.status is CheckStatus.passed and "declared (config): replicas 2..10, image " in found.evidence
    # The http protocol cannot tell how many workers serve: said, not guessed.
    assert "workers not reported by http" in found.evidence
    # Where an endpoint reports its workers (TorchServe, through Health.workers), they are held to the bounds.
    few = UP.model_copy(update={"workers": 1})
    under = item(evaluate(store, "fraud", now=NOW, settings=pinned, health=few), "serving")
    assert under.status is CheckStatus.failed and "1 worker ready on http, under the declared min 2" in under.evidence
    within = item(evaluate(store, "fraud", now=NOW, settings=pinned, health=UP.model_copy(update={"workers": 3})),
                  "serving")
    assert within.status is CheckStatus.passed and "3 workers ready (seen on http)" in within.evidence
    over = item(evaluate(store, "fraud", now=NOW, settings=pinned, health=UP.model_copy(update={"workers": 12})),
                "serving")
    assert over.status is CheckStatus.failed and "12 workers ready on http, over the declared max 10" in over.evidence
    tag = settings_with(endpoint={**ENDPOINT, "image": "registry.example/fraud:latest"})
    moved = item(evaluate(store, "fraud", now=NOW, settings=tag, health=UP), "serving")
    assert moved.status is CheckStatus.failed and "not pinned by digest" in moved.evidence
    manifest = tmp_path / "isvc.json"
    manifest.write_text(orjson.dumps({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                                      "spec": {"predictor": {"minReplicas": 4, "maxReplicas": 3,
                                                             "containers": [{"image": digest}]}}}).decode())
    bad = item(evaluate(store, "fraud", now=NOW, settings=settings_with(endpoint={**ENDPOINT, "manifest": manifest}),
                        health=UP), "serving")
    assert bad.status is CheckStatus.failed and "replicas min 4 is over max 3" in bad.evidence
    missing = item(evaluate(store, "fraud", now=NOW, health=UP,
                            settings=settings_with(endpoint={**ENDPOINT, "manifest": tmp_path / "nope.json"})),
                   "serving")
    assert missing.status is CheckStatus.failed and "manifest" in missing.evidence
