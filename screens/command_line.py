"""The ``:`` command line (k9s / vim style), with history on up/down."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

from widgets.safe_input import SafeInput


class CommandLine(ModalScreen[str | None]):
    """A one-line prompt docked at the bottom; dismisses with the text, or None on esc."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="command_line.cancel"),
        Binding("up", "history(-1)", "Previous", id="command_line.previous", show=False),
        Binding("down", "history(1)", "Next", id="command_line.next", show=False),
    ]

    def __init__(self, history: list[str], hint: str = "model NAME · fleet · help · q", more: str = "") -> None:
        super().__init__()
        self.history = history
        self.hint = hint
        self.more = more  # the rest of the commands, on the bottom border
        self._position = len(history)

    def compose(self) -> ComposeResult:
        yield SafeInput(placeholder=self.hint, id="command-input")

    def on_mount(self) -> None:
        self.query_one(Input).border_title = ":"
        self.query_one(Input).border_subtitle = self.more

    @on(Input.Submitted)
    def _run(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._position = max(0, min(len(self.history), self._position + step))
        box = self.query_one(Input)
        box.value = self.history[self._position] if self._position < len(self.history) else ""
        box.cursor_position = len(box.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
