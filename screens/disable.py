"""The disable modal: stop serving a model during an incident, without a deployment.

The same deliberate modal as rollback and promotion (``screens.confirmed_action``): Cancel has
the focus, a reason is asked for (audited), the action is enabled only once the model's name is
typed, and Enter never acts. It shows what would stop: the endpoint and, from the poller's last
answer, the version it serves and its health. The work is ``app.rollback.actions.disable`` (read-only
refusal, the model's lock, audit, one call, read-back until nothing serves), in a thread worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from app.timeutil import age_text
from screens.confirmed_action import ConfirmedActionScreen, escape_bindings
from app.text import clean, safe_text

if TYPE_CHECKING:
    from app.views.actions import Work


class DisableScreen(ConfirmedActionScreen):
    """Built as ``DisableScreen(model)``; dismisses with the outcome (None: cancelled)."""

    DEFAULT_CSS = """
    DisableScreen #disable-box { border: round $error; overflow-y: auto; }
    DisableScreen #ds-target { height: auto; margin-bottom: 1; }
    """

    BINDINGS = escape_bindings("disable")

    PREFIX = "ds"
    CRUMB = "disable"
    BOX_ID = "disable-box"
    REASON_PLACEHOLDER = "e.g. INC-2211: scores out of range, customers declined"
    GO_VARIANT = "error"
    WORKER_GROUP = "disable-act"
    WORKER_DESCRIPTION = "disable"

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.not_possible: str | None = None  # read-only, or no endpoint to act on

    def compose_head(self) -> ComposeResult:
        yield Static(self.titled(Text.assemble(("Disable ", "bold"), safe_text(self.model, width=40, style="bold"),
                                               (": stop serving it", "bold"))))
        yield Static(self._target_text(), id="ds-target")

    def _target_text(self) -> Text:
        from app.rollback.actions import read_only_reason, safe_url

        context = self.console_context
        settings = context.settings
        config = settings.models.get(self.model)
        endpoint = config.endpoint or config.registry if config is not None else None
        if endpoint is None:
            self.not_possible = "no endpoint"
            return Text(f"No endpoint or registry is configured for this model (models.{clean(self.model)} "
                        "in the config): there is nothing to disable.", style="bold red")
        text = Text.assemble(("endpoint ", "dim"), (endpoint.kind, "bold"), " ", safe_text(safe_url(endpoint.url), width=60))
        live = context.live.get(self.model)
        if live is not None:
            text.append("\nlast poll: ", style="dim")
            text.append(live.health.state.value, style="bold")
            if live.health.checked_at is not None:
                text.append(f" {age_text(max(0, context.now_ms() - live.health.checked_at))} ago", style="dim")
            if live.active_version:
                text.append(", serving ", style="dim")
                text.append_text(safe_text(live.active_version, width=24, style="bold"))
        text.append("\nRequests to it fail until a version is activated again (roll back or promote).",
                    style="yellow")
        why = read_only_reason(settings, self.model)
        if why:
            self.not_possible = "read-only"
            text.append(f"\n{clean(why)}: disabling is refused", style="bold red")
        return text

    def go_label(self) -> str:
        return "Disable"

    def blocker(self) -> str | None:
        if self.running or self.outcome is not None:
            return "done"
        if self.not_possible:
            return self.not_possible
        if not self.value("reason"):
            return "give a reason"
        if not self.confirmed():
            return "type the model name"
        return None

    def prepare_work(self) -> "tuple[Text, Work]":
        reason = self.value("reason")

        from app.views.actions import disable_work

        return (Text("disabling… (waiting for the read-back to show nothing serving)", style="yellow"),
                disable_work(self.model, reason))

    def refusal(self, error: Exception) -> str | None:
        from app.config.settings import ConfigError

        return f"nothing was done: {error}" if isinstance(error, ConfigError) else None
