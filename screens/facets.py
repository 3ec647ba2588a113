"""The facets of the Logs screen's result set: choose a value and the query narrows to it."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.search.complete import quote_value
from app.store.search import Facet
from app.text import safe_text

# A facet's field -> how a chosen value is written in the query.
_TERM = {"error": None, "version": "version:", "status": "status:", "model": "model:"}


def term_for(field: str, value: object) -> str:
    """The query term that keeps only rows with ``field`` = ``value`` (an error message: its phrase)."""
    text = str(value)
    if field == "error":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if field in _TERM:
        return f"{_TERM[field]}{quote_value(text)}"
    return f"{field}={quote_value(text)}" if isinstance(value, str) else f"{field}={text}"


class FacetPicker(ModalScreen[str | None]):
    """Dismisses with the term to add to the query, or None (esc)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="facets.cancel")]

    def __init__(self, facets: list[Facet]) -> None:
        super().__init__()
        self.facets = facets
        self.terms: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        options: list[Option | None] = []
        for facet in self.facets:
            if not facet.values:
                continue
            prefix = "at least " if facet.capped else ""
            options.append(Option(Text(f"{facet.field}  (newest {facet.sampled:,} matches)", style="bold"),
                                  disabled=True))
            for index, (value, n) in enumerate(facet.values):
                key = f"{facet.field}-{index}"
                self.terms[key] = term_for(facet.field, value)
                label = Text.assemble(f"  {prefix}{n:>7,}  ", safe_text(value, width=64))
                options.append(Option(label, id=key))
        with Vertical(id="facets-box", classes="modal-box"):
            yield Static(Text("Narrow the results to", style="bold"))
            yield OptionList(*options, id="facets-list")
            yield Static(Text("enter: add to the query   esc: cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.terms.get(event.option.id or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
