"""What the fleet walkthrough found, as the user sees it: the status line says where Req/m, p95 and Err%
come from, and the key bar under a modal shows the modal's keys (the screen's do not work under it).
The modal runs against the demo endpoint on 127.0.0.1 (real HTTP), as in test_disable_modal."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from app.config.settings import UIConfig
from app.console.app import ModeldeckApp
from screens.disable import DisableScreen
from tests.support.endpoint_settings import http_settings
from tests.tui.conftest import make_app, settle
from tests.tui.conftest import until
from widgets.key_bar import KeyBar


async def test_the_status_line_says_where_the_figures_come_from_at_80_and_120_columns(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        status = str(app.screen.query_one("#status", Static).render())
        # No endpoint here: every figure is the log's; nothing cryptic like "0 live", and it fits.
        assert status.startswith("3 models · Req/m p95 Err%: log (15 min) · worst first · read ")
        assert len(status) <= 78
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        status = str(app.screen.query_one("#status", Static).render())
        assert status.startswith("3 models · Req/m p95 Err% from the prediction log, last 15 min · worst first")


async def test_the_key_bar_under_a_modal_shows_the_modals_keys_and_comes_back_after(demo_db, demo):
    settings = http_settings(demo).model_copy(update={"ui": UIConfig(refresh_s=600)})
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_model("churn")
        await pilot.pause()
        screen = app.screen
        bar = screen.query_one(KeyBar)
        before = str(bar.render())
        assert before.startswith("esc Back") and "? Help" in before
        await pilot.press("X")  # disable: a ConfirmedActionScreen
        await until(pilot, lambda: isinstance(app.screen, DisableScreen), "the disable modal")
        await pilot.pause()
        # The bar of the screen below (still visible under the modal) now lists what works in the modal.
        assert str(bar.render()) == "esc Cancel  tab Next field"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "the modal closed")
        await pilot.pause()
        assert str(bar.render()) == before
