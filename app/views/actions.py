"""The audited actions the console's modals run (rollback, disable, promotion): the plan a modal shows and
the action itself, each one blocking call from the modal's thread worker. The work is app.rollback's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
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
