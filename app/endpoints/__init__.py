"""Adapters for serving systems and registries, behind one Protocol (``protocol.EndpointAdapter``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from app.config.settings import EndpointConfig, ModelConfig
    from app.endpoints.protocol import EndpointAdapter

    AdapterClass = Callable[..., EndpointAdapter]


# Each adapter's module is imported only when a model uses it (httpx is not on the console's startup path).
def _http() -> "AdapterClass":
    from app.endpoints.http import HttpProtocolAdapter

    return HttpProtocolAdapter


def _mlflow() -> "AdapterClass":
    from app.endpoints.mlflow import MlflowAdapter

    return MlflowAdapter


def _mlserver() -> "AdapterClass":
    from app.endpoints.mlserver import MlserverAdapter

    return MlserverAdapter


def _torchserve() -> "AdapterClass":
    from app.endpoints.torchserve import TorchServeAdapter

    return TorchServeAdapter


ADAPTERS: dict[str, Callable[[], "AdapterClass"]] = {
    "http": _http,
    "mlflow": _mlflow,
    "mlserver": _mlserver,
    "torchserve": _torchserve,
}
"""``kind`` (``EndpointConfig.kind``) -> the adapter class's loader."""


def make_adapter(model: str, config: "EndpointConfig", *, client: "httpx.AsyncClient | None" = None
                 ) -> "EndpointAdapter":
    """The adapter for one model on one endpoint."""
    return ADAPTERS[config.kind]()(model, config, client=client)


def acting_config(model_config: "ModelConfig") -> "EndpointConfig | None":
    """Which system a rollback acts on: the serving endpoint when set, else the registry."""
    return model_config.endpoint or model_config.registry
