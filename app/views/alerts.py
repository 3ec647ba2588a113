"""What an alert list shows (the fleet's, or one model's) and its one action, acknowledging: each a
blocking call from a screen's thread worker (the widget is handed the alerts and asks for the action)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.models import Alert
    from app.store.location import StoreLocation


def recent_alerts(location: "StoreLocation", model: str | None, *, resolved_limit: int,
                  at: int | None = None) -> "list[Alert]":
    """Firing alerts and the ``resolved_limit`` most recently resolved; ``model`` None: every model's;
    ``at``: as they stood then (incident time travel)."""
    with location.open() as store:
        return store.alerts.recent(model, resolved_limit=resolved_limit, at=at)


def acknowledge(location: "StoreLocation", model: str, *, settings: "Settings | None", now: int | None = None
                ) -> "list[Alert]":
    """Acknowledge ``model``'s unacknowledged firing alerts (audited); returns those acknowledged.
    Raises app.guard.ReadOnlyRefused (audited) when ``settings`` say read-only."""
    from app.alerts.rules import acknowledge_model

    with location.open() as store:
        return acknowledge_model(store, model, now=now, settings=settings)
