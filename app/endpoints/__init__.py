"""Adapters for serving systems and registries, behind one Protocol (``protocol.EndpointAdapter``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from app.config.settings import EndpointConfig, ModelConfig
    from app.endpoints.protocol import EndpointAdapter

_ADAPTERS = {
    "http": "app.endpoints.http:HttpProtocolAdapter",
    "mlflow": "app.endpoints.mlflow:MlflowAdapter",
    "mlserver": "app.endpoints.mlserver:MlserverAdapter",
    "torchserve": "app.endpoints.torchserve:TorchServeAdapter",
}


def make_adapter(model: str, config: "EndpointConfig", *, client: "httpx.AsyncClient | None" = None
                 ) -> "EndpointAdapter":
    """The adapter for one model on one endpoint (imported lazily: httpx is not on the startup path)."""
    import importlib

    module_name, attribute = _ADAPTERS[config.kind].split(":")
    cls = getattr(importlib.import_module(module_name), attribute)
    return cls(model, config, client=client)


def acting_config(model_config: "ModelConfig") -> "EndpointConfig | None":
    """Which system a rollback acts on: the serving endpoint when set, else the registry."""
    return model_config.endpoint or model_config.registry
