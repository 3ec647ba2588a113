"""What a screen with an ``AlertList`` does for it: reads the alerts when the list asks, and acknowledges
them when the operator presses ``A`` (the list asks; the write happens here, in a thread worker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from app.text import clean
from screens.base import OnConsole
from widgets.alert_list import AlertList

if TYPE_CHECKING:
    from app.store.location import StoreLocation


class HostsAlerts(OnConsole):
    """Mixed into the fleet and model screens; ``alert_scope`` says whose alerts they list."""

    def alert_scope(self) -> tuple[str | None, int]:
        """(model, or None for every model; how many recently resolved alerts to list too)."""
        return None, 0

    def on_alert_list_reload_requested(self, message: AlertList.ReloadRequested) -> None:
        message.stop()
        model, resolved_limit = self.alert_scope()
        # The location is read at each request: the console may have switched stores since the last.
        self._read_alerts(message.alert_list, self.console_context.store, model, resolved_limit,
                          self.console_context.at_ms)

    @work(thread=True, exclusive=True, group="alert-list", exit_on_error=False, description="read the alerts")
    def _read_alerts(self, alert_list: AlertList, location: "StoreLocation", model: str | None,
                     resolved_limit: int, at: int | None = None) -> None:
        from app.views.alerts import recent_alerts

        alerts = recent_alerts(location, model, resolved_limit=resolved_limit, at=at)
        self.app.call_from_thread(alert_list.show, alerts)

    def on_alert_list_acknowledge_requested(self, message: AlertList.AcknowledgeRequested) -> None:
        message.stop()
        self._acknowledge_alerts(message.alert_list, self.console_context.store, message.model)

    @work(thread=True, exclusive=False, group="alert-ack", exit_on_error=False, description="acknowledge alerts")
    def _acknowledge_alerts(self, alert_list: AlertList, location: "StoreLocation", model: str) -> None:
        from app.guard import ReadOnlyRefused
        from app.store import StoreError
        from app.views.alerts import acknowledge

        try:
            done = acknowledge(location, model, settings=self.console_context.settings)
        except (ReadOnlyRefused, StoreError) as refused:  # read-only, or the store refused: said, never silent
            self.app.call_from_thread(self.app.notify, f"cannot acknowledge: {clean(str(refused))}", title="alerts",
                                      severity="error", markup=False)
            return
        rules = ", ".join(clean(a.rule) for a in done) or "nothing"
        self.app.call_from_thread(self.app.notify, f"acknowledged {rules} of {clean(model)} (audited)",
                                  title="alerts", markup=False)
        self.app.call_from_thread(alert_list.reload)
