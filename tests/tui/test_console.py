"""The console driven by keys, on a real store file: what an operator would see and do."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from textual.widgets import Markdown, TabbedContent

from app.cli import main
from app.models import Alert, Health, HealthState
from app.store import Store
from screens.fleet import FleetScreen
from screens.model import ModelScreen
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import EVIL, EVIL_MODEL, FIXED_NOW
from widgets.fleet_table import FleetTable
from widgets.nav_table import NavTable
from widgets.safe_text import clean


def _fleet_names(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(FleetTable).shown_models


def _column(table: NavTable, index: int) -> list[str]:
    return [table.get_row_at(row)[index].plain for row in range(table.row_count)]


async def test_fleet_shows_every_model_worst_first(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        names = _fleet_names(app)
        # fraud-scorer has a firing alert and a drifted feature: it comes first.
        assert names[0] == "fraud-scorer"
        assert set(names) == {"fraud-scorer", "churn-predictor", EVIL_MODEL}
        row = app.screen.query_one(FleetTable).get_row_at(0)
        assert [cell.plain for cell in row[1:]] [:2] == ["v3", "unknown"]
        assert row[6].plain == "amount" and row[7].plain == "5/8" and row[8].plain == "1"


async def test_navigate_fleet_model_tabs_and_back(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("j", "k", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "fraud-scorer"
        assert _column(app.screen.query_one("#versions", NavTable), 0) == ["v3", "v2", "v1"]
        for key, tab in (("2", "readiness"), ("3", "card"), ("4", "activity"), ("1", "overview")):
            await pilot.press(key)
            assert app.screen.query_one(TabbedContent).active == tab
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert app.screen.query_one(FleetTable).current_model == "fraud-scorer"


async def test_slash_filters_the_fleet_and_escape_clears(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"churn")
        assert _fleet_names(app) == ["churn-predictor"]
        await pilot.press("enter", "enter")  # keep the filter, then open the one model left
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "churn-predictor"
        await pilot.press("escape")
        await pilot.press("slash", "escape")
        assert len(_fleet_names(app)) == 3


async def test_palette_opens_a_model(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"open model churn")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "churn-predictor"


async def test_command_line_opens_model_and_reports_unknown_commands(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"model fra", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "fraud-scorer"
        await pilot.press("colon", *"frobnicate", "enter")
        await pilot.pause()
        assert any("unknown command: frobnicate" in str(n.message) for n in app._notifications)
        await pilot.press("colon", *"fleet", "enter")
        assert isinstance(app.screen, FleetScreen)


async def test_keymap_from_settings_remaps_a_binding(fixed_db: Path) -> None:
    app = make_app(fixed_db, keymap={"fleet.open": "o"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)


async def test_help_lists_the_keys_of_the_screen(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-box Static").render())
        assert "fleet.filter" in text and "Filter" in text and ":model NAME" in text
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_sign_off_and_waive_are_audited_and_shown_in_activity(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"model fraud-scorer", "enter")
        await settle(pilot)
        await pilot.press("2", "s", *"product", "enter", *"looks good", "enter")
        await settle(pilot)
        # Waive the feature pipeline area (4th row) with a reason.
        await pilot.press("j", "j", "j", "w", *"baseline comes next sprint", "enter")
        await settle(pilot)
        statuses = dict(zip(_column(app.screen.query_one("#checklist", NavTable), 0),
                            _column(app.screen.query_one("#checklist", NavTable), 1)))
        assert statuses["Feature pipeline"] == "waived"
        await pilot.press("4")
        actions = _column(app.screen.query_one("#activity-table", NavTable), 2)
        assert any("sign" in action for action in actions)
        assert any("waive" in action for action in actions)
    with Store.open(fixed_db) as store:
        signoffs = store.checklist.signoffs("fraud-scorer")
        assert any(s.role == "product" for s in signoffs)


async def test_markup_and_escapes_from_the_store_render_literally(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        visible = clean(EVIL)
        assert visible == "[bold red]boom[/]\\x1b[31m\\x07"
        table = app.screen.query_one(FleetTable)
        shown = [table.get_row_at(row)[0].plain for row in range(table.row_count)]
        assert clean(EVIL_MODEL) in shown
        await pilot.press("colon", *"model evil", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen) and screen.model == EVIL_MODEL
        assert visible in str(screen.query_one("#title").render())
        assert _column(screen.query_one("#versions", NavTable), 0) == [f"v{visible}"[:11] + "…"]
        await pilot.press("3")
        await pilot.pause()
        card = screen.query_one(Markdown)
        assert f"Card text {visible} end" in card.source
        shot = app.export_screenshot()
        assert "boom" in shot and "\x1b" not in shot and "\x07" not in shot
        await pilot.press("4")
        assert _column(screen.query_one("#activity-table", NavTable), 3) == [visible[:7] + "…"]


def test_unusable_store_is_one_line_error_before_the_console(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-store.db"
    bad.write_text("this is not SQLite\n" * 100)
    result = CliRunner().invoke(main, ["--db", str(bad)])
    assert result.exit_code == 2
    assert "not a usable SQLite store" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


async def test_refresh_keeps_the_cursor_on_its_model_when_the_order_changes(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        await pilot.press("j", "j")
        assert table.current_model == "churn-predictor" and table.cursor_row == 2
        with Store.open(fixed_db) as store:  # churn-predictor becomes the worst model
            for rule in ("errors", "latency", "drift"):
                store.alerts.add(Alert(rule=rule, model="churn-predictor", fired_at=FIXED_NOW - 60_000))
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert table.shown_models[0] == "churn-predictor"
        assert table.current_model == "churn-predictor" and table.cursor_row == 0


async def test_endpoint_health_reaches_the_fleet(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.health["churn-predictor"] = Health(state=HealthState.down, checked_at=FIXED_NOW - 120_000)
        await pilot.press("ctrl+r")
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        assert table.shown_models[0] == "churn-predictor"
        assert table.get_row_at(0)[2].plain == "down 2m"
