"""The prediction-log results table: one row per record, columns fitted to the width it has.

It shows whatever rows it is handed (the screen keeps that to a few pages) and never reads
the store. Cells are untrusted text: cut to their width and shown literally.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich.text import Text

from widgets.nav_table import NavTable
from widgets.safe_text import safe_text

# (key, label, minimum width, share of the spare width)
_COLUMNS = (("ts", "time", 14, 0), ("model", "model", 8, 2), ("version", "ver", 4, 1),
            ("request_id", "request", 10, 3), ("entity_id", "entity", 8, 2), ("status", "st", 3, 0),
            ("score", "score", 5, 0), ("latency_ms", "ms", 5, 0))
_PADDING = 2  # DataTable's cell padding, both sides


def _time(ms: int) -> str:
    from app.timeutil import ms_to_iso

    iso = ms_to_iso(ms)
    return f"{iso[5:10]} {iso[11:19]}"


def _cell(key: str, row: dict[str, Any], width: int) -> Text | str:
    value = row.get(key)
    if key == "ts":
        return _time(value)
    if key == "status":
        return Text("err", style="bold red") if value == "error" else Text("ok", style="green")
    if key in ("score", "latency_ms"):
        if value is None:
            return "—"
        return f"{value:.3f}" if key == "score" else f"{value:.0f}"
    return safe_text("—" if value is None else value, width=width)


class LogTable(NavTable):
    """Rows of prediction records; ``show(rows, cursor)`` replaces them all."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._widths: tuple[int, ...] = ()
        self._rows: Sequence[dict[str, Any]] = ()

    def _fit(self) -> tuple[int, ...]:
        available = max(0, (self.size.width or 80) - 2 - _PADDING * len(_COLUMNS))
        widths = [minimum for _, _, minimum, _ in _COLUMNS]
        spare = max(0, available - sum(widths))
        shares = sum(share for *_, share in _COLUMNS)
        for i, (*_, share) in enumerate(_COLUMNS):
            widths[i] += spare * share // shares
        widths[1] = min(widths[1], 24)
        widths[2] = min(widths[2], 10)
        widths[4] = min(widths[4], 24)
        return tuple(widths)

    def show(self, rows: Sequence[dict[str, Any]], cursor: int = 0, *, keep_screen_row: int | None = None) -> None:
        """Replace the rows; put the cursor on ``cursor``, ``keep_screen_row`` lines below the top."""
        widths = self._fit()
        if widths != self._widths:
            self.clear(columns=True)
            for (key, label, _, _), width in zip(_COLUMNS, widths):
                self.add_column(label, key=key, width=width)
            self._widths = widths
        else:
            self.clear()
        self._rows = rows
        self.add_rows([_cell(key, row, width) for (key, *_), width in zip(_COLUMNS, widths)] for row in rows)
        if not rows:
            return
        cursor = max(0, min(cursor, len(rows) - 1))
        self.move_cursor(row=cursor, animate=False, scroll=keep_screen_row is None)
        if keep_screen_row is not None:
            # Keep the highlighted record where it was on screen while the rows around it changed.
            self.scroll_to(y=max(0, cursor - keep_screen_row), animate=False, immediate=True)

    def refit(self) -> None:
        if self._rows and self._fit() != self._widths:
            self.show(self._rows, self.cursor_row, keep_screen_row=self.cursor_row - int(self.scroll_y))
