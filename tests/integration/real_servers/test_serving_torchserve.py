"""Issue 17, Serving area: workers seen against the declared replica bounds, read from a real TorchServe's
management API (GET /models/{name}) through the TorchServe adapter. Real store, real server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from app.checklist.evaluate import evaluate
from app.config.settings import EndpointConfig, Settings
from app.endpoints import make_adapter
from app.models import CheckStatus, HealthState, ModelInfo, Stage, Version
from app.store import Store

pytestmark = pytest.mark.torchserve


def _settings(ts, **bounds: int) -> Settings:
    endpoint = EndpointConfig(kind="torchserve", url=ts.url, management_url=ts.management_url,
                              metrics_url=ts.metrics_url, timeout_s=5, **bounds)
    return Settings(models={"tsclf": {"endpoint": endpoint}})


async def test_serving_holds_torchserve_workers_to_the_declared_replicas(torchserve, store_path):
    mgmt = torchserve.management_url
    httpx.put(f"{mgmt}/models/tsclf/1.0", params={"min_worker": 1, "max_worker": 1, "synchronous": "true"},
              timeout=60).raise_for_status()
    httpx.put(f"{mgmt}/models/tsclf/1.0/set-default", timeout=10).raise_for_status()
    within = _settings(torchserve, replicas_min=1, replicas_max=3)
    health = await make_adapter("tsclf", within.models["tsclf"].endpoint).health()
    assert health.state is HealthState.up and health.workers == 1
    with Store.open(store_path) as store:
        store.registry.upsert_model(ModelInfo(name="tsclf"))
        store.registry.upsert_version(Version(model="tsclf", version="1.0", created_at=1_700_000_000_000,
                                              stage=Stage.champion))
        ok = next(i for i in evaluate(store, "tsclf", settings=within, health=health) if i.area == "serving")
        assert ok.status is CheckStatus.passed, ok.evidence
        assert "replicas 1..3" in ok.evidence and "1 worker ready (seen on torchserve)" in ok.evidence
        short = _settings(torchserve, replicas_min=2, replicas_max=4)
        bad = next(i for i in evaluate(store, "tsclf", settings=short, health=health) if i.area == "serving")
        assert bad.status is CheckStatus.failed
        assert "1 worker ready on torchserve, under the declared min 2" in bad.evidence
