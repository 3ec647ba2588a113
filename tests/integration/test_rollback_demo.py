"""The rollback workflow end to end against the demo endpoint (modeldeck's http protocol) on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from app.config.settings import ConfigError, EndpointConfig, ModelConfig
from app.demo.endpoint import Behaviour
from app.models import HealthState, Stage
from app.rollback.actions import disable, plan_rollback, rollback
from app.store import Store
from tests.support.endpoint_settings import http_settings


def _audit(store: Store, model: str) -> list[tuple[str, str | None]]:
    return [(e.action, e.outcome) for e in reversed(store.audit.entries(model))]


async def test_plan_lists_current_and_targets_with_context(seeded_store_path, demo):
    with Store.open(seeded_store_path) as store:
        plan = await plan_rollback(store, http_settings(demo), "churn")
    assert plan.current == "v3"
    assert [t.version for t in plan.candidates] == ["v2", "v1"]
    v2 = plan.candidates[0]
    assert (v2.stage, v2.metrics, v2.on_endpoint) == ("archived", {"auc": 0.81}, True)
    assert plan.read_only is None and plan.can_activate


async def test_rollback_switches_verifies_audits_and_records_the_champion(seeded_store_path, demo):
    with Store.open(seeded_store_path) as store:
        outcome = await rollback(store, http_settings(demo), "churn", "v2", "p99 latency regression",
                                 actor="alice@bastion")
        assert outcome.status == "succeeded", outcome.describe()
        assert (outcome.previous, outcome.readback, outcome.health.state) == ("v3", "v2", HealthState.up)
        assert _audit(store, "churn") == [("rollback", "intent"), ("rollback", "succeeded")]
        intent, done = reversed(store.audit.entries("churn"))
        assert intent.actor == done.actor == "alice@bastion"
        assert intent.detail["from"] == "v3" and intent.detail["to"] == "v2"
        assert intent.detail["reason"] == "p99 latency regression"
        assert done.detail["readback"] == "v2" and done.detail["elapsed_ms"] >= 0
        assert store.registry.active_version("churn").version == "v2"
        assert {v.version: v.stage for v in store.registry.versions("churn")}["v3"] is Stage.archived
        assert store.locks.holder("model:churn") is None
    assert demo.state.models["churn"].active == "v2"


@pytest.mark.parametrize("global_ro", [True, False])
async def test_read_only_refuses_and_audits_the_refusal(seeded_store_path, demo, global_ro):
    settings = http_settings(demo, read_only=global_ro)
    if not global_ro:
        cfg = settings.models["churn"].model_copy(update={"read_only": True})
        settings = settings.model_copy(update={"models": {**settings.models, "churn": cfg}})
    with Store.open(seeded_store_path) as store:
        outcome = await rollback(store, settings, "churn", "v2", "testing")
        assert outcome.status == "refused" and "read-only" in outcome.error
        assert _audit(store, "churn") == [("rollback", "refused")]
        assert store.registry.active_version("churn").version == "v3"
    assert demo.state.models["churn"].active == "v3"


async def test_two_rollbacks_at_once_one_proceeds_the_other_is_told_who_holds_the_lock(seeded_store_path, demo):
    demo.state.models["churn"].behaviour = Behaviour(activate_delay_s=0.5)  # keeps the first one in flight
    settings = http_settings(demo)
    with Store.open(seeded_store_path) as one, Store.open(seeded_store_path) as two:
        results = await asyncio.gather(
            rollback(one, settings, "churn", "v2", "incident 42", actor="alice@bastion"),
            rollback(two, settings, "churn", "v1", "incident 42", actor="bob@laptop"),
        )
        statuses = sorted(r.status for r in results)
        assert statuses == ["refused", "succeeded"]
        winner = next(r for r in results if r.ok)
        loser = next(r for r in results if not r.ok)
        assert loser.lock_holder == ("alice@bastion" if winner.target == "v2" else "bob@laptop")
        assert loser.lock_holder in loser.error
        outcomes = sorted(o for _, o in _audit(one, "churn"))
        assert outcomes == ["intent", "refused", "succeeded"]
    assert demo.state.models["churn"].active == winner.target


async def test_unknown_version_is_refused_by_the_endpoint_and_reported_failed(seeded_store_path, demo):
    with Store.open(seeded_store_path) as store:
        outcome = await rollback(store, http_settings(demo), "churn", "v9", "typo check")
        assert outcome.status == "failed"
        assert "HTTP 404" in outcome.error and outcome.readback == "v3"
        assert _audit(store, "churn") == [("rollback", "intent"), ("rollback", "failed")]
        assert store.registry.active_version("churn").version == "v3"


async def test_a_switch_that_does_not_show_in_time_is_unknown_not_success(seeded_store_path, demo):
    demo.state.models["churn"].behaviour = Behaviour(activate_delay_s=30)
    with Store.open(seeded_store_path) as store:
        outcome = await rollback(store, http_settings(demo), "churn", "v2", "slow rollout",
                                 verify_timeout_s=0.6)
        assert outcome.status == "unknown" and outcome.readback == "v3"
        assert "still v3 serving" in outcome.error
        assert _audit(store, "churn")[-1] == ("rollback", "unknown")
        assert store.registry.active_version("churn").version == "v3"


async def test_endpoint_gone_before_the_call_fails_at_once_and_claims_no_read_back(seeded_store_path, demo):
    # The port is closed: the connection is refused, the request never left, so nothing can have
    # changed. It is `failed` at once, not `unknown` after the whole verification timeout.
    settings = http_settings(demo, timeout_s=0.5)
    demo.stop()
    with Store.open(seeded_store_path) as store:
        outcome = await rollback(store, settings, "churn", "v2", "endpoint down", verify_timeout_s=600)
        assert outcome.status == "failed" and not outcome.sent and not outcome.read_back
        assert "connection refused" in outcome.error
        assert outcome.elapsed_ms < 60_000  # it did not wait out the ten-minute verification
        line = outcome.describe()
        assert "nothing was sent" in line and "nothing serving" not in line, line
        assert _audit(store, "churn") == [("rollback", "intent"), ("rollback", "failed")]


async def test_disable_against_a_refused_connection_never_reads_like_success(seeded_store_path, demo):
    # For disable, "read back: nothing serving" is exactly what success says: a failed read must not.
    settings = http_settings(demo, timeout_s=0.5)
    demo.stop()
    with Store.open(seeded_store_path) as store:
        outcome = await disable(store, settings, "fraud", "endpoint down", verify_timeout_s=600)
        assert outcome.status == "failed"
        assert "nothing serving" not in outcome.describe()


async def test_disable_stops_serving_and_is_verified(seeded_store_path, demo):
    with Store.open(seeded_store_path) as store:
        outcome = await disable(store, http_settings(demo), "fraud", "bad scores", actor="alice@bastion")
        assert outcome.status == "succeeded", outcome.describe()
        assert outcome.readback is None and outcome.health.state is HealthState.down
        assert _audit(store, "fraud") == [("disable", "intent"), ("disable", "succeeded")]
    assert demo.state.models["fraud"].disabled


async def test_a_model_without_an_endpoint_is_a_config_error(seeded_store_path, demo):
    with Store.open(seeded_store_path) as store, pytest.raises(ConfigError, match="models.ghost"):
        await rollback(store, http_settings(demo), "ghost", "v1", "x")


async def test_bearer_token_is_sent_from_the_env_and_never_stored(seeded_store_path, monkeypatch, tmp_path):
    from app.demo.endpoint import start_demo_endpoint

    secret = "s3cr3t-token-value"
    with start_demo_endpoint(seeded_store_path, token=secret) as handle:
        cfg = ModelConfig(endpoint=EndpointConfig(kind="http", url=handle.model_url("churn"), token_env="DEMO_TOK"))
        settings = http_settings(handle, churn=cfg)
        with Store.open(seeded_store_path) as store:
            monkeypatch.delenv("DEMO_TOK", raising=False)
            missing = await rollback(store, settings, "churn", "v2", "no token")
            assert missing.status == "refused" and "DEMO_TOK is not set" in missing.error
            monkeypatch.setenv("DEMO_TOK", secret)
            outcome = await rollback(store, settings, "churn", "v2", "with token")
            assert outcome.status == "succeeded", outcome.describe()
            assert all(secret not in str(e.detail) for e in store.audit.entries("churn"))
        assert secret.encode() not in seeded_store_path.read_bytes()


def _served(store: Store, model: str, version: str, ts: int, n: int = 3, prefix: str = "r") -> None:
    from app.store.predictions import PredictionRow

    store.predictions.append([PredictionRow(ts - i * 1000, model, version, f"{prefix}{i}", None, 0.5, None, None,
                                            10.0, "ok", None, None, None, "") for i in range(n)])


async def test_default_target_is_the_version_that_served_last_and_a_rollback_away_is_marked(seeded_store_path,
                                                                                             demo):
    from app.timeutil import now_ms

    now = now_ms()
    with Store.open(seeded_store_path) as store:
        # churn: v1 archived (served an hour ago), v2 archived (never served), v3 champion,
        # v4 a challenger answering in shadow right now.
        store.registry.upsert_version(store.registry.versions("churn")[0].model_copy(
            update={"version": "v4", "stage": Stage.challenger, "created_at": now}))
        _served(store, "churn", "v1", now - 3_600_000, prefix="live-")
        _served(store, "churn", "v4", now - 1_000, prefix="shadow-")
        plan = await plan_rollback(store, http_settings(demo), "churn")
        by_version = {t.version: t for t in plan.targets}
        # Not v2 (newest created before the active one, never served), not v4 (only shadow answers).
        assert plan.default_target is not None and plan.default_target.version == "v1"
        assert by_version["v2"].last_active_at is None and by_version["v4"].last_active_at is None
        assert by_version["v4"].last_served_at is not None  # the log has its answers, shown as "shadow only"
        assert all(t.rolled_back_from_at is None for t in plan.targets)

        outcome = await rollback(store, http_settings(demo), "churn", "v1", "v3 misroutes", actor="alice@bastion")
        assert outcome.status == "succeeded", outcome.describe()
        after = await plan_rollback(store, http_settings(demo), "churn")
    assert after.current == "v1"
    v3 = next(t for t in after.targets if t.version == "v3")
    # v3 served until the rollback just now, but a rollback fled it: it is marked, and not the default
    # (the archived v2 is; never the shadow-only challenger v4).
    assert after.default_target is not None and after.default_target.version == "v2"
    assert v3.rolled_back_from_at is not None and v3.rolled_back_from_at >= now
    assert v3.last_active_at is not None and v3.last_active_at >= now
