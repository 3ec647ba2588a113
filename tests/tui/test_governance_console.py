"""The console's readiness keys go through the same governed functions as `modeldeck signoff/waive`:
refused (and audited as refused) under read-only; and the fleet's "!" for an overdue health review."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from app.config.settings import Settings, UIConfig
from app.console.app import ModeldeckApp
from app.store import Store
from screens.model import ModelScreen
from tests.tui.conftest import settle
from tests.tui.fixed_store import FIXED_NOW
from widgets.fleet_table import FleetTable


def _screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None, record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


async def test_sign_off_from_the_console_is_refused_and_audited_under_read_only(fixed_db: Path) -> None:
    settings = Settings(read_only=True, ui=UIConfig(refresh_s=600))
    app = ModeldeckApp(fixed_db, settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"model fraud-scorer", "enter")
        await settle(pilot)
        await pilot.press("2", "s", *"product", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        assert any("sign off not recorded: refused: modeldeck runs read-only" in str(n.message)
                   for n in app._notifications)
    with Store.open(fixed_db) as store:
        [entry] = store.audit.entries("fraud-scorer", limit=1)
        assert (entry.action, entry.outcome, entry.detail["role"]) == ("checklist.sign_off", "refused", "product")
        assert store.checklist.signoffs("fraud-scorer") == []


async def test_the_fleet_marks_an_overdue_health_review_and_says_why(fixed_db: Path) -> None:
    # The fixed store's reviews are 3 days old: move the clock 40 days on.
    later = FIXED_NOW + 40 * 86_400_000
    app = ModeldeckApp(fixed_db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: later)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        ready = [table.get_row_at(row)[7].plain for row in range(table.row_count)]
        assert ready and all(cell.endswith("!") for cell in ready)
        assert any("health review overdue: last 43d ago by ana@bastion" in line for line in _screen_text(app))
        assert max(len(line.rstrip()) for line in _screen_text(app)) <= 80
