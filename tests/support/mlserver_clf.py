"""The real MLServer's ``clf`` model (two versions) as the rollback and drill tests use it: settings bound
to it, the version that answers an inference now, and a reset to both versions loaded."""

from __future__ import annotations

import httpx

from app.config.settings import EndpointConfig, ModelConfig, Settings


def mlserver_settings(mlserver, **extra) -> Settings:
    cfg = EndpointConfig(kind="mlserver", url=mlserver.url, metrics_url=mlserver.metrics_url,
                         repository=mlserver.repository, timeout_s=5)
    return Settings(models={"clf": ModelConfig(endpoint=cfg, **extra)})


def answering_version(mlserver) -> str:
    """The version an inference on ``clf`` reports: what a client is served right now."""
    return httpx.post(f"{mlserver.url}/v2/models/clf/infer", timeout=10, json={
        "inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.0]}]}).json()["model_version"]


def load_both_versions(mlserver) -> None:
    """Undo any disable (the renamed settings files) and reload, so both versions serve and v2 answers."""
    for path in mlserver.repository.rglob("model-settings.json.modeldeck-off"):
        path.rename(path.with_name("model-settings.json"))
    httpx.post(f"{mlserver.url}/v2/repository/models/clf/load", timeout=60).raise_for_status()
