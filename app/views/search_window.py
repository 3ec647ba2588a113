"""The slice of a result set a screen holds: the page on screen plus at most a page either side.

The Logs screen scrolls through any number of results with this: when the cursor nears an
edge it fetches the next keyset page (``Searcher.page(after=window.last)`` or
``before=window.first``) and hands it to ``add_older`` / ``add_newer``, which drop the page
furthest away so the table never holds more than ``max_pages`` pages. ``offset`` is the
absolute position of the first held row, so the screen can say "1,201-1,250 of 12,345".
Pure bookkeeping: no SQLite here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.search.searcher import Cursor, Page


@dataclass
class ResultWindow:
    page_size: int = 50
    max_pages: int = 3
    rows: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0  # 0-based position of rows[0] among all results, newest first
    has_older: bool = False
    has_newer: bool = False

    @property
    def max_rows(self) -> int:
        return self.page_size * self.max_pages

    @property
    def first(self) -> "Cursor | None":
        from app.search.searcher import Cursor

        return Cursor(self.rows[0]["ts"], self.rows[0]["id"]) if self.rows else None

    @property
    def last(self) -> "Cursor | None":
        from app.search.searcher import Cursor

        return Cursor(self.rows[-1]["ts"], self.rows[-1]["id"]) if self.rows else None

    def reset(self, page: "Page") -> None:
        """A new query's first page."""
        self.rows = list(page.rows)
        self.offset = 0
        self.has_older = page.has_older
        self.has_newer = False

    def add_older(self, page: "Page") -> int:
        """Append the page below; returns how many rows were dropped from the top."""
        self.rows.extend(page.rows)
        self.has_older = page.has_older
        dropped = max(0, len(self.rows) - self.max_rows)
        if dropped:
            del self.rows[:dropped]
            self.offset += dropped
            self.has_newer = True
        return dropped

    def add_newer(self, page: "Page") -> int:
        """Prepend the page above; returns how many rows were added at the top."""
        added = len(page.rows)
        self.rows[:0] = page.rows
        self.has_newer = page.has_newer
        # Rows ingested since the first page shift the numbering: at the top we are at 0 again.
        self.offset = max(0, self.offset - added) if self.has_newer else 0
        excess = max(0, len(self.rows) - self.max_rows)
        if excess:
            del self.rows[-excess:]
            self.has_older = True
        return added

    def near_bottom(self, index: int, margin: int) -> bool:
        return self.has_older and index >= len(self.rows) - margin

    def near_top(self, index: int, margin: int) -> bool:
        return self.has_newer and index < margin
