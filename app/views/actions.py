"""The audited actions the console's modals run (rollback, disable, promotion): the plan a modal shows and
the action itself, each one blocking call from the modal's thread worker. The work is app.rollback's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from app.compare.gates import Verdict
    from app.config.settings import Settings
    from app.rollback.actions import Outcome, Plan
    from app.store import Store
    from app.store.location import StoreLocation

    Work = Callable[[Store, Settings, float], Outcome]
    """An action on an open store: (store, settings, when the operator confirmed) -> the outcome."""


def rollback_plan(location: "StoreLocation", settings: "Settings", model: str) -> "Plan":
    """What a rollback of ``model`` would do: the endpoint's serving version and the candidate targets."""
    import asyncio

    from app.rollback.actions import plan_rollback

    with location.open() as store:
        return asyncio.run(plan_rollback(store, settings, model))


def run_action(location: "StoreLocation", settings: "Settings", work: "Work", started: float) -> "Outcome":
    """Run one confirmed action on the store at ``location`` (never created: the console only acts on
    an existing store)."""
    with location.open() as store:
        return work(store, settings, started)


def rollback_work(model: str, version: str, reason: str) -> "Work":
    """Roll ``model`` back to ``version`` (app.rollback: read-only refusal, lock, audit, verification)."""
    def run(store: "Store", settings: "Settings", started: float) -> "Outcome":
        import asyncio

        from app.rollback.actions import rollback

        return asyncio.run(rollback(store, settings, model, version, reason, started=started))

    return run


def disable_work(model: str, reason: str) -> "Work":
    """Stop serving ``model`` until a version is activated again."""
    def run(store: "Store", settings: "Settings", started: float) -> "Outcome":
        import asyncio

        from app.rollback.actions import disable

        return asyncio.run(disable(store, settings, model, reason, started=started))

    return run


def promote_work(model: str, candidate: str, reason: str, *, override: str | None,
                 verdict: "Verdict | None") -> "Work":
    """Promote ``candidate`` (the gates' ``verdict`` as the operator saw it; ``override`` when they fail)."""
    def run(store: "Store", settings: "Settings", started: float) -> "Outcome":
        import asyncio

        from app.rollback.promotion import promote

        _, outcome = asyncio.run(promote(store, settings, model, candidate, reason, override=override,
                                         started=started, verdict=verdict))
        return outcome

    return run
