"""NavTable: the base of every table in the console."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from widgets.nav_table import NavTable


class _One(App[None]):
    def __init__(self, table: DataTable) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table


def _text(app: App) -> str:
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None, record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def _paint_before_measuring(table: DataTable) -> str:
    app = _One(table)
    async with app.run_test(size=(60, 6)) as pilot:
        table.add_column("Id", key="id")
        table.add_row("fraud-scorer-v2", key="a")
        table.render_line(1)  # a frame drawn before the table measured its new row (as a busy screen may)
        await pilot.pause()
        await pilot.pause()
        return _text(app)


async def test_rows_painted_before_they_were_measured_are_redrawn_at_full_width() -> None:
    assert "fraud-scorer-v2" in await _paint_before_measuring(NavTable())


async def test_the_textual_behaviour_it_works_around_is_still_there() -> None:
    # If this starts failing, Textual fixed it and NavTable.on_idle can go.
    assert "fraud-scorer-v2" not in await _paint_before_measuring(DataTable())
