"""``modeldeck drill MODEL``: prove the way back works (issue 17, Rollback area). Switch the configured endpoint
(or registry) to the fallback version and back to the one serving, each step through the rollback's own
path (read-only refusal, lock, intent and outcome audit rows, one call, verified read-back, timed from the
command), then one ``drill`` audit row with both times. The Rollback area reads the last timed switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.endpoints.protocol import EndpointAdapter
    from app.rollback.actions import Outcome
    from app.store import Store

ACTION = "drill"


@dataclass
class DrillOutcome:
    model: str
    status: str  # succeeded | failed | unknown | refused
    serving: str | None  # the version serving before (and, when it succeeded, after) the drill
    fallback: str | None
    away: "Outcome | None" = None
    back: "Outcome | None" = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def lines(self) -> list[str]:
        out = [step.describe() for step in (self.away, self.back) if step is not None]
        if self.ok and self.away is not None and self.back is not None:
            out.append(f"drill {self.model}: succeeded; switch to {self.fallback} {self.away.elapsed_ms / 1000:.1f} s, "
                       f"back to {self.serving} {self.back.elapsed_ms / 1000:.1f} s")
        else:
            out.append(f"drill {self.model}: {self.status}" + (f"; {self.error}" if self.error else ""))
        return out


async def drill(store: "Store", settings: "Settings", model: str, *, fallback: str | None = None,
                actor: str | None = None, adapter: "EndpointAdapter | None" = None,
                verify_timeout_s: float = 30.0) -> DrillOutcome:
    """Switch ``model`` to ``fallback`` (default: the rollback's default target, the version that served most
    recently before the active one) and back. When the way back fails, the drill stops there and says which
    version now serves: the operator decides (the rollback's own rule: never retry an action by itself)."""
    import time

    from app.rollback.actions import plan_rollback, rollback

    plan = await plan_rollback(store, settings, model, adapter=adapter)
    serving = plan.current
    if fallback is None and plan.default_target is not None:
        fallback = plan.default_target.version
    problem = None
    if plan.remote_error is not None:
        problem = f"the endpoint could not be read: {plan.remote_error}"
    elif serving is None:
        problem = "nothing is serving: there is nothing to return to"
    elif fallback is None:
        problem = "no fallback version to switch to (pass --to)"
    elif fallback == serving:
        problem = f"{fallback} is the version serving; the drill needs another one"
    if problem is not None or plan.read_only:
        why = problem or str(plan.read_only)
        with store.write():
            store.audit.append(ACTION, model, actor=actor, outcome="refused",
                               detail={"serving": serving, "fallback": fallback, "refused": why})
        return DrillOutcome(model, "refused", serving, fallback, error=why)
    assert serving is not None and fallback is not None
    away = await rollback(store, settings, model, fallback, f"drill: switch to the fallback {fallback}",
                          actor=actor, adapter=adapter, verify_timeout_s=verify_timeout_s, started=time.monotonic())
    back = None
    if away.ok:
        back = await rollback(store, settings, model, serving, f"drill: back to {serving}", actor=actor,
                              adapter=adapter, verify_timeout_s=verify_timeout_s, started=time.monotonic())
    status = "succeeded" if back is not None and back.ok else (back or away).status
    error = ""
    if not away.ok:
        error = f"the switch to {fallback} did not succeed; {serving} should still serve (check it)"
    elif back is not None and not back.ok:
        error = f"the switch back to {serving} did not succeed: {fallback} may be serving now; roll back by hand"
    with store.write():
        store.audit.append(ACTION, model, actor=actor, outcome=status, detail={
            "serving": serving, "fallback": fallback, "switch_ms": away.elapsed_ms,
            "return_ms": back.elapsed_ms if back is not None else None, "error": error or None})
    return DrillOutcome(model, status, serving, fallback, away, back, error)
