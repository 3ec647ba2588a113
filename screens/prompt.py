"""A small modal that asks for one or more lines of text (a waive reason, a sign-off role, a path)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from widgets.safe_text import safe_text


@dataclass(frozen=True)
class PromptField:
    label: str
    placeholder: str = ""
    value: str = ""
    required: bool = True
    choices: tuple[str, ...] = field(default=())


class Prompt(ModalScreen[list[str] | str | None]):
    """Dismisses with the text (one field) or the list of texts (several), or None on esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, label: str = "", *, value: str = "", fields: list[PromptField] | None = None,
                 note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.note = note
        self.fields = fields or [PromptField(label, value=value)]

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="modal-box"):
            yield Static(Text(self.title_text, style="bold"))
            if self.note:
                yield Static(safe_text(self.note, keep_newlines=True))
            for index, spec in enumerate(self.fields):
                label = spec.label + (f" ({', '.join(spec.choices)})" if spec.choices else "")
                yield Label(Text(label))
                yield Input(value=spec.value, placeholder=spec.placeholder, id=f"prompt-{index}")
            yield Static(id="prompt-error", classes="error-line")
            yield Static(Text("enter: ok   esc: cancel", style="dim"))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs) and not inputs[index + 1].value:
            inputs[index + 1].focus()
            return
        values = [box.value.strip() for box in inputs]
        for spec, value, box in zip(self.fields, values, inputs):
            problem = None
            if spec.required and not value:
                problem = f"{spec.label} is required"
            elif spec.choices and value and value not in spec.choices:
                problem = f"{spec.label}: one of {', '.join(spec.choices)}"
            if problem:
                self.query_one("#prompt-error", Static).update(Text(problem, style="red"))
                box.focus()
                return
        self.dismiss(values[0] if len(values) == 1 else values)

    def action_cancel(self) -> None:
        self.dismiss(None)
