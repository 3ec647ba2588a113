"""The Logs screen's hit histogram: one cell per time bucket above the results, the chosen bar in reverse.

Handed the histogram (and which bar is chosen); a click on a bar posts ``BarChosen`` so the screen can
move the results there, as `<`/`>` then `t` do by key. Counts only: no untrusted text is drawn here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

if TYPE_CHECKING:
    from app.store.search import Histogram

BLOCKS = "▁▂▃▄▅▆▇█"


def bars_text(histogram: "Histogram", chosen: int) -> Text:
    """One block per bucket, scaled to the fullest; yellow where the counts are "at least" (older than
    the capped read reached), the chosen bar in reverse (an empty chosen bar shows as "_")."""
    top = max(histogram.counts, default=0) or 1
    text = Text(no_wrap=True)
    for i, n in enumerate(histogram.counts):
        block = " " if n == 0 else BLOCKS[min(len(BLOCKS) - 1, n * len(BLOCKS) // (top + 1))]
        style = "reverse bold" if i == chosen else ("yellow" if histogram.start + i * histogram.width
                                                    < histogram.complete_from else "cyan")
        text.append(block if block != " " or i != chosen else "_", style=style)
    return text


class HitHistogram(Static):
    """One line of bars; click one to choose it."""

    class BarChosen(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index  # the bucket clicked, 0 = the oldest

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self._bars = 0

    def show(self, histogram: "Histogram | None", chosen: int) -> None:
        self._bars = 0 if histogram is None else len(histogram.counts)
        self.update("" if histogram is None else bars_text(histogram, chosen))

    def on_click(self, event: events.Click) -> None:
        at = event.get_content_offset(self)
        if at is not None and 0 <= at.x < self._bars:
            event.stop()
            self.post_message(self.BarChosen(at.x))
