"""Health, versions and metrics read from real MLflow and MLServer processes on 127.0.0.1."""

from __future__ import annotations

import asyncio

import httpx

from app.config.settings import EndpointConfig
from app.endpoints import make_adapter
from app.endpoints.poller import Poller
from app.models import HealthState
from app.store import Store


async def test_mlflow_registry_versions_and_alias(mlflow):
    mlflow.register("reg-read", 3)
    adapter = make_adapter("reg-read", EndpointConfig(kind="mlflow", url=mlflow.url))
    try:
        assert (await adapter.health()).state is HealthState.up
        assert await adapter.active_version() is None  # no champion alias yet
        mlflow.set_alias("reg-read", "champion", "2")
        assert await adapter.active_version() == "2"
        versions = await adapter.versions()
        assert [v.version for v in versions] == ["3", "2", "1"]
        assert all(v.created_at for v in versions)
        assert await adapter.metrics() is None  # a registry serves no traffic
    finally:
        await adapter.aclose()


async def test_mlflow_unknown_model_is_down_with_the_reason(mlflow):
    adapter = make_adapter("never-registered", EndpointConfig(kind="mlflow", url=mlflow.url))
    try:
        state = await adapter.health()
        assert state.state is HealthState.down and "registered-models/get" in state.reason
    finally:
        await adapter.aclose()


def _infer(url: str, version: str | None = None) -> httpx.Response:
    path = f"/v2/models/clf/versions/{version}/infer" if version else "/v2/models/clf/infer"
    return httpx.post(url + path, timeout=10, json={
        "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.0]}]})


async def test_mlserver_health_versions_and_metrics_from_traffic(mlserver, store_path):
    cfg = EndpointConfig(kind="mlserver", url=mlserver.url, metrics_url=mlserver.metrics_url,
                         repository=mlserver.repository)
    adapter = make_adapter("clf", cfg)
    Store.open(store_path).close()
    poller = Poller({"clf": adapter}, store_path=store_path)
    try:
        assert (await adapter.health()).state is HealthState.up
        assert {v.version: v.ready for v in await adapter.versions()} == {"v2": True, "v1": True}
        assert await adapter.active_version() == "v2"
        await poller.poll_once()
        for _ in range(5):
            assert _infer(mlserver.url).json()["model_version"] == "v2"
        await asyncio.sleep(0.2)
        result = (await poller.poll_once())["clf"]
        assert result.health.state is HealthState.up and result.active_version == "v2"
        assert result.metrics.request_rate > 0
        assert result.metrics.error_rate == 0.0
        assert result.metrics.latency_ms["mean"] > 0
    finally:
        await poller.aclose()
    with Store.open(store_path) as store:
        latest = store.metrics.latest("clf")
    assert latest["request_rate"][1] > 0 and "latency_mean_ms" in latest
