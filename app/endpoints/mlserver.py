"""MLServer / KServe Open Inference Protocol (V2).

Health and readiness are judged by status code (bodies may be empty). The active version is the
one unversioned inference reaches: MLServer answers with the newest READY version (integers
compared as numbers, other names as text). The protocol cannot choose a default, so switching
versions needs the model repository on this host (``repository`` in the config): modeldeck turns
off the versions that would outrank the target by renaming their ``model-settings.json`` to
``model-settings.json.modeldeck-off`` (nothing is deleted), makes sure the target's is on, and
unloads and reloads the model (``load`` re-reads the folder; both act on every version of a name).
Disabling is ``unload``.
"""

from __future__ import annotations

import json
from functools import cmp_to_key
from pathlib import Path

import httpx

from app.config.settings import EndpointConfig
from app.endpoints.base import HttpAdapter, health
from app.endpoints.prometheus import Recipe
from app.endpoints.protocol import Capabilities, EndpointError, NotSupported, RemoteVersion
from app.models import Health, HealthState

SETTINGS = "model-settings.json"
OFF = SETTINGS + ".modeldeck-off"

MLSERVER_RECIPE = Recipe(model_label="model", successes="model_infer_request_success_total",
                         failures="model_infer_request_failure_total", latency="model_infer_request_duration",
                         latency_unit_ms=1000.0)


def _newer(a: str, b: str) -> int:
    """MLServer's own ordering of versions (registry._is_newer)."""
    try:
        return int(a) - int(b)
    except ValueError:
        return (a > b) - (a < b)


class MlserverAdapter(HttpAdapter):
    kind = "mlserver"
    recipe = MLSERVER_RECIPE

    def __init__(self, model: str, config: EndpointConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(model, config, client=client)
        self.repository = config.repository
        self.capabilities = Capabilities(can_activate=self.repository is not None, can_disable=True,
                                         has_metrics=True)

    def default_metrics_url(self) -> str:
        return str(httpx.URL(self.url).copy_with(port=8082, path="/metrics"))

    async def health(self) -> Health:
        try:
            ready = await self.request("GET", f"{self.url}/v2/health/ready", ok=(200, 400, 404, 503))
            if ready.status_code != 200:
                live = await self.request("GET", f"{self.url}/v2/health/live", ok=(200, 400, 404, 503))
                if live.status_code == 200:
                    return health(HealthState.degraded, f"server live but not ready (HTTP {ready.status_code})")
                return health(HealthState.down, f"server not live (HTTP {live.status_code})")
            model = await self.request("GET", f"{self.url}/v2/models/{self.model}/ready", ok=(200, 400, 404, 503))
        except EndpointError as exc:
            return health(HealthState.down, str(exc))
        if model.status_code != 200:
            return health(HealthState.down, f"model {self.model} not ready (HTTP {model.status_code})")
        return health(HealthState.up)

    async def _index(self) -> list[dict]:
        body = await self.request_json("POST", f"{self.url}/v2/repository/index", json={})
        if not isinstance(body, list):
            raise EndpointError("POST /v2/repository/index: not a list of models")
        return [m for m in body if isinstance(m, dict) and m.get("name") == self.model]

    async def versions(self) -> list[RemoteVersion]:
        listed = {str(m.get("version")): RemoteVersion(version=str(m.get("version")), ready=m.get("state") == "READY",
                                                       state=str(m.get("state", "")))
                  for m in await self._index() if m.get("version") is not None}
        for version, path in self._settings_files().items():
            if version not in listed and path.name == OFF:
                listed[version] = RemoteVersion(version=version, ready=False, state="OFF (modeldeck)")
        return sorted(listed.values(), key=cmp_to_key(lambda a, b: _newer(b.version, a.version)))

    async def active_version(self) -> str | None:
        ready = [str(m["version"]) for m in await self._index()
                 if m.get("state") == "READY" and m.get("version") is not None]
        return max(ready, key=cmp_to_key(_newer)) if ready else None

    def _settings_files(self) -> dict[str, Path]:
        """version -> its settings file (on or off) in the repository, for this model."""
        if self.repository is None:
            return {}
        found: dict[str, Path] = {}
        for path in sorted(Path(self.repository).rglob("model-settings.json*")):
            if path.name not in (SETTINGS, OFF):
                continue
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            name = doc.get("name") or path.parent.name
            version = (doc.get("parameters") or {}).get("version")
            if name == self.model and version is not None:
                found[str(version)] = path
        return found

    async def activate(self, version: str) -> None:
        if self.repository is None:
            raise NotSupported("mlserver: set `repository` (its model repository folder) to switch versions")
        files = self._settings_files()
        if version not in files:
            raise EndpointError(f"version {version} is not in the model repository", definite=True)
        for other, path in files.items():
            want_on = other == version or _newer(other, version) < 0 and path.name == SETTINGS
            target = path.with_name(SETTINGS if want_on else OFF)
            if target != path:
                path.rename(target)
        # unload + load: load alone would keep a version whose folder was turned off.
        await self.request("POST", f"{self.url}/v2/repository/models/{self.model}/unload", ok=(200, 400, 404))
        await self.request("POST", f"{self.url}/v2/repository/models/{self.model}/load",
                           timeout_s=max(self.timeout_s, 60.0))

    async def disable(self) -> None:
        await self.request("POST", f"{self.url}/v2/repository/models/{self.model}/unload")
