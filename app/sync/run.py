"""``sync``: read each configured registry and endpoint of a model and store what it says (issue 13).

For every model in the config with a ``registry`` and/or an ``endpoint``, through the same adapters the
poller and rollback use (app/endpoints):

* every version (created, state, ready), and the active one (an MLflow alias, MLServer's ready version,
  TorchServe's default, the http protocol's ``active``), recorded as champion when none is named yet;
* MLflow only: the model's and each version's description, taken as the version's card when no card is
  stored (a card set by hand, by the demo, or by another source stays), tags, aliases, stage, and the
  source run's metrics as offline metrics (again only where none were set locally).

Each (model, source) keeps its last attempt, last success and last error: a registry that is down leaves
what was synced before, marked with its age. Sign-offs and waivers are never touched.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.config.settings import EndpointConfig, Settings
    from app.store import Store

# A whole source's sync is bounded by this many times its request timeout.
SYNC_TIMEOUT_FACTOR = 6


class SyncResult(BaseModel):
    """One model from one source."""

    model: str
    source: str = Field(description="kind:url of the registry or endpoint (no credentials)")
    ok: bool
    error: str | None = None
    synced_at: int | None = Field(default=None, description="Last successful sync (ms), this one or an older one")
    age_ms: int | None = Field(default=None, description="How old the stored data of this source is")
    versions: list[str] = Field(default_factory=list)
    active: str | None = None
    cards: list[str] = Field(default_factory=list, description="Versions whose card was taken from the source")
    metrics: list[str] = Field(default_factory=list, description="Versions whose metrics were taken from it")


def source_name(config: "EndpointConfig") -> str:
    from app.checklist.rules import display_url

    return f"{config.kind}:{display_url(config.url)}"


def sources(settings: "Settings", model: str | None = None) -> list[tuple[str, "EndpointConfig"]]:
    """(model, config) for every registry and endpoint to read, registry first."""
    out = []
    for name, config in sorted(settings.models.items()):
        if model is not None and name != model:
            continue
        for endpoint in (config.registry, config.endpoint):
            if endpoint is not None:
                out.append((name, endpoint))
    return out


async def read_source(model: str, config: "EndpointConfig") -> dict[str, Any]:
    """What one source says of ``model`` (raises EndpointError or a timeout)."""
    from app.endpoints import make_adapter

    adapter = make_adapter(model, config)
    try:
        async def read() -> dict[str, Any]:
            versions = await adapter.versions()
            active = await adapter.active_version()
            details = await adapter.details() if hasattr(adapter, "details") else {}  # MLflow
            return {"versions": versions, "active": active, "details": details}

        return await asyncio.wait_for(read(), timeout=config.timeout_s * SYNC_TIMEOUT_FACTOR)
    finally:
        await adapter.aclose()


def store_source(store: "Store", model: str, source: str, said: dict[str, Any], now: int) -> SyncResult:
    """Write what a source said, in one transaction."""
    from app.checklist.model_card import split_markdown
    from app.models import Stage

    details = said.get("details") or {}
    detailed = details.get("versions") or {}
    result = SyncResult(model=model, source=source, ok=True, synced_at=now, age_ms=0, active=said.get("active"))
    with store.write():
        for remote in said["versions"]:
            extra = detailed.get(remote.version, {})
            store.syncs.put_version(model, remote.version, created_at=remote.created_at or now, source=source, at=now,
                                    remote={"state": remote.state, "ready": remote.ready,
                                            "active": remote.version == said.get("active"),
                                            **{k: v for k, v in extra.items() if k not in ("description", "metrics")}})
            result.versions.append(remote.version)
            about = details.get("description", "").strip()
            if about and not about.startswith("#"):
                about = "## Model details\n" + about  # the registered model's own words, kept under a heading
            text = "\n\n".join(t for t in (about, extra.get("description", "")) if t)
            if text.strip():
                card = split_markdown(text)
                if store.syncs.offer_card(model, remote.version, card, source=source, at=now):
                    result.cards.append(remote.version)
            if extra.get("metrics") and store.syncs.offer_metrics(model, remote.version, extra["metrics"],
                                                                  source=source, at=now):
                result.metrics.append(remote.version)
        active = said.get("active")
        if active and active in result.versions and store.registry.active_version(model) is None:
            # Only where nothing named a champion yet (a model known from its logs or this registry): a
            # champion the store already has was recorded by a rollback or promotion, whose history the
            # rollback plan reads; what the endpoint serves now is shown live by the poller anyway.
            store.registry.set_stage(model, active, Stage.champion)
        store.syncs.mark(model, source, at=now, error=None)
    return result


def sync(store: "Store", settings: "Settings", model: str | None = None, *, now: int | None = None
         ) -> list[SyncResult]:
    """Sync every configured source (of ``model``, else of every model); one result per (model, source)."""
    from app.endpoints.protocol import EndpointError

    results = []
    for name, config in sources(settings, model):
        source = source_name(config)
        started = now_ms() if now is None else now
        try:
            said = asyncio.run(read_source(name, config))
        except (EndpointError, asyncio.TimeoutError, OSError, KeyError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
            with store.write():
                store.syncs.mark(name, source, at=started, error=error)
            # The last success from this kind of source (its URL may have moved in the config since).
            synced = [s.synced_at for s in store.syncs.states(name)
                      if s.synced_at is not None and s.source.startswith(f"{config.kind}:")]
            synced_at = max(synced, default=None)
            results.append(SyncResult(model=name, source=source, ok=False, error=error, synced_at=synced_at,
                                      age_ms=started - synced_at if synced_at is not None else None))
            continue
        results.append(store_source(store, name, source, said, started))
    return results
