"""TorchServe (Java, limited maintenance upstream): read, rollback by set-default, disable by scaling to zero.

Marked ``torchserve`` so it can be selected or left out on its own (``-m torchserve`` / ``-m "not torchserve"``).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config.settings import EndpointConfig, ModelConfig, Settings
from app.endpoints import make_adapter
from app.endpoints.poller import Poller
from app.models import HealthState, ModelInfo, Stage, Version
from app.rollback.actions import disable, rollback
from app.store import Store

pytestmark = pytest.mark.torchserve


def _cfg(ts) -> EndpointConfig:
    return EndpointConfig(kind="torchserve", url=ts.url, management_url=ts.management_url,
                          metrics_url=ts.metrics_url, timeout_s=5)


def _answering(ts) -> str:
    return httpx.post(f"{ts.url}/predictions/tsclf", content=b"1", timeout=30).json()["version"]


@pytest.fixture
def at_1_0(torchserve, store_path):
    """Each test starts with 1.0 the default and both versions with a worker."""
    mgmt = torchserve.management_url
    for version in ("1.0", "2.0"):
        httpx.put(f"{mgmt}/models/tsclf/{version}", params={"min_worker": 1, "max_worker": 1, "synchronous": "true"},
                  timeout=60).raise_for_status()
    httpx.put(f"{mgmt}/models/tsclf/1.0/set-default", timeout=10).raise_for_status()
    with Store.open(store_path) as store:
        store.registry.upsert_model(ModelInfo(name="tsclf"))
        for i, v in enumerate(("1.0", "2.0")):
            store.registry.upsert_version(Version(model="tsclf", version=v, created_at=1_700_000_000_000 + i,
                                                  stage=Stage.champion if v == "1.0" else Stage.candidate))


async def test_torchserve_health_versions_and_metrics(torchserve, at_1_0):
    adapter = make_adapter("tsclf", _cfg(torchserve))
    poller = Poller({"tsclf": adapter})
    try:
        assert (await adapter.health()).state is HealthState.up
        assert {v.version: v.ready for v in await adapter.versions()} == {"1.0": True, "2.0": True}
        await poller.poll_once()
        for _ in range(3):
            assert _answering(torchserve) == "1.0"
        await asyncio.sleep(0.2)
        result = (await poller.poll_once())["tsclf"]
        assert result.active_version == "1.0" and result.health.state is HealthState.up
        assert result.metrics.request_rate > 0 and result.metrics.latency_ms["mean"] > 0
        assert result.metrics.error_rate is None  # TorchServe's error counters are not per model
    finally:
        await poller.aclose()


async def test_torchserve_rollback_switches_the_default_version(torchserve, store_path, at_1_0):
    settings = Settings(models={"tsclf": ModelConfig(endpoint=_cfg(torchserve))})
    with Store.open(store_path) as store:
        outcome = await rollback(store, settings, "tsclf", "2.0", "roll forward after fix")
        assert outcome.status == "succeeded", outcome.describe()
        assert (outcome.previous, outcome.readback) == ("1.0", "2.0")
        assert [e.outcome for e in reversed(store.audit.entries("tsclf"))] == ["intent", "succeeded"]
        assert store.registry.active_version("tsclf").version == "2.0"
    assert _answering(torchserve) == "2.0"


async def test_torchserve_disable_scales_to_zero_and_read_only_refuses(torchserve, store_path, at_1_0):
    settings = Settings(models={"tsclf": ModelConfig(endpoint=_cfg(torchserve))})
    with Store.open(store_path) as store:
        refused = await rollback(store, settings.model_copy(update={"read_only": True}), "tsclf", "2.0", "x")
        assert refused.status == "refused"
        outcome = await disable(store, settings, "tsclf", "bad outputs")
        assert outcome.status == "succeeded", outcome.describe()
        assert outcome.readback is None and outcome.health.state is HealthState.down
        assert [e.outcome for e in reversed(store.audit.entries("tsclf"))] == ["refused", "intent", "succeeded"]
    assert httpx.post(f"{torchserve.url}/predictions/tsclf", content=b"1", timeout=30).status_code >= 500
