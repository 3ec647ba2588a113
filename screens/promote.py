"""The promotion modal: the gate verdict, a reason, an override reason when a gate fails, the typed name.

Like the rollback modal, Cancel has the focus, Enter never acts, and the Promote button is
enabled only once a reason is given, the model's name is typed and, when the gates do not
hold, an override reason is typed (it goes to the audit trail). The work is
``app.promotion.promote`` (gates, then the rollback's lock, audit, one call, verification),
run in a thread worker with its own store connection and event loop.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from screens.rollback import outcome_text
from widgets.compare_panel import verdict_text
from widgets.safe_text import clean, safe_text

if TYPE_CHECKING:
    from app.compare_view import CompareView
    from app.config import Settings
    from app.rollback import Outcome


class PromoteScreen(ModalScreen["Outcome | None"]):
    """Built as ``PromoteScreen(view)`` from the Compare tab; dismisses with the outcome (None: cancelled)."""

    DEFAULT_CSS = """
    PromoteScreen { align: center middle; }
    PromoteScreen #promote-box { width: 100; max-width: 100%; height: auto; max-height: 100%;
        padding: 0 1; border: round $warning; background: $surface; overflow-y: auto; }
    PromoteScreen Input { height: 1; border: none; padding: 0 1; background: $boost; margin-bottom: 1; }
    PromoteScreen Input:focus { border: none; background: $accent 30%; }
    PromoteScreen #pr-verdict, PromoteScreen #pr-outcome { height: auto; margin-bottom: 1; }
    PromoteScreen #pr-buttons { height: auto; align-horizontal: right; }
    PromoteScreen Button { margin-left: 2; min-width: 10; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="promote.cancel")]

    class Finished(Message):
        def __init__(self, outcome: "Outcome | None", error: str = "", *, attempted: bool = True) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error
            self.attempted = attempted

    def __init__(self, view: "CompareView") -> None:
        super().__init__()
        self.view = view
        self.model = view.model
        self.candidate = view.challenger or ""
        self.passed = view.verdict is not None and view.verdict.passed
        self.outcome: Outcome | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(id="promote-box"):
            yield Static(Text.assemble(("Promote ", "bold"), safe_text(self.candidate, width=30, style="bold"),
                                       (" to champion of ", "bold"), safe_text(self.model, width=40, style="bold")))
            yield Static(verdict_text(self.view.verdict, self.view.gates_problem), id="pr-verdict")
            yield Static(Text("Reason (written to the audit trail)", style="dim"))
            yield Input(placeholder="e.g. better accuracy on 30 days of shadow traffic", id="pr-reason")
            if not self.passed:
                yield Static(Text("The gates do not hold: an override reason is required (audited)",
                                  style="bold red"))
                yield Input(placeholder="why promote anyway, and who accepted it", id="pr-override")
            yield Static(Text.assemble(("Type the model name ", "dim"), safe_text(self.model, style="bold"),
                                       (" to enable the action", "dim")))
            yield Input(placeholder=clean(self.model), id="pr-confirm")
            yield Static(id="pr-outcome")
            with Horizontal(id="pr-buttons"):
                yield Button("Cancel", id="pr-cancel")
                yield Button(f"Promote {clean(self.candidate)[:16]}", id="pr-go", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#pr-cancel", Button).focus()  # the safe choice is the default one

    def _value(self, box_id: str) -> str:
        boxes = self.query(f"#{box_id}")
        return boxes.first(Input).value.strip() if boxes else ""

    def _blocker(self) -> str | None:
        if self.running or self.outcome is not None:
            return "done"
        if not self._value("pr-reason"):
            return "give a reason"
        if not self.passed and not self._value("pr-override"):
            return "give an override reason"
        if self._value("pr-confirm") != self.model:
            return "type the model name"
        return None

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#pr-go", Button).disabled = self._blocker() is not None

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter moves on; only the button acts
        self.focus_next()

    @on(Button.Pressed, "#pr-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    @on(Button.Pressed, "#pr-go")
    def _go_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self._blocker() is not None:
            return
        started = time.monotonic()
        self.running = True
        self.query_one("#pr-go", Button).disabled = True
        for box in self.query(Input):
            box.disabled = True
        self.query_one("#pr-outcome", Static).update(Text("promoting… (waiting for the read-back)", style="yellow"))
        app = self.app
        self.perform(app.db_path, app.settings, self._value("pr-reason"),  # type: ignore[attr-defined]
                     self._value("pr-override") or None, started)

    @work(thread=True, exclusive=True, group="promote-act", exit_on_error=False, description="promote")
    def perform(self, db_path: Path, settings: "Settings", reason: str, override: str | None,
                started: float) -> None:
        from app.config import ConfigError
        from app.promotion import promote
        from app.store import Store

        try:
            with Store.open(db_path) as store:
                _, outcome = asyncio.run(promote(store, settings, self.model, self.candidate, reason,
                                                 override=override, started=started, verdict=self.view.verdict))
        except ConfigError as exc:  # nothing was attempted (no endpoint to act on): not an unknown outcome
            self.post_message(self.Finished(None, f"nothing was done: {exc}", attempted=False))
            return
        except Exception as exc:  # the outcome is then unknown: say so, never guess
            self.post_message(self.Finished(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            return
        self.post_message(self.Finished(outcome))

    def on_promote_screen_finished(self, message: Finished) -> None:
        self.running = False
        self.outcome = message.outcome
        box = self.query_one("#pr-outcome", Static)
        if message.outcome is None and not message.attempted:
            box.update(Text.assemble(("refused ", "bold red"), safe_text(message.error)))
        elif message.outcome is None:
            box.update(Text.assemble(("unknown: ", "bold yellow"), safe_text(message.error),
                                     " (look at the endpoint and the audit trail)"))
        else:
            box.update(outcome_text(message.outcome))
        self.query_one("#pr-go", Button).display = False
        cancel = self.query_one("#pr-cancel", Button)
        cancel.label = "Close"
        cancel.focus()

    def action_cancel(self) -> None:
        if self.running:
            self.notify("waiting for the outcome: the modal closes once it is known", severity="warning")
            return
        self.dismiss(self.outcome)
        if self.outcome is not None:
            self.app.call_later(self.app.action_refresh)  # type: ignore[attr-defined]
