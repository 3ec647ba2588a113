"""A row-cursor ``DataTable`` with vi keys (j/k, g/G), the base of every table in the console."""

from __future__ import annotations

from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import DataTable


class NavTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", id="table.down", show=False),
        Binding("k", "cursor_up", "Up", id="table.up", show=False),
        Binding("g", "scroll_top", "Top", id="table.top", show=False),
        Binding("G", "scroll_bottom", "Bottom", id="table.bottom", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        # DataTable measures new rows when idle; a frame painted before that is cached with the
        # header's column widths and would stay clipped ("fraud" for "fraud-scorer") until the next
        # change. When the measured width changes, drop those cached lines (only caches: no restyle,
        # no layout, so nothing here can trigger another size change).
        if old.width != new.width:
            self._clear_caches()
            self.refresh()
