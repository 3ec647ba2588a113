"""A row-cursor ``DataTable`` with vi keys (j/k, g/G), the base of every table in the console."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import DataTable


class NavTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", id="table.down", show=False),
        Binding("k", "cursor_up", "Up", id="table.up", show=False),
        Binding("g", "scroll_top", "Top", id="table.top", show=False),
        Binding("G", "scroll_bottom", "Bottom", id="table.bottom", show=False),
        # DataTable's own home/end scroll sideways; on a row table they mean first/last row.
        Binding("home", "scroll_top", "First row", id="table.home", show=False),
        Binding("end", "scroll_bottom", "Last row", id="table.end", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._drawn_widths: tuple[int, ...] = ()

    def on_idle(self, event: events.Idle) -> None:
        # DataTable measures new rows when idle (its own handler runs after this one). A frame painted
        # before that is cached with the header's column widths and would stay clipped ("fraud" for
        # "fraud-scorer") until something else changes. So once the measuring is done, if any column
        # width moved, drop those cached lines. Only when DataTable has measuring to do (its private
        # flags, read defensively): scheduling on every idle would itself keep the app from idling.
        if getattr(self, "_require_update_dimensions", False) or getattr(self, "_updated_cells", None):
            self.call_next(self._check_widths)

    def _check_widths(self) -> None:
        widths = tuple(column.get_render_width(self) for column in self.columns.values())
        if widths != self._drawn_widths:
            self._drawn_widths = widths
            self._clear_caches()
            self.refresh()
