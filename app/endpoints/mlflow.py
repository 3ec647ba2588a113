"""MLflow Model Registry: versions, and the alias (default ``champion``) that marks the active one.

A rollback moves the alias; MLflow keeps no alias history, so modeldeck's audit trail is that history.
``disable`` deletes the alias, so nothing resolving ``models:/<name>@<alias>`` finds a version.
The registry serves no traffic, so it has no request metrics.
"""

from __future__ import annotations

import httpx

from app.config.settings import EndpointConfig
from app.endpoints.base import HttpAdapter, health
from app.endpoints.protocol import Capabilities, EndpointError, RemoteVersion
from app.models import Health, HealthState
from app.timeutil import in_range_ms

API = "/api/2.0/mlflow"


class MlflowAdapter(HttpAdapter):
    kind = "mlflow"
    capabilities = Capabilities(can_activate=True, can_disable=True, has_metrics=False)

    def __init__(self, model: str, config: EndpointConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(model, config, client=client)
        self.alias = config.alias

    async def health(self) -> Health:
        try:
            await self.request("GET", f"{self.url}/health")
            await self.request("GET", f"{self.url}{API}/registered-models/get", params={"name": self.model})
        except EndpointError as exc:
            return health(HealthState.down, str(exc))
        return health(HealthState.up)

    async def versions(self) -> list[RemoteVersion]:
        out: list[RemoteVersion] = []
        token: str | None = None
        for _ in range(50):  # bounded paging: 50 pages of 200 versions
            params = {"filter": f"name='{self.model}'", "max_results": 200}
            if token:
                params["page_token"] = token
            body = await self.request_json("GET", f"{self.url}{API}/model-versions/search", params=params)
            for item in body.get("model_versions", []) if isinstance(body, dict) else []:
                created = item.get("creation_timestamp")
                out.append(RemoteVersion(version=str(item.get("version")), ready=item.get("status") == "READY",
                                         state=str(item.get("status", "")),
                                         created_at=in_range_ms(created)))
            token = body.get("next_page_token") if isinstance(body, dict) else None
            if not token:
                break
        return sorted(out, key=lambda v: int(v.version) if v.version.isdigit() else 0, reverse=True)

    async def active_version(self) -> str | None:
        response = await self.request("GET", f"{self.url}{API}/registered-models/alias",
                                      params={"name": self.model, "alias": self.alias}, ok=(200, 400, 404))
        if response.status_code != 200:
            # MLflow 3 answers 400 INVALID_PARAMETER_VALUE "... alias X not found" (older: 404).
            if "not found" in response.text.lower():
                return None  # no such alias: nothing is marked active
            raise EndpointError(f"GET {API}/registered-models/alias: HTTP {response.status_code}", definite=True,
                                status=response.status_code)
        try:
            return str(response.json()["model_version"]["version"])
        except (ValueError, KeyError, TypeError):
            raise EndpointError(f"GET {API}/registered-models/alias: unexpected answer") from None

    async def activate(self, version: str) -> None:
        await self.request("POST", f"{self.url}{API}/registered-models/alias",
                           json={"name": self.model, "alias": self.alias, "version": version})

    async def disable(self) -> None:
        await self.request("DELETE", f"{self.url}{API}/registered-models/alias",
                           json={"name": self.model, "alias": self.alias})  # MLflow reads a JSON body here

    async def details(self) -> dict:
        """What ``modeldeck sync`` reads beyond the versions (issue 13): the model's description and tags,
        and per version its description, stage, tags, aliases and its source run's metrics (latest value
        per key). Untrusted text throughout: the caller stores it as such."""
        body = await self.request_json("GET", f"{self.url}{API}/registered-models/get", params={"name": self.model})
        model = body.get("registered_model", {}) if isinstance(body, dict) else {}
        aliases: dict[str, list[str]] = {}
        for item in model.get("aliases") or []:
            if isinstance(item, dict):
                aliases.setdefault(str(item.get("version")), []).append(str(item.get("alias")))
        versions: dict[str, dict] = {}
        token: str | None = None
        for _ in range(50):  # bounded paging, as versions()
            params = {"filter": f"name='{self.model}'", "max_results": 200}
            if token:
                params["page_token"] = token
            page = await self.request_json("GET", f"{self.url}{API}/model-versions/search", params=params)
            for item in page.get("model_versions", []) if isinstance(page, dict) else []:
                if not isinstance(item, dict):
                    continue
                version = str(item.get("version"))
                versions[version] = {
                    "description": str(item.get("description") or ""),
                    "stage": str(item.get("current_stage") or ""),
                    "tags": _tags(item.get("tags")),
                    "aliases": sorted(aliases.get(version, [])),
                    "run_id": item.get("run_id") or None,
                    "metrics": {},
                }
            token = page.get("next_page_token") if isinstance(page, dict) else None
            if not token:
                break
        for detail in list(versions.values())[:RUNS_READ]:
            if detail["run_id"]:
                detail["metrics"] = await self._run_metrics(str(detail["run_id"]))
        return {"description": str(model.get("description") or ""), "tags": _tags(model.get("tags")),
                "versions": versions}

    async def _run_metrics(self, run_id: str) -> dict[str, float]:
        try:
            body = await self.request_json("GET", f"{self.url}{API}/runs/get", params={"run_id": run_id})
        except EndpointError:
            return {}  # a deleted run: the version keeps no metrics from it
        metrics: dict[str, tuple[int, float]] = {}
        for item in (body.get("run", {}).get("data", {}).get("metrics") or []) if isinstance(body, dict) else []:
            try:
                key, value, step = str(item["key"]), float(item["value"]), int(item.get("step") or 0)
            except (KeyError, TypeError, ValueError):
                continue
            if key not in metrics or step >= metrics[key][0]:
                metrics[key] = (step, value)
        return {key: value for key, (_, value) in metrics.items()}


# At most this many versions' source runs are read per sync (one request each).
RUNS_READ = 200


def _tags(items: object) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    return {str(t.get("key")): str(t.get("value")) for t in items if isinstance(t, dict)}
