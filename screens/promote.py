"""The promotion modal: the gate verdict, a reason, an override reason when a gate fails, the typed name.

Like the rollback modal (both are ``screens.confirmed_action.ConfirmedActionScreen``), Cancel has
the focus, Enter never acts, and the Promote button is enabled only once a reason is given, the
model's name is typed and, when the gates do not hold, an override reason is typed (it goes to
the audit trail). The work is ``app.rollback.promotion.promote`` (gates, then the rollback's lock, audit,
one call, verification), run in a thread worker with its own store connection and event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Static

from screens.confirmed_action import ConfirmedActionScreen, escape_bindings
from widgets.compare_panel import verdict_text
from app.text import clean, safe_text
from widgets.safe_input import SafeInput

if TYPE_CHECKING:
    from app.views.compare import CompareView
    from app.views.actions import Work


class PromoteScreen(ConfirmedActionScreen):
    """Built as ``PromoteScreen(view)`` from the Compare tab; dismisses with the outcome (None: cancelled)."""

    DEFAULT_CSS = """
    PromoteScreen #promote-box { border: round $warning; overflow-y: auto; }
    PromoteScreen #pr-verdict, PromoteScreen #pr-outcome { height: auto; margin-bottom: 1; }
    """

    BINDINGS = escape_bindings("promote")

    PREFIX = "pr"
    CRUMB = "promote"
    BOX_ID = "promote-box"
    REASON_PLACEHOLDER = "e.g. better accuracy on 30 days of shadow traffic"
    GO_VARIANT = "warning"
    WORKER_GROUP = "promote-act"
    WORKER_DESCRIPTION = "promote"
    # At 80x24 the box scrolls: scrolling to the focused Cancel hid the title and the PASS/FAIL
    # verdict the decision rests on. It opens at its top; Cancel keeps the focus.
    SCROLL_TO_CANCEL = False
    AUTO_FOCUS = ""  # none: Textual's would first focus (and scroll to) the reason box

    def __init__(self, view: "CompareView") -> None:
        super().__init__(view.model)
        self.view = view
        self.candidate = view.challenger or ""
        self.passed = view.verdict is not None and view.verdict.passed

    def compose_head(self) -> ComposeResult:
        yield Static(self.titled(Text.assemble(("Promote ", "bold"), safe_text(self.candidate, width=30, style="bold"),
                                               (" to champion of ", "bold"),
                                               safe_text(self.model, width=40, style="bold"))))
        yield Static(verdict_text(self.view.verdict, self.view.gates_problem), id="pr-verdict")

    def compose_extra(self) -> ComposeResult:
        if not self.passed:
            yield Static(Text("The gates do not hold: an override reason is required (audited)", style="bold red"))
            yield SafeInput(placeholder="why promote anyway, and who accepted it", id="pr-override")

    def go_label(self) -> str:
        return f"Promote {clean(self.candidate)[:16]}"

    def blocker(self) -> str | None:
        if self.running or self.outcome is not None:
            return "done"
        if not self.value("reason"):
            return "give a reason"
        if not self.passed and not self.value("override"):
            return "give an override reason"
        if not self.confirmed():
            return "type the model name"
        return None

    def prepare_work(self) -> "tuple[Text, Work]":
        reason, override = self.value("reason"), self.value("override") or None

        from app.views.actions import promote_work

        work = promote_work(self.model, self.candidate, reason, override=override, verdict=self.view.verdict)
        return Text("promoting… (waiting for the read-back)", style="yellow"), work

    def refusal(self, error: Exception) -> str | None:
        from app.config.settings import ConfigError

        # No endpoint to act on: nothing was attempted, which is not an unknown outcome.
        return f"nothing was done: {error}" if isinstance(error, ConfigError) else None
