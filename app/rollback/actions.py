"""The rollback workflow: the ONLY place in modeldeck that changes which version of a model serves.

plan -> refuse if read-only -> lock ``model:<name>`` -> audit intent -> act once (never retried) ->
verify by reading back the active version and health -> audit outcome -> release the lock.

An outcome is ``succeeded`` only when the read-back shows the change and the endpoint is not down;
``failed`` when the system refused the call and the read-back shows nothing changed, or at once when
the call never left this machine (connection refused or unreachable: nothing was sent, so nothing
can have changed); ``unknown`` only when a request may have reached the system and we cannot tell
(no read-back, a call that timed out, a change accepted but not visible in time, or a switch to an
endpoint that is down). The functions take an
open ``Store`` (one per thread) and run on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.config.settings import ConfigError, EndpointConfig, Settings
from app.guard import read_only_reason  # noqa: F401 - the one check; screens import it from here too
from app.models import Health, HealthState, Stage

if TYPE_CHECKING:
    from app.endpoints.protocol import EndpointAdapter
    from app.store import Store

SUCCEEDED, FAILED, UNKNOWN, REFUSED = "succeeded", "failed", "unknown", "refused"
VERIFY_TIMEOUT_S = 30.0
_VERIFY_EVERY_S = 0.25


@dataclass(frozen=True)
class Target:
    """A version the operator may roll back to, with what helps choose it."""

    version: str
    stage: str | None  # as the store knows it; None when only the endpoint knows the version
    created_at: int | None
    metrics: dict[str, Any]
    last_served_at: int | None  # newest prediction of this version in the log (shadow answers included)
    active: bool
    on_endpoint: bool | None  # None: the endpoint could not be asked
    # When it last served as the active version (app/rollback/history.py); None: never, as far as we know.
    last_active_at: int | None = None
    rolled_back_from_at: int | None = None  # a succeeded rollback moved traffic away from it then


@dataclass(frozen=True)
class Plan:
    model: str
    endpoint_kind: str
    endpoint_url: str
    current: str | None
    targets: list[Target]
    read_only: str | None  # why changes are refused, or None
    can_activate: bool
    can_disable: bool
    remote_error: str | None = None  # the endpoint could not be read while planning

    @property
    def candidates(self) -> list[Target]:
        return [t for t in self.targets if not t.active]

    @property
    def default_target(self) -> Target | None:
        """Where a rollback should start: the version that served most recently before the active
        one (never one that never served, unless none did)."""
        from app.rollback.history import choose_default

        active = next((t for t in self.targets if t.active), None)
        return choose_default(self.candidates, active)  # type: ignore[return-value]


@dataclass(frozen=True)
class Outcome:
    model: str
    action: str  # rollback | disable
    status: str  # succeeded | failed | unknown | refused
    target: str | None
    previous: str | None = None
    readback: str | None = None
    health: Health | None = None
    error: str = ""
    elapsed_ms: int = 0
    lock_holder: str | None = None
    audit_ids: list[int] = field(default_factory=list)
    # False when no read-back succeeded: ``readback`` is then not "nothing serving" but "not known".
    read_back: bool = True
    sent: bool = True  # False: the call never reached the system (nothing was sent)

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED

    def readback_text(self) -> str:
        """What was read back, never claiming a read that failed or never happened."""
        if not self.sent:
            return "nothing was sent, so nothing read back"
        if not self.read_back:
            return "read back failed"
        return f"read back: {self.readback if self.readback is not None else 'nothing'} serving"

    def describe(self) -> str:
        """One line for the operator."""
        what = f"{self.action} {self.model}" + (f" to {self.target}" if self.target else "")
        if self.status == REFUSED:
            return f"{what}: refused: {self.error}"
        state = self.health.state.value if self.health else "unknown"
        line = f"{what}: {self.status} in {self.elapsed_ms} ms; {self.readback_text()}, health {state}"
        return f"{line}; {self.error}" if self.error else line


def safe_url(url: str) -> str:
    """The URL without any user:password part, query string or fragment (``?api_key=``): what is shown
    and written to the audit trail."""
    import httpx

    try:
        return str(httpx.URL(url).copy_with(username=None, password=None, query=None, fragment=None))
    except Exception:
        return "(unparseable url)"


def endpoint_for(settings: Settings, model: str) -> EndpointConfig:
    from app.endpoints import acting_config

    config = settings.models.get(model)
    endpoint = acting_config(config) if config else None
    if endpoint is None:
        where = settings.source or "the config"
        raise ConfigError(f"{where}: models.{model}: no endpoint or registry configured, nothing to act on")
    return endpoint


async def plan_rollback(store: "Store", settings: Settings, model: str, *,
                        adapter: "EndpointAdapter | None" = None) -> Plan:
    """What a rollback of ``model`` would do: current version and candidate targets."""
    from app.endpoints import make_adapter
    from app.endpoints.protocol import EndpointError

    config = endpoint_for(settings, model)
    own = adapter is None
    adapter = adapter or make_adapter(model, config)
    current = remote_error = None
    remote: dict[str, Any] | None = None
    try:
        current, listed = await asyncio.gather(adapter.active_version(), adapter.versions())
        remote = {v.version: v for v in listed}
    except EndpointError as exc:
        remote_error = str(exc)
    finally:
        if own:
            await adapter.aclose()
    from app.rollback.history import serving_history

    known = {v.version: v for v in store.registry.versions(model)}
    names = list(known) + [name for name in (remote or {}) if name not in known]
    history = serving_history(store, model, [(n, known[n].stage.value if n in known else None) for n in names])
    targets = []
    for name in names:
        stored = known.get(name)
        remote_v = (remote or {}).get(name)
        targets.append(Target(
            version=name,
            stage=stored.stage.value if stored else None,
            created_at=stored.created_at if stored else (remote_v.created_at if remote_v else None),
            metrics=dict(stored.metrics) if stored else {},
            last_served_at=store.serving.newest_ts(model, name),
            active=name == current,
            on_endpoint=None if remote is None else name in remote,
            last_active_at=history.last_active.get(name),
            rolled_back_from_at=history.rolled_back_from.get(name),
        ))
    caps = adapter.capabilities
    return Plan(model=model, endpoint_kind=config.kind, endpoint_url=safe_url(config.url), current=current,
                targets=targets, read_only=read_only_reason(settings, model), can_activate=caps.can_activate,
                can_disable=caps.can_disable, remote_error=remote_error)


async def rollback(store: "Store", settings: Settings, model: str, version: str, reason: str, *,
                   actor: str | None = None, adapter: "EndpointAdapter | None" = None,
                   verify_timeout_s: float = VERIFY_TIMEOUT_S, started: float | None = None) -> Outcome:
    """Make ``version`` the active version of ``model``. ``started`` (time.monotonic()) is when the
    operator confirmed; the elapsed time runs from there."""
    return await _act(store, settings, model, "rollback", version, reason, actor=actor, adapter=adapter,
                      verify_timeout_s=verify_timeout_s, started=started)


async def disable(store: "Store", settings: Settings, model: str, reason: str, *, actor: str | None = None,
                  adapter: "EndpointAdapter | None" = None, verify_timeout_s: float = VERIFY_TIMEOUT_S,
                  started: float | None = None) -> Outcome:
    """Stop serving ``model`` (where the system supports it)."""
    return await _act(store, settings, model, "disable", None, reason, actor=actor, adapter=adapter,
                      verify_timeout_s=verify_timeout_s, started=started)


async def promote(store: "Store", settings: Settings, model: str, version: str, reason: str, *,
                  gates: dict[str, Any], actor: str | None = None, adapter: "EndpointAdapter | None" = None,
                  verify_timeout_s: float = VERIFY_TIMEOUT_S, started: float | None = None) -> Outcome:
    """Make challenger ``version`` the active version: the rollback's path (lock, audit, act once,
    verify), audited as ``promote`` with the gate verdict (and any override reason) in ``gates``.
    The gate check itself is app.rollback.promotion's job; this only acts."""
    return await _act(store, settings, model, "promote", version, reason, actor=actor, adapter=adapter,
                      verify_timeout_s=verify_timeout_s, started=started, extra={"gates": gates})


async def _act(store: "Store", settings: Settings, model: str, action: str, version: str | None, reason: str, *,
               actor: str | None, adapter: "EndpointAdapter | None", verify_timeout_s: float,
               started: float | None, extra: dict[str, Any] | None = None) -> Outcome:
    from app.endpoints import make_adapter
    from app.endpoints.protocol import EndpointError
    from app.store.identity import current_actor
    from app.store.locks import LockHeld

    t0 = started if started is not None else time.monotonic()
    actor = actor or current_actor()
    config = endpoint_for(settings, model)
    where = {"kind": config.kind, "url": safe_url(config.url)}
    base = {"to": version, "reason": reason, "endpoint": where, **(extra or {})}
    switching = action != "disable"  # rollback and promote both switch versions

    def elapsed() -> int:
        return int((time.monotonic() - t0) * 1000)

    def refuse(why: str, **extra: Any) -> Outcome:
        audit_id = store.audit.append(action, model, detail={**base, "refused": why, **extra}, outcome=REFUSED,
                                      actor=actor)
        return Outcome(model, action, REFUSED, version, error=why, elapsed_ms=elapsed(),
                       lock_holder=extra.get("lock_holder"), audit_ids=[audit_id])

    if not reason.strip():
        return refuse("a reason is required")
    why = read_only_reason(settings, model)
    if why:
        return refuse(why)
    if config.token_env and not os.environ.get(config.token_env):
        return refuse(f"token variable {config.token_env} is not set")
    try:
        lock = store.locks.acquire(f"model:{model}", holder=actor)
    except LockHeld as held:
        return refuse(f"{held.holder.holder} holds the lock on {model} (since {_iso(held.holder.acquired_at)})",
                      lock_holder=held.holder.holder)
    own = adapter is None
    adapter = adapter or make_adapter(model, config)
    try:
        caps = adapter.capabilities
        if not (caps.can_activate if switching else caps.can_disable):
            return refuse(f"{config.kind} endpoint cannot {'switch versions' if switching else 'disable'}"
                          f" for this model")
        try:
            previous = await adapter.active_version()
        except EndpointError as exc:
            previous, before_error = None, str(exc)
        else:
            before_error = None
        if switching and previous == version:
            return refuse(f"{version} is already the active version")
        intent_id = store.audit.append(action, model, outcome="intent", actor=actor,
                                       detail={**base, "from": previous, "read_error": before_error})
        call_error: EndpointError | None = None
        try:
            if switching:
                await adapter.activate(version)  # exactly once: a retry is the operator's decision
            else:
                await adapter.disable()
        except EndpointError as exc:
            call_error = exc
        sent = call_error is None or call_error.sent
        if not sent:
            # Connection refused or unreachable: the request never left, so the system cannot have
            # acted. Failed at once; no read-back (it would only wait for the same dead endpoint).
            status, readback, health, verify_error, read_back = FAILED, None, None, "", False
        else:
            status, readback, health, verify_error, read_back = await _verify(adapter, version, call_error,
                                                                              verify_timeout_s)
        error = "; ".join(e for e in (str(call_error) if call_error else "", verify_error) if e)
        ms = elapsed()
        outcome_id = store.audit.append(action, model, outcome=status, actor=actor, detail={
            **base, "from": previous, "readback": readback, "read_back": read_back, "sent": sent,
            "health": health.state.value if health else None,
            "health_reason": health.reason if health else None, "error": error or None, "elapsed_ms": ms,
            "intent_id": intent_id})
        if status == SUCCEEDED and switching and version is not None:
            _record_champion(store, model, version)
        return Outcome(model, action, status, version, previous=previous, readback=readback, health=health,
                       error=error, elapsed_ms=ms, audit_ids=[intent_id, outcome_id], read_back=read_back,
                       sent=sent)
    finally:
        store.locks.release(lock)
        if own:
            await adapter.aclose()


async def _verify(adapter: "EndpointAdapter", version: str | None, call_error: Exception | None,
                  timeout_s: float) -> tuple[str, str | None, Health | None, str, bool]:
    """Read back until the change shows (and the endpoint is not down) or the timeout passes.
    Returns (status, read-back, health, error, whether any read-back succeeded)."""
    from app.endpoints.protocol import EndpointError

    deadline = time.monotonic() + timeout_s
    readback: str | None = None
    health: Health | None = None
    read_ok = False
    last_error = ""
    definite = getattr(call_error, "definite", False)
    while True:
        try:
            readback = await adapter.active_version()
            read_ok, last_error = True, ""
        except EndpointError as exc:
            read_ok, last_error = False, f"read-back: {exc}"
        health = await adapter.health()
        if read_ok and readback == version:
            if version is None or health.state is not HealthState.down:
                return SUCCEEDED, readback, health, "", True
        if definite and read_ok:
            # The system refused the call and still shows the old state: nothing changed.
            return FAILED, readback, health, "", True
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(_VERIFY_EVERY_S)
    if not read_ok:
        return UNKNOWN, None, health, last_error, False
    if readback == version:
        return UNKNOWN, readback, health, f"switched, but health is {health.state.value}: {health.reason}", True
    # Accepted (or no answer) yet not visible: it may still land, so we do not claim it failed.
    return UNKNOWN, readback, health, f"still {readback or 'nothing'} serving after {timeout_s:g}s", True


def _record_champion(store: "Store", model: str, version: str) -> None:
    from app.timeutil import now_ms

    with store.write():  # a version the store never saw and its stage, together
        if not any(v.version == version for v in store.registry.versions(model)):
            store.registry.ensure_models({(model, version)}, created_at=now_ms())
        store.registry.set_stage(model, version, Stage.champion)


def _iso(ms: int) -> str:
    from app.timeutil import ms_to_iso

    return ms_to_iso(ms)
