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

from app.text import safe_text
from widgets.safe_input import SafeInput


@dataclass(frozen=True)
class PromptField:
    label: str
    placeholder: str = ""
    value: str = ""
    required: bool = True
    choices: tuple[str, ...] = field(default=())


def _problem(spec: PromptField, value: str) -> str | None:
    """What is wrong with ``value`` for this field, or None."""
    if spec.required and not value:
        return f"{spec.label} is required"
    if spec.choices and value and value not in spec.choices:
        return f"{spec.label}: one of {', '.join(spec.choices)}"
    return None


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
                yield SafeInput(value=spec.value, placeholder=spec.placeholder, id=f"prompt-{index}")
            yield Static(id="prompt-error", classes="error-line")
            yield Static(Text("enter: ok   esc: cancel", style="dim"))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        error = self.query_one("#prompt-error", Static)
        # The field just entered is checked before moving on: a bad value is said on this Enter,
        # not after the operator has gone on to the next field.
        problem = _problem(self.fields[index], event.input.value.strip())
        if problem:
            error.update(Text(problem, style="red"))
            return
        error.update("")
        if index + 1 < len(inputs) and not inputs[index + 1].value:
            inputs[index + 1].focus()
            return
        values = [box.value.strip() for box in inputs]
        for spec, value, box in zip(self.fields, values, inputs):
            problem = _problem(spec, value)
            if problem:
                error.update(Text(problem, style="red"))
                box.focus()
                return
        self.dismiss(values[0] if len(values) == 1 else values)

    def action_cancel(self) -> None:
        self.dismiss(None)
