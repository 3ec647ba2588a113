"""Promotion gates: evaluation on logged traffic, `modeldeck gate` exit codes for CI, and promotion
through the rollback path (the demo endpoint on 127.0.0.1), override reasons in the audit trail; on a
SQLite store and on PostgreSQL (``any_store_location``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.checklist.evaluate import waive
from app.checklist.areas import READINESS_AREAS
from app.cli.main import main
from app.config.settings import ConfigError, GateConfig, ModelConfig, Settings
from app.compare.gates import evaluate
from app.rollback.promotion import promote
from app.store import Store
from tests.support.compare_traffic import MINUTE, T0, make_traffic, seed_store

NOW = T0 + 600 * MINUTE + MINUTE
PASSING = dict(min_paired=2000, min_labels=1000, max_quality_drop=0.01, min_agreement=0.8,
               max_p95_latency_ratio=1.1, max_error_rate_increase=0.02)


@pytest.fixture
def traffic_path(any_store_location: str) -> str:
    """A store of either backend holding the champion/challenger traffic (its location)."""
    rows, _ = make_traffic(3000, seed=8, unpaired_a=100)
    with Store.open(any_store_location) as store:
        seed_store(store, rows)
    return any_store_location


def settings_with(**gates) -> Settings:
    return Settings(models={"m": ModelConfig(gates=GateConfig(window="1d", **gates))})


def test_all_rules_measured_and_passing(traffic_path: str):
    with Store.open(traffic_path) as store:
        verdict = evaluate(store, settings_with(**PASSING), "m", "v2", now=NOW)
    assert verdict.passed, [r for r in verdict.rules if not r.passed]
    assert verdict.champion == "v1" and verdict.comparison.paired == 3000
    assert [r.name for r in verdict.rules] == ["paired requests", "accuracy", "agreement", "p95 latency",
                                               "error rate"]
    latency = next(r for r in verdict.rules if r.name == "p95 latency")
    c = verdict.comparison
    assert f"{c.challenger.p95_latency_ms:.1f} ms" == latency.measured
    assert f"{c.champion.p95_latency_ms:.1f} ms x 1.1" in latency.required


@pytest.mark.parametrize(("rule", "value", "name"), [
    ("min_paired", 3001, "paired requests"),
    ("min_labels", 100_000, "accuracy"),
    ("max_quality_drop", None, "labelled requests"),  # min_labels alone: a count of labels
    ("min_agreement", 0.999, "agreement"),
    ("max_p95_latency_ratio", 0.5, "p95 latency"),
])
def test_each_failing_rule_fails_the_verdict(traffic_path: str, rule: str, value, name):
    gates = {**PASSING, rule: value}
    if value is None:
        gates["min_labels"] = 100_000
    with Store.open(traffic_path) as store:
        verdict = evaluate(store, settings_with(**gates), "m", "v2", now=NOW)
    assert not verdict.passed
    assert [r.name for r in verdict.failed()] == [name]


def test_error_rate_rule_compares_with_the_champion(traffic_path: str):
    settings = settings_with(max_error_rate_increase=0.0)
    with Store.open(traffic_path) as store:
        forward = evaluate(store, settings, "m", "v2", now=NOW)
        backward = evaluate(store, settings, "m", "v1", champion="v2", now=NOW)
    a, b = forward.comparison.champion.error_rate, forward.comparison.challenger.error_rate
    assert a != b and forward.passed == (b < a) and backward.passed == (a < b)
    loose = settings_with(max_error_rate_increase=abs(a - b) + 0.001)
    with Store.open(traffic_path) as store:
        assert evaluate(store, loose, "m", "v2", now=NOW).passed and \
            evaluate(store, loose, "m", "v1", champion="v2", now=NOW).passed


def test_quality_rule_allows_the_configured_drop(traffic_path: str):
    with Store.open(traffic_path) as store:
        # Judged the other way round: the old champion v1 is less accurate than v2.
        strict = evaluate(store, settings_with(min_labels=1000, max_quality_drop=0.0), "m", "v1", champion="v2",
                          now=NOW)
        c = strict.comparison
        gap = c.champion.quality.value - c.challenger.quality.value
        assert gap > 0 and not strict.passed
        assert strict.failed()[0].measured.endswith(f"on {c.labels:,} labels")
        loose = evaluate(store, settings_with(min_labels=1000, max_quality_drop=gap + 0.001), "m", "v1",
                         champion="v2", now=NOW)
        assert loose.passed


def test_readiness_rule_judges_the_candidate_version_not_the_champion(traffic_path: str):
    with Store.open(traffic_path) as store:
        settings = settings_with(require_readiness=True)
        assert not evaluate(store, settings, "m", "v2", now=NOW).passed
        for area in READINESS_AREAS:  # the champion v1 complete: says nothing about v2
            waive(store, "m", area, "test model", actor="tester", expires_in_ms=30 * 86_400_000, version="v1")
        verdict = evaluate(store, settings, "m", "v2", now=NOW)
        assert not verdict.passed and verdict.rules[-1].measured == "v2: 0/8 areas pass or are waived"
        for area in READINESS_AREAS:
            waive(store, "m", area, "test model", actor="tester", expires_in_ms=30 * 86_400_000, version="v2")
        verdict = evaluate(store, settings, "m", "v2", now=NOW)
        assert verdict.passed and verdict.rules[-1].measured == "v2: 8/8 areas pass or are waived"


def test_rules_that_cannot_be_measured_do_not_hold(traffic_path: str):
    with Store.open(traffic_path) as store:
        verdict = evaluate(store, settings_with(**PASSING), "m", "v2", now=T0 - 10 * 86_400_000)
    assert verdict.comparison.paired == 0
    assert not verdict.passed and len(verdict.failed()) == len(verdict.rules)


def test_no_gates_is_a_configuration_error(traffic_path: str):
    with Store.open(traffic_path) as store, pytest.raises(ConfigError, match="no promotion gates"):
        evaluate(store, Settings(), "m", "v2")


def _config(tmp_path: Path, gates: str, endpoint: str = "") -> Path:
    path = tmp_path / "modeldeck.toml"
    path.write_text(f"[models.m.gates]\nwindow = \"1000w\"\n{gates}\n{endpoint}")
    return path


def _cli(store_path: str, config: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["--db", str(store_path), "--config", str(config), *args], input=input,
                              catch_exceptions=False)


def test_gate_cli_exit_codes_for_ci(traffic_path: str, tmp_path: Path):
    # A window reaching back far enough to hold the generated traffic (it sits in 2026).
    ok = _cli(traffic_path, _config(tmp_path, "min_paired = 100\nmin_agreement = 0.5"), "gate", "m",
              "--candidate", "v2")
    assert ok.exit_code == 0, ok.output
    assert "PASS  paired requests" in ok.output and ok.output.rstrip().endswith("PASS: 2/2 rules hold")

    failing = _cli(traffic_path, _config(tmp_path, "min_paired = 100\nmin_agreement = 0.9999"), "gate", "m",
                   "--candidate", "v2", "--json")
    assert failing.exit_code == 1
    verdict = json.loads(failing.output)
    assert verdict["passed"] is False
    assert [(r["name"], r["passed"]) for r in verdict["rules"]] == [("paired requests", True), ("agreement", False)]
    assert verdict["comparison"]["paired"] == 3000

    unknown = _cli(traffic_path, _config(tmp_path, "min_paired = 1"), "gate", "nope", "--candidate", "v2")
    assert unknown.exit_code == 2
    (tmp_path / "empty.toml").write_text("")
    none = _cli(traffic_path, tmp_path / "empty.toml", "gate", "m", "--candidate", "v2")
    assert none.exit_code == 2 and "no promotion gates configured" in none.output


# --- promotion through the rollback path, against the demo endpoint -------------------------------------------

@pytest.fixture
def endpoint(traffic_path: str):
    from app.demo.endpoint import start_demo_endpoint

    with start_demo_endpoint(traffic_path) as handle:
        yield handle


def _promotable(endpoint, **gates) -> Settings:
    from app.config.settings import EndpointConfig

    return Settings(models={"m": ModelConfig(
        endpoint=EndpointConfig(kind="http", url=endpoint.model_url("m")),
        gates=GateConfig(window="1000w", **gates))})


def _audit(store: Store) -> list:
    return list(reversed(store.audit.entries("m")))


async def test_failing_gate_refuses_and_audits_the_measured_rules(traffic_path: str, endpoint):
    with Store.open(traffic_path) as store:
        verdict, outcome = await promote(store, _promotable(endpoint, min_agreement=0.9999), "m", "v2",
                                         "better on holdout", actor="alice@bastion")
        assert outcome.status == "refused" and "agreement" in outcome.error
        (entry,) = _audit(store)
        assert (entry.action, entry.outcome, entry.actor) == ("promote", "refused", "alice@bastion")
        assert entry.detail["gates"]["passed"] is False
        assert entry.detail["gates"]["rules"][0]["name"] == "agreement"
    assert endpoint.state.models["m"].active == "v1"


async def test_override_reason_promotes_and_stays_in_the_audit_trail(traffic_path: str, endpoint):
    with Store.open(traffic_path) as store:
        verdict, outcome = await promote(store, _promotable(endpoint, min_agreement=0.9999), "m", "v2",
                                         "better on holdout", override="agreement gate too strict for v2's "
                                         "new threshold; signed off by risk", actor="bob@bastion")
        assert outcome.status == "succeeded", outcome.describe()
        intent, done = _audit(store)
        assert (intent.action, intent.outcome, done.outcome) == ("promote", "intent", "succeeded")
        for entry in (intent, done):
            assert entry.detail["gates"]["override"].startswith("agreement gate too strict")
            assert entry.detail["gates"]["passed"] is False
        assert store.registry.active_version("m").version == "v2"
        assert store.locks.holder("model:m") is None
    assert endpoint.state.models["m"].active == "v2"


async def test_passing_gates_promote_without_override(traffic_path: str, endpoint):
    with Store.open(traffic_path) as store:
        verdict, outcome = await promote(store, _promotable(endpoint, min_paired=100), "m", "v2", "gates hold")
        assert verdict.passed and outcome.ok
        assert _audit(store)[-1].detail["gates"] == {**_audit(store)[-1].detail["gates"], "passed": True,
                                                     "override": None}


def test_promote_cli_refuses_then_overrides(traffic_path: str, tmp_path: Path, endpoint):
    config = _config(tmp_path, "min_agreement = 0.9999",
                     f"[models.m.endpoint]\nkind = \"http\"\nurl = \"{endpoint.model_url('m')}\"\n")
    refused = _cli(traffic_path, config, "promote", "m", "--candidate", "v2", "--reason", "r", "--yes")
    assert refused.exit_code == 1 and "FAIL  agreement" in refused.output and "refused" in refused.output
    assert endpoint.state.models["m"].active == "v1"
    wrong = _cli(traffic_path, config, "promote", "m", "--candidate", "v2", "--reason", "r",
                 "--override", "accepted by risk", input="mm\n")
    assert wrong.exit_code == 1 and endpoint.state.models["m"].active == "v1"
    done = _cli(traffic_path, config, "promote", "m", "--candidate", "v2", "--reason", "r",
                "--override", "accepted by risk", input="m\n")
    assert done.exit_code == 0, done.output
    assert "promote m to v2: succeeded" in done.output
    assert endpoint.state.models["m"].active == "v2"


def test_min_quality_gain_does_not_count_a_win_inside_the_noise(traffic_path: str):
    with Store.open(traffic_path) as store:
        verdict = evaluate(store, settings_with(min_labels=1000, min_quality_gain=0.0), "m", "v2", champion="v1",
                           now=NOW)
        c = verdict.comparison
        # v2 is more accurate on the point estimate, but its interval's low end is under v1's figure.
        assert c.challenger.quality.value > c.champion.quality.value > c.challenger.quality.low
        assert not verdict.passed and verdict.rules[0].name == "accuracy gain"
        assert "95% interval low end >= champion" in verdict.rules[0].required


def test_min_quality_gain_passes_a_win_that_clears_the_interval(any_store_location: str):
    rows, _ = make_traffic(20000, seed=8)  # more labels: a narrower interval
    with Store.open(any_store_location) as store:
        seed_store(store, rows)
        probe = evaluate(store, settings_with(min_labels=1000, min_quality_gain=0.0), "m", "v2", champion="v1",
                         now=NOW)
        c = probe.comparison
        margin = c.challenger.quality.low - c.champion.quality.value
        assert margin > 0.002 and probe.passed
        inside = evaluate(store, settings_with(min_labels=1000, min_quality_gain=margin - 0.001), "m", "v2",
                          champion="v1", now=NOW)
        beyond = evaluate(store, settings_with(min_labels=1000, min_quality_gain=margin + 0.001), "m", "v2",
                          champion="v1", now=NOW)
        assert inside.passed and not beyond.passed
        # The less accurate v1 as the candidate fails even a zero gain.
        assert not evaluate(store, settings_with(min_labels=1000, min_quality_gain=0.0), "m", "v1", champion="v2",
                            now=NOW).passed


def _heldout(tmp_path: Path) -> Path:
    """One held-out file, the way a team scores both versions on it: a column of scores per version."""
    import random

    rng = random.Random(99)
    rows = ["label,strong,weak"]
    for _ in range(2000):
        p = rng.random()
        label = int(rng.random() < p)
        blur = lambda noise: min(1.0, max(0.0, p + rng.gauss(0, noise)))  # noqa: E731
        rows.append(f"{label},{blur(0.05):.6f},{blur(0.6):.6f}")
    path = tmp_path / "heldout.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_heldout_gain_gate_needs_the_candidates_interval_to_clear_the_champion(traffic_path: str, tmp_path: Path):
    from app.checklist.heldout import evaluate_file

    path = _heldout(tmp_path)
    gain = settings_with(quality_source="heldout", min_quality_gain=0.01)
    with Store.open(traffic_path) as store:
        missing = evaluate(store, gain, "m", "v2", now=NOW)
        assert not missing.passed and "no held-out evaluation of the champion" in missing.rules[0].measured
        evaluate_file(store, "m", "v1", path, score_column="weak", now=NOW)
        evaluate_file(store, "m", "v2", path, score_column="strong", now=NOW)
        verdict = evaluate(store, gain, "m", "v2", now=NOW)
        rule = verdict.rules[0]
        assert rule.name == "held-out auc gain" and rule.passed, rule
        assert "95% interval low end >= champion" in rule.required and "on 2000 held-out rows" in rule.measured
        # The paired-traffic accuracy rule is replaced, not added: the source decides.
        assert [r.name for r in verdict.rules] == ["held-out auc gain"]
        # The weaker scores as the candidate: no win.
        evaluate_file(store, "m", "v2", path, score_column="weak", now=NOW)
        assert not evaluate(store, gain, "m", "v2", now=NOW).passed
        # A different file cannot be compared.
        other = tmp_path / "other.csv"
        other.write_text(path.read_text() + "1,0.9,0.9\n")
        evaluate_file(store, "m", "v2", other, score_column="strong", now=NOW)
        differ = evaluate(store, gain, "m", "v2", now=NOW)
        assert not differ.passed and "held-out files differ" in differ.rules[0].measured
        v1 = next(v for v in store.registry.versions("m") if v.version == "v1")
        low, high = v1.metrics["heldout"]["intervals"]["auc"]
        assert low < v1.metrics["heldout"]["auc"] < high
