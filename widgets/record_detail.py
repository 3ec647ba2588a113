"""One prediction record, every field of it, one part at a time: ids, time, model version, outcome,
ground truth, then features and context as indented JSON.

The widget only mounts what a worker built (app.views.record.record_part: cleaned text, never markup);
meanwhile it says "loading…". A long record comes in parts: PageDown at the bottom of a part asks for
the next one, PageUp at the top for the one before (``PartWanted``), so a multi-MB field is read in parts
and never built whole here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from app.views.record import LOADING

if TYPE_CHECKING:
    from app.views.record import RecordPart


class RecordDetail(VerticalScroll):
    """Scrollable detail of one record, one part at a time; ``show_empty`` for the empty state."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    RecordDetail {
        padding: 0 1;
        border-top: solid $panel-lighten-1;
    }
    RecordDetail > Static {
        width: 100%;
    }
    """

    BINDINGS = [
        Binding("pagedown", "part_down", "Page down", show=False),
        Binding("pageup", "part_up", "Page up", show=False),
        Binding("ctrl+pagedown", "part(1)", "Next part", show=False),
        Binding("ctrl+pageup", "part(-1)", "Previous part", show=False),
        Binding("ctrl+end", "part_at(-1)", "Last part", show=False),
        Binding("ctrl+home", "part_at(1)", "First part", show=False),
    ]

    class PartWanted(Message):
        """The operator paged past an edge of the part shown: show part ``part`` (1-based)."""

        def __init__(self, part: int, at_end: bool) -> None:
            super().__init__()
            self.part = part
            self.at_end = at_end  # land on the part's last screen (paging back)

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.shown: RecordPart | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(Text("no record selected", style="dim"), markup=False)

    def show_empty(self, empty: str = "no record selected") -> None:
        self.shown = None
        self.query_one(Static).update(Text(empty, style="dim"))
        self.scroll_home(animate=False)

    def show_loading(self) -> None:
        """A worker is building the part to show; the previous one goes (it may be another record)."""
        self.shown = None
        self.query_one(Static).update(Text(LOADING, style="dim italic"))
        self.scroll_home(animate=False)

    def mount_part(self, part: RecordPart, *, at_end: bool = False) -> None:
        self.shown = part
        self.query_one(Static).update(part.text)
        if at_end:
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.scroll_home(animate=False)

    def action_part_down(self) -> None:
        shown = self.shown
        if shown is not None and shown.part < shown.parts and self.scroll_y >= self.max_scroll_y:
            self.post_message(self.PartWanted(shown.part + 1, at_end=False))
        else:
            self.scroll_page_down()

    def action_part_up(self) -> None:
        shown = self.shown
        if shown is not None and shown.part > 1 and self.scroll_y <= 0:
            self.post_message(self.PartWanted(shown.part - 1, at_end=True))
        else:
            self.scroll_page_up()

    def action_part(self, step: int) -> None:
        """The next (previous) part at once, without scrolling through the one shown."""
        shown = self.shown
        if shown is not None and 1 <= shown.part + step <= shown.parts:
            self.post_message(self.PartWanted(shown.part + step, at_end=False))

    def action_part_at(self, part: int) -> None:
        """The first part (1) or the last (-1)."""
        shown = self.shown
        if shown is not None:
            wanted = shown.parts if part < 0 else part
            if wanted != shown.part:
                self.post_message(self.PartWanted(wanted, at_end=False))
