"""modeldeck's own ``http`` protocol (data/http-protocol.md): for in-house servers and the demo endpoint.

Every path is relative to the endpoint's URL, so one server can host several models under
different base URLs.
"""

from __future__ import annotations

from app.endpoints.base import HttpAdapter, clean, health
from app.endpoints.prometheus import Recipe
from app.endpoints.protocol import Capabilities, EndpointError, RemoteVersion
from app.models import Health, HealthState
from app.timeutil import in_range_ms

HTTP_RECIPE = Recipe(model_label="model", requests="modeldeck_requests_total", error_label="status",
                     error_values=frozenset({"error"}), latency="modeldeck_request_latency_seconds",
                     latency_unit_ms=1000.0)

_STATES = {state.value: state for state in HealthState}


class HttpProtocolAdapter(HttpAdapter):
    kind = "http"
    capabilities = Capabilities(can_activate=True, can_disable=True, has_metrics=True)
    recipe = HTTP_RECIPE

    def default_metrics_url(self) -> str:
        return f"{self.url}/metrics"

    async def health(self) -> Health:
        try:
            response = await self.request("GET", f"{self.url}/health", ok=(200, 503))
        except EndpointError as exc:
            return health(HealthState.down, str(exc))
        try:
            body = response.json()
            state = _STATES.get(str(body.get("status", "")), None)
            reason = clean(str(body.get("reason") or ""))
        except (ValueError, AttributeError):
            state, reason = None, ""
        if state is None:
            if response.status_code == 503:
                return health(HealthState.down, "GET /health: HTTP 503")
            return health(HealthState.degraded, "GET /health: answer is not the http protocol's JSON")
        if response.status_code == 503 and state is HealthState.up:
            state = HealthState.down
        return health(state, reason)

    async def _versions_doc(self) -> dict:
        body = await self.request_json("GET", f"{self.url}/versions")
        if not isinstance(body, dict) or not isinstance(body.get("versions"), list):
            raise EndpointError("GET /versions: answer is not the http protocol's JSON")
        return body

    async def versions(self) -> list[RemoteVersion]:
        body = await self._versions_doc()
        out = []
        for item in body["versions"]:
            if isinstance(item, dict) and "version" in item:
                created = item.get("created_at")
                out.append(RemoteVersion(version=str(item["version"]), ready=item.get("ready"),
                                         state=str(item.get("state", "")),
                                         created_at=in_range_ms(created)))
        return out

    async def active_version(self) -> str | None:
        active = (await self._versions_doc()).get("active")
        return None if active is None else str(active)

    async def activate(self, version: str) -> None:
        await self.request("POST", f"{self.url}/activate", json={"version": version})

    async def disable(self) -> None:
        await self.request("POST", f"{self.url}/disable", json={})
