"""Promoting a challenger: the promotion gates first, then the rollback's confirmed, locked, audited path.

A failing gate (or a model without gates) refuses the promotion, and the refusal is audited
with the measured rules, unless the operator gives an override reason; the override and
the verdict it overrode are written to the audit trail with the promotion itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.config.settings import ConfigError, Settings
from app.rollback.actions import REFUSED, Outcome, promote as act_promote

if TYPE_CHECKING:
    from app.endpoints.protocol import EndpointAdapter
    from app.compare.gates import Verdict
    from app.store import Store


def verdict_detail(verdict: "Verdict | None", problem: str | None, override: str | None) -> dict[str, Any]:
    """What the audit trail keeps of a gate verdict."""
    if verdict is None:
        return {"passed": False, "problem": problem, "override": override}
    return {"passed": verdict.passed, "champion": verdict.champion, "window": verdict.window,
            "paired": verdict.comparison.paired, "override": override,
            "rules": [rule.model_dump() for rule in verdict.rules]}


def judge(store: "Store", settings: Settings, model: str, candidate: str, *,
          now: int | None = None) -> tuple["Verdict | None", str | None]:
    """The gate verdict, or why there is none (no gates configured, no champion)."""
    from app.compare.gates import evaluate

    try:
        return evaluate(store, settings, model, candidate, now=now), None
    except ConfigError as exc:
        return None, str(exc)


async def promote(store: "Store", settings: Settings, model: str, candidate: str, reason: str, *,
                  override: str | None = None, actor: str | None = None,
                  adapter: "EndpointAdapter | None" = None, verify_timeout_s: float = 30.0,
                  started: float | None = None, now: int | None = None,
                  verdict: "Verdict | None" = None) -> tuple["Verdict | None", Outcome]:
    """Promote ``candidate`` when its gates hold, or when ``override`` (a typed reason) is given.

    ``verdict``: one already shown to the operator (the TUI evaluates it before asking); else
    it is evaluated here.
    """
    from app.store.identity import current_actor

    problem = None
    if verdict is None:
        verdict, problem = judge(store, settings, model, candidate, now=now)
    passed = verdict is not None and verdict.passed
    override = override.strip() if override else None
    if not passed and not override:
        failed = (", ".join(rule.name for rule in verdict.failed()) if verdict is not None else problem)
        why = f"promotion gates do not hold ({failed}); give an override reason to promote anyway"
        actor = actor or current_actor()
        audit_id = store.audit.append("promote", model, outcome=REFUSED, actor=actor, detail={
            "to": candidate, "reason": reason, "refused": why,
            "gates": verdict_detail(verdict, problem, None)})
        return verdict, Outcome(model, "promote", REFUSED, candidate, error=why, audit_ids=[audit_id])
    outcome = await act_promote(store, settings, model, candidate, reason,
                                gates=verdict_detail(verdict, problem, None if passed else override),
                                actor=actor, adapter=adapter, verify_timeout_s=verify_timeout_s, started=started)
    return verdict, outcome
