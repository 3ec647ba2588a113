"""Severity reads without colour: the console's colour mode and the attributes of the states that matter."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style
from textual.filter import Monochrome, NoColor

from app.console.app import few_colours
from tests.tui.conftest import make_app, settle
from widgets.fleet_table import FleetTable


@pytest.mark.parametrize(("env", "few"), [
    ({"NO_COLOR": "1", "TERM": "xterm-256color"}, True),
    ({"TERM": "screen"}, True),
    ({"TERM": "xterm-16color"}, True),
    ({"TERM": "xterm"}, True),
    ({"TERM": "screen-256color"}, False),
    ({"TERM": "xterm", "COLORTERM": "truecolor"}, False),
    ({}, False),
])
def test_which_terminals_get_named_ansi_colours(env: dict[str, str], few: bool) -> None:
    assert few_colours(env) is few


async def test_no_color_drops_every_colour_rather_than_greying_it(fixed_db: Path, monkeypatch) -> None:
    # Monochrome turned red text into grey 237 on 235: invisible. NoColor leaves the terminal's own
    # colours, and the attributes carry the meaning.
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        filters = app.get_line_filters()
        assert any(isinstance(f, NoColor) for f in filters)
        assert not any(isinstance(f, Monochrome) for f in filters)
        table = app.screen.query_one(FleetTable)
        # The fixed store: fraud-scorer has a firing alert and a drifting feature; evil's error rate is bad.
        for column in ("alerts", "drift", "errors"):
            cell = table.get_cell("fraud-scorer", column)
            style = Style.parse(cell.style) if isinstance(cell.style, str) else cell.style
            assert style.bold and style.reverse, (column, cell)


async def test_the_model_screen_shows_the_fleets_figures_and_says_where_they_come_from(fixed_db: Path) -> None:
    from textual.widgets import Static

    from widgets.fleet_table import error_text, rate_text

    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        fleet = app.screen
        row = next(r for r in fleet.rows if r.name == "fraud-scorer")
        assert "log (15 min)" in str(fleet.query_one("#status", Static).render())
        app.open_model("fraud-scorer")
        await settle(pilot)
        line = str(app.screen.query_one("#figures", Static).render())
        assert line == (f"Req/m {rate_text(row.requests_per_min)} · p95 {row.p95_latency_ms:.0f} ms · "
                        f"Err% {error_text(row.error_rate)}  (prediction log, last 15 min)")
