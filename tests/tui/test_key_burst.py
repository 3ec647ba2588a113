"""Keys typed in a burst right after one that opens a screen (issue 16: a fast typist, or SSH bunching
keystrokes) land in the screen just opened, never on the screen being left, and none is lost.

The keys are posted to the console all at once, as Textual's driver posts what it reads from the
terminal in one go: no pause between them for the screen to open (``pilot.press`` waits between keys,
which hides the fault)."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Input

from screens.command_line import CommandLine
from screens.fleet import FleetScreen
from screens.logs import LogsScreen
from screens.model import ModelScreen
from tests.tui.conftest import make_app, settle, until
from widgets.fleet_table import FleetTable

NAMES = {":": "colon", "/": "slash", " ": "space", "\r": "enter", "-": "minus", ".": "full_stop"}


def burst(app, text: str) -> None:  # type: ignore[no-untyped-def]
    """Post every key of ``text`` to the console at once (``\\r`` is enter)."""
    for char in text:
        key = NAMES.get(char, char)
        app.post_message(events.Key(key, char))


def _typed(app, screen_type: type, selector: str = "Input") -> str:  # type: ignore[no-untyped-def]
    """The text in the top screen's box, when that screen is a ``screen_type`` and has mounted it ("" before)."""
    from textual.css.query import NoMatches

    if not isinstance(app.screen, screen_type):
        return ""
    try:
        return app.screen.query_one(selector, Input).value
    except NoMatches:
        return ""


async def _on_fleet(pilot) -> FleetTable:  # type: ignore[no-untyped-def]
    await settle(pilot)
    assert isinstance(pilot.app.screen, FleetScreen)
    return pilot.app.screen.query_one(FleetTable)


async def test_a_command_typed_in_one_burst_after_colon_goes_to_the_command_line(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _on_fleet(pilot)
        cursor = table.cursor_row
        # "model" holds `d` (drift) and `l` (logs), both console keys on the fleet: none may fire there.
        burst(app, ":model churn")
        await until(pilot, lambda: _typed(app, CommandLine).endswith("churn"), "the command line's text")
        await settle(pilot)
        assert [type(s) for s in app.screen_stack] == [FleetScreen, CommandLine]
        assert app.screen.query_one(Input).value == "model churn"
        assert table.cursor_row == cursor
        app.screen.query_one(Input).value = ""
        await pilot.press("escape")
        await settle(pilot)
        # With enter in the same burst: the command runs as typed.
        burst(app, ":model churn\r")
        await until(pilot, lambda: isinstance(app.screen, ModelScreen), "the model screen")
        await settle(pilot)
        assert [type(s) for s in app.screen_stack] == [FleetScreen, ModelScreen]
        assert app.screen.model == "churn-predictor"


async def test_a_query_typed_in_one_burst_after_slash_goes_to_the_logs_query_bar(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _on_fleet(pilot)
        cursor = table.cursor_row
        burst(app, "/status:error jj")  # `j` on the fleet would move its cursor
        await until(pilot, lambda: _typed(app, LogsScreen, "#logs-query").endswith("jj"), "the query bar's text")
        await settle(pilot)
        assert [type(s) for s in app.screen_stack] == [FleetScreen, LogsScreen]
        assert app.screen.query_one("#logs-query", Input).value == "status:error jj"
        assert table.cursor_row == cursor


async def test_keys_typed_in_one_burst_after_l_go_to_the_model_logs(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _on_fleet(pilot)
        cursor, model = table.cursor_row, table.current_model
        burst(app, "l status:error")  # ` status:error` appended to the model filter the screen opens with
        await until(pilot, lambda: _typed(app, LogsScreen, "#logs-query").endswith("error"), "the query bar's text")
        await settle(pilot)
        assert [type(s) for s in app.screen_stack] == [FleetScreen, LogsScreen]
        query = app.screen.query_one("#logs-query", Input).value
        assert query.endswith(" status:error") and model is not None and model in query
        assert table.cursor_row == cursor
