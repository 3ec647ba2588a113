"""TorchServe: inference ``/ping``, management ``/models/{m}/all`` and ``/models/{m}`` (the default
version), rollback ``PUT /models/{m}/{v}/set-default``, disable = scale the default's workers to zero.

Metrics (``metrics_mode=prometheus``): ``ts_inference_requests_total`` and the summed
``ts_inference_latency_microseconds`` per model give the request rate and the mean latency; its
error counters (``Requests5XX``) carry no model label, so no per-model error rate is reported.
"""

from __future__ import annotations

import httpx

from app.config.settings import EndpointConfig
from app.endpoints.base import HttpAdapter, health
from app.endpoints.prometheus import Recipe
from app.endpoints.protocol import Capabilities, EndpointError, RemoteVersion
from app.models import Health, HealthState

TORCHSERVE_RECIPE = Recipe(model_label="model_name", requests="ts_inference_requests_total",
                           latency_total="ts_inference_latency_microseconds", latency_unit_ms=0.001)


def _with_port(url: str, port: int, path: str = "") -> str:
    return str(httpx.URL(url).copy_with(port=port, path=path or "/")).rstrip("/")


class TorchServeAdapter(HttpAdapter):
    kind = "torchserve"
    capabilities = Capabilities(can_activate=True, can_disable=True, has_metrics=True)
    recipe = TORCHSERVE_RECIPE

    def __init__(self, model: str, config: EndpointConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(model, config, client=client)
        self.management = (config.management_url or _with_port(self.url, 8081)).rstrip("/")

    def default_metrics_url(self) -> str:
        return _with_port(self.url, 8082, "/metrics")

    async def _described(self, path: str) -> list[dict]:
        body = await self.request_json("GET", f"{self.management}{path}")
        if not isinstance(body, list):
            raise EndpointError(f"GET {path}: not a list of model descriptions")
        return [item for item in body if isinstance(item, dict)]

    async def health(self) -> Health:
        try:
            await self.request("GET", f"{self.url}/ping")
            default = await self._described(f"/models/{self.model}")
        except EndpointError as exc:
            return health(HealthState.down, str(exc))
        workers = default[0].get("workers") or [] if default else []
        ready = sum(1 for w in workers if isinstance(w, dict) and w.get("status") == "READY")
        if not ready:
            return health(HealthState.down, f"model {self.model}: no READY worker for the default version") \
                .model_copy(update={"workers": 0})
        # Seen workers: the Serving area holds them against the declared replica bounds.
        return health(HealthState.up).model_copy(update={"workers": ready})

    async def versions(self) -> list[RemoteVersion]:
        out = []
        for item in await self._described(f"/models/{self.model}/all"):
            workers = item.get("workers") or []
            out.append(RemoteVersion(version=str(item.get("modelVersion")),
                                     ready=any(w.get("status") == "READY" for w in workers),
                                     state=f"{len(workers)} workers"))
        return out

    async def active_version(self) -> str | None:
        default = await self._described(f"/models/{self.model}")
        if not default or not default[0].get("workers"):
            return None  # no default, or scaled to zero (disabled): nothing answers
        return str(default[0].get("modelVersion"))

    async def activate(self, version: str) -> None:
        await self.request("PUT", f"{self.management}/models/{self.model}/{version}/set-default")
        target = await self._described(f"/models/{self.model}/{version}")
        if target and not target[0].get("workers"):
            # It was disabled (scaled to zero) earlier: give it a worker again.
            await self.request("PUT", f"{self.management}/models/{self.model}/{version}",
                               params={"min_worker": 1, "synchronous": "true"}, ok=(200, 202),
                               timeout_s=max(self.timeout_s, 60.0))

    async def disable(self) -> None:
        default = await self._described(f"/models/{self.model}")
        if not default:
            raise EndpointError(f"model {self.model} has no default version", definite=True)
        version = default[0].get("modelVersion")
        await self.request("PUT", f"{self.management}/models/{self.model}/{version}",
                           params={"min_worker": 0, "max_worker": 0, "synchronous": "true"}, ok=(200, 202),
                           timeout_s=max(self.timeout_s, 60.0))
