"""Put new text in a ``Static`` at the least cost to the UI loop (issue 18 item 4).

``Static.update`` asks for a layout of its container on every call. A line with a fixed height (a title,
a status line, a label above a sparkline) sits in the screen itself, so each update re-arranged every
widget of the screen and repainted whatever moved; a model screen at 10M rows did that once per reader
that landed. Here: unchanged text is left alone (no repaint at all), and a layout is asked for only when
the widget's height can change.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

_SHOWN = "_text_update_shown"  # the text a widget shows, as set here (Static keeps its content private)


def _rows(text: Text, width: int) -> int | None:
    """How many rows ``text`` takes at ``width``: its line count when every line fits, else unknown
    (wrapping depends on where words break; only Textual knows)."""
    lines = text.plain.split("\n")
    if width <= 0 or any(cell_len(line) > width for line in lines):
        return None
    return len(lines)


def update_text(widget: Static, text: Text) -> None:
    """Show ``text`` in ``widget``: nothing at all when it shows that already; a repaint alone when its
    height cannot change (a fixed height, or as many whole lines as before at its width); else a layout."""
    shown: Text | None = getattr(widget, _SHOWN, None)
    if shown is not None and shown == text:
        return
    setattr(widget, _SHOWN, text)
    height = widget.styles.height
    if height is not None and height.is_cells:
        widget.update(text, layout=False)
        return
    width = widget.content_region.width
    before = None if shown is None else _rows(shown, width)
    widget.update(text, layout=before is None or before != _rows(text, width))
