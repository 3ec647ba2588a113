"""Issue 13: the demo is a user's setup. Its endpoint and gates are written as a config beside its store,
so ``check`` (a headless command) sees the same endpoint the demo console does. Real store, the real demo
endpoint on 127.0.0.1, the real CLI."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.demo.endpoint import demo_config_path, write_demo_config


def test_the_demo_config_makes_check_see_the_demo_endpoint(demo, seeded_store_path: Path) -> None:
    config = write_demo_config(seeded_store_path, demo)
    assert config == demo_config_path(seeded_store_path) and config.parent == seeded_store_path.parent
    parsed = tomllib.loads(config.read_text())
    assert parsed["db"] == str(seeded_store_path.resolve())
    assert parsed["models"]["fraud"]["endpoint"]["url"] == demo.model_url("fraud")
    # The very gates file the demo console uses is in it.
    assert parsed["models"]["fraud-scorer"]["gates"]["min_paired"] == 1000
    result = CliRunner().invoke(main, ["--config", str(config), "check", "fraud", "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    serving = next(i for i in json.loads(result.stdout)["items"] if i["area"] == "serving")
    assert serving["status"] == "pass" and demo.model_url("fraud") in serving["evidence"]


# --- the demo declares a real team's monitoring (issue 17 item 6, issue 15) ---------------------------------

DEMO_MODELS = ("fraud-scorer", "churn-predictor", "credit-limit", "ticket-router")


@pytest.fixture(scope="module")
def real_demo(tmp_path_factory: pytest.TempPathFactory):
    """A small demo store whose traffic ends now (readiness judges the last hour), served on 127.0.0.1."""
    from app.demo.build import build_demo_store
    from app.demo.endpoint import start_demo_endpoint

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo_store(path, rows=60_000, baseline_rows=2_000)
    with start_demo_endpoint(path) as handle:
        yield path, handle


def _check(config: Path, model: str) -> dict[str, dict]:
    result = CliRunner().invoke(main, ["--config", str(config), "check", model, "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return {item["area"]: item for item in json.loads(result.stdout)["items"]}


def test_the_demo_config_declares_rules_at_three_levels_owners_a_webhook_and_retention(real_demo) -> None:
    from app.config.settings import Settings, load_settings
    from app.demo.endpoint import with_demo_endpoints

    path, handle = real_demo
    config = write_demo_config(path, handle)
    settings = load_settings(config)  # what `modeldeck --config demo.toml ...` reads: valid, no unknown key
    assert settings.retention.keep_days == 400
    assert [(t.kind, t.url) for t in settings.notify] == [("webhook", handle.notify_url)]
    for model in DEMO_MODELS:
        rules = settings.models[model].alerts
        assert rules and all(rule.owner for rule in rules), model
    # The demo console judges the very same rules, retention and target as the file declares.
    console = with_demo_endpoints(Settings(), handle)
    assert {m: c.alerts for m, c in console.models.items() if c.alerts} == \
        {m: settings.models[m].alerts for m in DEMO_MODELS}
    assert console.retention == settings.retention and console.notify == settings.notify

    # Readiness on real checks: mixed states, and one model failing a real one (no model-level rule).
    checks = {model: _check(config, model) for model in DEMO_MODELS}
    monitoring = {model: items["monitoring"]["status"] for model, items in checks.items()}
    assert monitoring == {"fraud-scorer": "pass", "churn-predictor": "fail", "credit-limit": "pass",
                          "ticket-router": "pass"}
    assert "no alert rule at the model level" in checks["churn-predictor"]["monitoring"]["evidence"]
    # A policy is declared; 30 days of logs cannot prove the 180-day horizon yet. (A small store may have
    # had no request in the last hour at night: that model fails on coverage before retention is read.)
    judged = [checks[m]["logging"] for m in DEMO_MODELS if "no predictions logged" not in checks[m]["logging"]["evidence"]]
    assert judged and all(item["status"] == "pending" and "retention 400d" in item["evidence"] for item in judged), judged
    passed = {model: sum(i["status"] in ("pass", "waived") for i in items.values()) for model, items in checks.items()}
    assert len(set(passed.values())) > 1 and max(passed.values()) < 8


def test_the_demo_webhook_receives_alerts_and_a_dead_one_spoils_nothing(real_demo, tmp_path) -> None:
    import shutil

    from app.config.settings import load_settings
    from app.demo.endpoint import start_demo_endpoint
    from app.models import Alert
    from app.store import Store
    from app.timeutil import now_ms
    from app.watch.loop import Watcher

    path, handle = real_demo
    copy = tmp_path / "demo.db"
    shutil.copy(path, copy)
    with start_demo_endpoint(copy) as server:  # its own server: this test stops it
        config = write_demo_config(copy, server)
        with Store.open(copy) as store:
            store.alerts.add(Alert(rule="page-test-1", model="fraud-scorer", severity="critical",
                                   owner="payments-risk-oncall", state="firing", value=0.4, threshold=0.05,
                                   fired_at=now_ms()))
        watcher = Watcher(load_settings(config), copy)
        try:
            report = watcher.run_pass()
            assert any("delivered" in line for line in report.deliveries), report
            [body] = list(server.state.notifications)
            assert body["alert"]["model"] == "fraud-scorer" and body["alert"]["owner"] == "payments-risk-oncall"
            server.stop()  # the demo has quit; watch on demo.toml goes on
            with Store.open(copy) as store:
                store.alerts.add(Alert(rule="page-test-2", model="fraud-scorer", severity="warning",
                                       owner="payments-risk-oncall", state="firing", value=90.0, threshold=60.0,
                                       fired_at=now_ms()))
            report = watcher.run_pass()
        finally:
            watcher.close()
    assert not [e for e in report.errors if not e.startswith("endpoints")], report.errors
    assert any("demo-webhook" in line for line in report.deliveries), report


def test_the_demo_proves_its_way_back_with_timed_switches_and_one_model_has_not_lately(real_demo) -> None:
    """Issue 17 item 3: the Rollback area judges the demo's audited switches (a drill, the incident's rollback,
    promotions) against the team's 30-day rollback_proof_days; churn-predictor's last switch is older."""
    from app.config.settings import load_settings

    path, handle = real_demo
    config = write_demo_config(path, handle)
    assert load_settings(config).governance.rollback_proof_days == 30
    rollback = {model: _check(config, model)["rollback"] for model in DEMO_MODELS}
    assert {m: item["status"] for m, item in rollback.items()} == {
        "fraud-scorer": "pass", "churn-predictor": "pending", "credit-limit": "pass", "ticket-router": "pass"}
    # The drill three weeks ago, its way back step timed; a drill flees nothing, so v2.2.0 stays the way back.
    assert re.search(r"last switch \(drill\) 2[01]d ago took 21\.4 s", rollback["fraud-scorer"]["evidence"])
    assert "can return to v2.2.0" in rollback["fraud-scorer"]["evidence"]
    assert re.search(r"last switch \(rollback\) [23]d ago took 41\.7 s", rollback["credit-limit"]["evidence"])
    assert "no switch timed in the last 30d" in rollback["churn-predictor"]["evidence"]
