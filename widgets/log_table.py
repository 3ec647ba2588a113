"""The prediction-log results table: one row per record, columns fitted to the width it has.

It shows whatever rows it is handed (the screen keeps that to a few pages) and never reads
the store. Cells are untrusted text: cut to their width and shown literally.

Width goes to the columns an operator reads first: the version (v3.1.2 and v3.2.1 must stay
apart) and the model get their whole text before the entity and the request id get any; a
column that cannot have a useful width is left out (the detail below shows every field).
Text that still does not fit is cut in the middle, so "fraud-scorer-v2" and "fraud-scorer-v3"
keep the ends that tell them apart.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import Input

from widgets.nav_table import NavTable
from app.text import ELLIPSIS, clean

# Columns in display order: (key, label). Time, status, score and latency have fixed widths.
_ORDER = (("ts", "time"), ("model", "model"), ("version", "ver"), ("request_id", "request"),
          ("entity_id", "entity"), ("status", "st"), ("score", "score"), ("latency_ms", "ms"))
_FIXED = {"ts": 14, "status": 3, "score": 5, "latency_ms": 5}
# Text columns by priority: (key, narrowest useful width, widest ever, width before any rows arrive).
# The version and the model are always shown; the others only when their minimum fits.
_FLEX = (("version", 3, 16, 6), ("model", 6, 24, 14), ("entity_id", 6, 24, 10), ("request_id", 12, 26, 21))
_ALWAYS = ("version", "model")
_PADDING = 2  # DataTable's cell padding, both sides


def _time(ms: int) -> str:
    from app.timeutil import TimeFormat, format_ms

    return format_ms(ms, TimeFormat.DAY_SECONDS)


def cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, an ellipsis replacing its middle (both ends tell ids apart)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    room = width - 1
    head_room, tail_room = (room + 1) // 2, room // 2
    head, used = [], 0
    for char in text:
        if used + cell_len(char) > head_room:
            break
        head.append(char)
        used += cell_len(char)
    tail, used = [], 0
    for char in reversed(text):
        if used + cell_len(char) > tail_room:
            break
        tail.append(char)
        used += cell_len(char)
    return "".join(head) + ELLIPSIS + "".join(reversed(tail))


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
    return Text(cut_middle(clean("—" if value is None else value), width), no_wrap=True, end="")


def fit_columns(width: int, wants: dict[str, int]) -> tuple[tuple[str, str, int], ...]:
    """The shown columns as (key, label, width) for a table ``width`` cells wide.

    ``wants`` is the widest text seen per flexible column (capped to its widest ever).
    """
    room = max(0, width - 2 - sum(w + _PADDING for w in _FIXED.values()))
    widths: dict[str, int] = {}
    for key, minimum, widest, _ in _FLEX:
        want = max(minimum, min(widest, wants[key]))
        if key in _ALWAYS:
            widths[key] = max(minimum, min(want, room - _PADDING))
        elif room - _PADDING >= minimum:
            widths[key] = min(want, room - _PADDING)
        else:
            continue
        room -= widths[key] + _PADDING
    return tuple((key, label, _FIXED.get(key) or widths[key]) for key, label in _ORDER
                 if key in _FIXED or key in widths)


class LogTable(NavTable):
    """Rows of prediction records; ``show(rows, cursor)`` replaces them all."""

    # Shown in the key bar: enter opens the whole record (DataTable's own enter binding is hidden).
    BINDINGS = [Binding("enter", "select_cursor", "Record", id="logs.record", key_display="⏎")]

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._columns: tuple[tuple[str, str, int], ...] = ()
        self._rows: Sequence[dict[str, Any]] = ()
        # The widest text seen so far per column: only grows, so columns do not jump while paging.
        self._wants = {key: start for key, _, _, start in _FLEX}

    FOCUS_ACTIONS = frozenset({"focus_query"})  # the screen's actions that take the focus elsewhere

    def on_key(self, event: events.Key) -> None:
        """A key that reaches the table after the focus left it (typed in one burst with `/`: a fast
        typist, or an SSH link that bunches keystrokes, hands Textual `/` and the query together, and
        all of them are queued here before `/` moves the focus) belongs to what has the focus now,
        the query bar: it is typed there, never taken as an action on the results."""
        screen = self.screen
        focused = screen.focused
        if focused is self:
            # A key that moves the focus (the screen's `/`, as the keymap names it) does so now, not once
            # it has bubbled up to the app: the keys queued behind it then find the table unfocused.
            active = screen.active_bindings.get(event.key)
            mover = getattr(screen, f"action_{active.binding.action}", None) if active is not None else None
            if mover is not None and active.binding.action in self.FOCUS_ACTIONS:
                event.stop()
                event.prevent_default()
                mover()
            return
        if focused is None or screen is not self.app.screen:
            return
        # Applied here and now, in the order typed (handing the key on would queue it behind the others).
        active = screen.active_bindings.get(event.key)
        if active is not None and active.node is focused:  # the bar's own keys: ctrl+u, backspace, enter ...
            from textual.actions import parse

            event.stop()
            event.prevent_default()
            _, name, arguments = parse(active.binding.action)
            action = getattr(focused, f"action_{name}", None)
            if action is not None and not inspect.iscoroutinefunction(action):
                action(*arguments)
            else:
                self.run_worker(focused.run_action(active.binding.action), exclusive=False)
        elif event.is_printable and event.character and isinstance(focused, Input):
            event.stop()
            event.prevent_default()
            focused.insert_text_at_cursor(event.character)
        # Else it bubbles up: the app checks the screen's keys against what has the focus now.

    @property
    def shown_columns(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self._columns)

    def _fit(self) -> tuple[tuple[str, str, int], ...]:
        return fit_columns(self.size.width or 80, self._wants)

    def _measure(self, rows: Sequence[dict[str, Any]]) -> None:
        for key, _, widest, _ in _FLEX:
            longest = max((cell_len(clean(row.get(key) or "")) for row in rows), default=0)
            self._wants[key] = max(self._wants[key] if self._rows else 0, min(widest, longest), 3)

    def show(self, rows: Sequence[dict[str, Any]], cursor: int = 0, *, keep_screen_row: int | None = None) -> None:
        """Replace the rows; put the cursor on ``cursor``, ``keep_screen_row`` lines below the top."""
        if rows:
            self._measure(rows)
        columns = self._fit()
        if columns != self._columns:
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, key=key, width=width)
            self._columns = columns
        else:
            self.clear()
        self._rows = rows
        self.add_rows([_cell(key, row, width) for key, _, width in columns] for row in rows)
        if not rows:
            return
        cursor = max(0, min(cursor, len(rows) - 1))
        self.move_cursor(row=cursor, animate=False, scroll=keep_screen_row is None)
        if keep_screen_row is not None:
            # Keep the highlighted record where it was on screen while the rows around it changed.
            self.scroll_to(y=max(0, cursor - keep_screen_row), animate=False, immediate=True)

    def refit(self) -> None:
        if self._rows and self._fit() != self._columns:
            self.show(self._rows, self.cursor_row, keep_screen_row=self.cursor_row - int(self.scroll_y))
