"""The model screen paints its frame first and its Overview tab in the next one (issue 18 item 4): the
operator still lands on the versions table, a key pressed before the Overview is there is not undone,
and text lines that now repaint without a layout still grow when they need more rows."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static, TabbedContent

from screens.model import ModelScreen
from tests.tui.conftest import make_app, open_model_screen, settle
from widgets.text_update import update_text


async def test_opening_a_model_focuses_its_versions_table_with_its_versions(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_model_screen(pilot, "fraud-scorer")
        table = screen.query_one("#versions", DataTable)
        assert screen.focused is table
        assert table.row_count >= 1 and "v" in str(table.get_row_at(0)[0])
        await pilot.press("down", "up")  # the table, not the tabs, answers the arrows
        assert screen.focused is table and table.cursor_row == 0


async def test_a_tab_key_pressed_right_after_opening_keeps_its_tab_and_focus(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_model("fraud-scorer")
        await pilot.press("2")  # as soon as the screen takes keys, before the readers land
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen)
        assert screen.query_one(TabbedContent).active == "readiness"
        assert screen.focused is screen.query_one("#checklist")  # not taken back by the versions table
        await pilot.press("1")
        await settle(pilot)
        assert screen.focused is screen.query_one("#versions")
        assert screen.query_one("#versions", DataTable).row_count >= 1


class _Lines(App[None]):
    CSS = "#fixed { height: 1; } #grows { height: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(id="fixed")
        yield Static(id="grows")
        yield Static("below", id="below")


async def test_a_line_that_gains_rows_pushes_what_is_below_it_down() -> None:
    app = _Lines()
    async with app.run_test(size=(40, 10)) as pilot:
        fixed, grows, below = (app.query_one(f"#{name}", Static) for name in ("fixed", "grows", "below"))
        update_text(grows, Text("one alert"))
        update_text(fixed, Text("title"))
        await pilot.pause()
        assert below.region.y == 2
        update_text(grows, Text("first\nsecond\nthird"))  # as many rows as lines: a layout
        update_text(fixed, Text("a new title"))  # a fixed height: a repaint alone
        await pilot.pause()
        assert grows.region.height == 3 and below.region.y == 4
        assert str(fixed.render()) == "a new title"
        update_text(grows, Text("a line far wider than the forty columns of this terminal"))  # wraps: a layout
        await pilot.pause()
        assert grows.region.height == 2 and below.region.y == 3
