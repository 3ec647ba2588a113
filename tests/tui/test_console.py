"""The console driven by keys, on a real store file: what an operator would see and do."""

from __future__ import annotations

from pathlib import Path

import io

from click.testing import CliRunner
from rich.console import Console
from textual.widgets import Input, Markdown, TabbedContent
from textual.worker import WorkerFailed

from app.cli.main import main
from app.config.settings import load_settings
from app.console.app import ModeldeckApp
from app.models import Alert, Health, HealthState, ModelInfo
from app.store import Store
from screens.fleet import FleetScreen
from screens.model import ModelScreen
from screens.prompt import Prompt
from tests.tui.conftest import make_app, settle, settle_superseded
from tests.tui.fixed_store import EVIL, EVIL_MODEL, FIXED_NOW
from widgets.fleet_table import FleetTable
from widgets.key_bar import KeyBar
from widgets.nav_table import NavTable
from app.text import clean


def _fleet_names(app) -> list[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one(FleetTable).shown_models


def _column(table: NavTable, index: int) -> list[str]:
    return [table.get_row_at(row)[index].plain for row in range(table.row_count)]


async def _palette_run(pilot, words: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the palette, wait (bounded) until ``expected`` is the highlighted command, run it.

    The palette searches asynchronously: on a busy machine a fixed pause may press enter too soon.
    """
    from textual.command import CommandList

    await pilot.press("ctrl+p", *words)
    for _ in range(100):  # at most 5 s
        await pilot.pause(0.05)
        commands = pilot.app.screen.query(CommandList)
        if commands and commands.first().highlighted is not None:
            option = commands.first().get_option_at_index(commands.first().highlighted)
            if expected in str(option.prompt):
                break
    await pilot.press("enter")


def _screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The screen as plain text lines, as a terminal would show it."""
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None, record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


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
        # Readiness 1/8: the hand-set monitoring pass is overridden (no alert rules at any level), and the
        # production p95 is over the benchmarked one.
        assert row[6].plain == "amount ·2h" and row[7].plain == "1/8" and row[8].plain == "1"
        # The same n/8 as the model's Readiness tab (one evaluation, not the store's last record).
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        statuses = _column(app.screen.query_one("#checklist", NavTable), 1)
        assert sum(status in ("pass", "waived") for status in statuses) == 1


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


async def test_f_filters_the_fleet_and_escape_clears(fixed_db: Path) -> None:
    # `f`: `/` is the console's log search everywhere (tests/tui/test_logs.py opens Logs with it).
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f", *"churn")
        assert _fleet_names(app) == ["churn-predictor"]
        await pilot.press("enter", "enter")  # keep the filter, then open the one model left
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "churn-predictor"
        await pilot.press("escape")
        await pilot.press("f", "escape")
        assert len(_fleet_names(app)) == 3


async def test_palette_opens_a_model(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette_run(pilot, "open model churn", "Open model churn-predictor")
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


async def test_command_line_search_passes_the_query_as_typed(fixed_db: Path) -> None:
    from screens.logs import LogsScreen

    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *'search "upstream timeout" entity:cust-4', "enter")
        await settle(pilot)
        assert isinstance(app.screen, LogsScreen)
        assert app.screen.query_text == '"upstream timeout" entity:cust-4'  # quotes kept for the phrase
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_keymap_from_the_config_file_remaps_bindings(fixed_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "modeldeck.toml"
    config.write_text('[ui]\nrefresh_s = 600\n[ui.keymap]\n"fleet.open" = "o"\n"app.quit" = "ctrl+x"\n')
    app = ModeldeckApp(fixed_db, load_settings(config), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = str(app.screen.query_one(KeyBar).render())
        assert "o Open" in bar and "^x Quit" in bar
        await pilot.press("q")  # no longer quits
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        await pilot.press("ctrl+x")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


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
        await pilot.press("2", "s", *"ceo", "enter")
        # A role that is not one of the choices is said on this first Enter, and the box keeps focus.
        assert "Role: one of engineering" in str(app.screen.query_one("#prompt-error").render())
        assert app.focused is app.screen.query_one("#prompt-0")
        app.screen.query_one("#prompt-0", Input).value = "product"
        await pilot.press("enter", *"looks good", "enter")
        await settle(pilot)
        # Waive the feature pipeline area (4th row) with a reason. Typing q and ? into the reason
        # must neither quit nor open the help: keys go to the text box while it has focus.
        # The expiry box comes prefilled with 30d: Enter again accepts it.
        await pilot.press("j", "j", "j", "w", *"quick fix? baseline comes next sprint", "enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        statuses = dict(zip(_column(app.screen.query_one("#checklist", NavTable), 0),
                            _column(app.screen.query_one("#checklist", NavTable), 1)))
        assert statuses["Feature pipeline"] == "waived"
        await pilot.press("4")
        table = app.screen.query_one("#activity-table", NavTable)
        actions = _column(table, 2)
        assert actions[:2] == ["checklist.waive", "checklist.sign_off"]
        # The audit row's detail, in full below the table: who, what, and the reason.
        await pilot.press("g")
        detail = str(app.screen.query_one("#activity-detail").render())
        assert "checklist.waive" in detail and "quick fix? baseline comes next sprint" in detail
    with Store.open(fixed_db) as store:
        signoffs = store.checklist.signoffs("fraud-scorer")
        assert any(s.role == "product" and s.note == "looks good" for s in signoffs)
        audit = store.audit.entries("fraud-scorer", limit=5)
        assert [e.action for e in audit[:2]] == ["checklist.waive", "checklist.sign_off"]
        assert audit[0].detail["area"] == "features" and audit[0].actor == audit[1].actor
        # Both belong to the version on screen, and both expire: the waiver after the 30 days given.
        assert audit[0].detail["version"] == audit[1].detail["version"] == "v3"
        assert audit[0].detail["expires_at"] == FIXED_NOW + 30 * 86_400_000


async def test_reopen_puts_a_waived_area_back_under_its_automatic_check(fixed_db: Path) -> None:
    with Store.open(fixed_db) as store:
        from app.checklist.evaluate import waive

        waive(store, "fraud-scorer", "monitoring", "alerts come from the old system", actor="ana@bastion", expires_in_ms=30 * 86_400_000)
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"model fraud-scorer", "enter")
        await settle(pilot)
        await pilot.press("2")
        checklist = app.screen.query_one("#checklist", NavTable)
        assert _column(checklist, 1)[4] == "waived"
        await pilot.press("j", "j", "j", "j", "o")
        await settle(pilot)
        assert _column(checklist, 1)[4] == "fail"  # no drift baseline: the automatic check speaks again
        # A passing area cannot be waived: no reason prompt, a message instead, nothing audited.
        passing = _column(checklist, 1).index("pass")
        checklist.move_cursor(row=passing)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and _column(checklist, 1)[passing] == "pass"
        assert any("passes: nothing to waive" in str(n.message) for n in app._notifications)
    with Store.open(fixed_db) as store:
        entry = store.audit.entries("fraud-scorer", limit=1)[0]
        assert entry.action == "checklist.reopen" and entry.outcome == "fail"  # as the table shows it


async def test_the_fleet_refreshes_on_its_own(fixed_db: Path) -> None:
    app = make_app(fixed_db, refresh_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        assert table.shown_models[0] == "fraud-scorer"
        with Store.open(fixed_db) as store:  # an outage-grade problem appears while nobody touches a key
            for rule in ("errors", "latency", "drift", "traffic"):
                store.alerts.add(Alert(rule=rule, model="churn-predictor", fired_at=FIXED_NOW - 60_000,
                                       severity="critical"))  # critical and unacknowledged: ranked first
        for _ in range(100):  # bounded: at most 10 s (a busy machine), usually well under 1 s
            await pilot.pause(0.1)
            if table.shown_models[0] == "churn-predictor":
                break
        assert table.shown_models[0] == "churn-predictor"
        assert table.current_model == "fraud-scorer"  # the cursor stayed on its model


async def test_palette_switches_the_store(fixed_db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with Store.open(other) as store:
        store.registry.upsert_model(ModelInfo(name="ranker", created_at=FIXED_NOW))
    app = make_app(fixed_db)
    app.demo = True  # as `modeldeck demo` starts it: the other store is not the demo
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette_run(pilot, "switch store", "Switch store")
        for _ in range(50):  # bounded: at most 5 s
            if isinstance(app.screen, Prompt):
                break
            await pilot.pause(0.1)
        box = app.screen.query_one(Input)
        box.value = str(other)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen) and app.db_path == other
        assert _fleet_names(app) == ["ranker"]
        assert "other.db" in str(app.screen.query_one("#title").render())
        assert "(demo)" not in str(app.screen.query_one("#title").render())


async def test_registered_palette_commands_run_with_the_app(fixed_db: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.console import routes as registry

    # The hook other parts use: one AppCommand with the function to call with the app.
    monkeypatch.setattr(registry, "APP_COMMANDS", (
        registry.AppCommand("Say hello", "a test command", _say_hello),))
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _palette_run(pilot, "say hello", "Say hello")
        await pilot.pause()
        assert any(n.message == "hello from the palette" for n in app._notifications)


def _say_hello(app) -> None:  # type: ignore[no-untyped-def]
    app.notify("hello from the palette")


async def test_help_shows_the_keys_of_the_model_screen_and_the_key_bar_keeps_back_and_help(
        fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        bar = str(app.screen.query_one(KeyBar).render())
        assert "Open" in bar and "? Help" in bar and "Back" not in bar  # nothing to go back to
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        bar = str(app.screen.query_one(KeyBar).render())
        assert bar.startswith("esc Back") and bar.endswith("? Help") and "s Sign off" in bar
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-box Static").render())
        assert "model.sign_off" in text and "model.waive" in text and "fleet.filter" not in text
        await pilot.press("escape")
        assert isinstance(app.screen, ModelScreen)
        # From the Overview tab, help still tells how to sign off or promote (keys of the other tabs).
        await pilot.press("1", "question_mark")
        text = str(app.screen.query_one("#help-box Static").render())
        assert "On the Readiness tab (2)" in text and "model.sign_off" in text and "model.reopen" in text
        assert "On the Compare tab (5)" in text and "compare.disagreements" in text and "compare.promote" in text
        await pilot.press("escape")


async def test_a_wide_terminal_widens_name_and_drift_and_a_cut_name_always_ends_with_an_ellipsis(
        fixed_db: Path) -> None:
    from widgets.fleet_table import column_widths

    assert column_widths(80) == (14, 9)
    name_width, drift_width = column_widths(120)
    assert name_width > 20 and drift_width > 20  # the extra 40 columns are shared by both
    app = make_app(fixed_db)
    async with app.run_test(size=(60, 24)) as pilot:
        await settle(pilot)
        # At 60 columns the name is still cut (with an ellipsis), though it takes what Drift does not need.
        assert any(line.lstrip().startswith("churn-pre") and "churn-predictor" not in line and "…" in line
                   for line in _screen_text(app))
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        lines = _screen_text(app)
        assert any(line.lstrip().startswith("churn-predictor ") for line in lines)  # whole, not clipped
        await pilot.resize_terminal(60, 24)
        await settle(pilot)
        assert any(line.lstrip().startswith("churn-pre") and "churn-predictor" not in line and "…" in line
                   for line in _screen_text(app))


async def test_a_cell_that_grows_in_place_is_not_clipped(fixed_db: Path) -> None:
    # A refresh updates cells in place: churn-predictor's drift going from "ok" to a feature name
    # must widen the column, not show "langu" under a header sized for "ok".
    from widgets.fleet_table import column_widths

    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(FleetTable)
        rows = [row.model_copy(update={"drift_feature": "language_score", "drifted_features": 1,
                                       "drift_features": 3}) if row.name == "churn-predictor" else row
                for row in screen.rows]
        table.show(rows, *column_widths(80))
        await settle(pilot)
        assert any("churn-predict…" in line and "language…" in line for line in _screen_text(app))


async def test_the_command_line_hint_names_every_command_and_fits_80_columns(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("colon")
        await pilot.pause()
        box = app.screen.query_one(Input)
        hint = f"{box.placeholder} {box.border_subtitle}"
        for verb in ("model", "search", "store", "rollback", "drift", "logs", "fleet", "refresh", "help", "q"):
            assert verb in hint.replace("/", " ").split(), verb
        bottom = _screen_text(app)[-3:]
        assert any(box.placeholder in line for line in bottom) and any("↑↓ history" in line for line in bottom)
        await pilot.press("escape")


async def test_end_and_home_go_to_the_last_and_first_model(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 == 2
        await pilot.press("home")
        assert table.cursor_row == 0 and table.current_model == "fraud-scorer"


async def test_fleet_names_are_shown_whole_when_they_fit(fixed_db: Path) -> None:
    # DataTable measures rows when idle; a frame painted before that must not stay clipped.
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        lines = _screen_text(app)
        assert any(line.lstrip().startswith("fraud-scorer ") for line in lines)
        # Whole at 80 columns too: the Drift column lends the cells its short cells do not use (issue 16).
        assert any(line.lstrip().startswith("churn-predictor ") for line in lines), lines


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
        # On screen, as a terminal shows it: the markup as characters, the escape as \x1b.
        assert any(f"Card text {visible} end" in line for line in _screen_text(app))
        assert any("[link=http://x]y[/link]" in line for line in _screen_text(app))
        await pilot.press("4")
        assert _column(screen.query_one("#activity-table", NavTable), 3) == [visible[:11] + "…"]  # 12 cells at 120


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
                store.alerts.add(Alert(rule=rule, model="churn-predictor", fired_at=FIXED_NOW - 60_000,
                                       severity="critical"))  # critical and unacknowledged: ranked first
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
        # At 80 columns, beside a 15-character name, a down endpoint shows the age of its check in its
        # cell (never "down 2m", which reads like a duration of the outage): the Drift cells give way
        # to their mark first. The status line says it in full.
        assert table.get_row_at(0)[2].plain == "down 2m ago"
        row = next(line for line in _screen_text(app) if "churn-predictor" in line)
        assert "churn-predictor" in row and "down 2m ago" in row
        from textual.widgets import Static

        table.move_cursor(row=0)
        await pilot.pause()
        assert "churn-predictor down · 2m ago" in str(app.screen.query_one("#status", Static).render())
    app = make_app(fixed_db)
    async with app.run_test(size=(140, 30)) as pilot:
        await settle(pilot)
        app.health["churn-predictor"] = Health(state=HealthState.down, checked_at=FIXED_NOW - 120_000)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.query_one(FleetTable).get_row_at(0)[2].plain == "down · 2m ago"  # room for both


async def test_a_store_that_breaks_while_open_is_one_status_line_not_a_pile_of_toasts(fixed_db: Path) -> None:
    app = make_app(fixed_db, refresh_s=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fixed_db}{suffix}").unlink(missing_ok=True)
        fixed_db.write_bytes(b"this is not SQLite\n" * 512)
        status = app.screen.query_one("#status")
        for _ in range(100):  # bounded: at most 10 s (a busy machine), usually well under 1 s
            await pilot.pause(0.1)
            if "cannot read the store" in str(status.render()):
                break
        await pilot.pause(0.5)  # several more failed refreshes
        assert "cannot read the store" in str(status.render())
        assert _fleet_names(app)[0] == "fraud-scorer"  # the last good read stays on screen
        # Every periodic reader (fleet, alerts, drift monitor) fails on each pass; it is said once.
        assert len([n for n in app._notifications if "not a usable" in str(n.message)]) <= 1


async def test_switching_to_a_missing_store_says_so_each_time_and_creates_nothing(fixed_db: Path,
                                                                                 tmp_path: Path) -> None:
    missing = tmp_path / "typo-dir" / "typo.db"  # not even its directory exists
    app = make_app(fixed_db)
    app.demo = True
    told: list[str] = []
    notify = app.notify
    app.notify = lambda message, **kw: (told.append(str(message)), notify(message, **kw))[1]  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for _ in range(2):
            await pilot.press("colon")
            app.screen.query_one(Input).value = f"store {missing}"  # a long path: not typed key by key
            await pilot.press("enter")
            await settle(pilot)
        # The palette's "Switch store" goes the same way and says the same thing.
        await _palette_run(pilot, "switch store", "Switch store")
        for _ in range(50):  # bounded: at most 5 s
            if isinstance(app.screen, Prompt):
                break
            await pilot.pause(0.1)
        app.screen.query_one(Input).value = str(missing)
        await pilot.press("enter")
        await settle(pilot)
        assert told == [f"no store at {missing}"] * 3
        assert app.db_path == fixed_db and _fleet_names(app)[0] == "fraud-scorer"
        assert "(demo)" in str(app.screen.query_one("#title").render())  # still the store it was
    assert not missing.exists() and not missing.parent.exists()


async def test_a_store_deleted_while_open_is_reported_not_recreated(fixed_db: Path) -> None:
    app = make_app(fixed_db, refresh_s=0.1)  # every periodic reader (fleet, alerts, drift monitor) runs
    async with app.run_test(size=(80, 24)) as pilot:
        # Every 0.1 s a read supersedes the one before: on a busy machine one is cancelled mid-wait.
        await settle_superseded(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fixed_db}{suffix}").unlink(missing_ok=True)
        await pilot.press("ctrl+r")
        await pilot.pause(0.5)
        try:
            await settle_superseded(pilot)
        except WorkerFailed:
            pass  # the readers fail now: that is what is being tested (what the operator sees is below)
        assert f"no store at {fixed_db}" in str(app.screen.query_one("#status").render())
    assert not fixed_db.exists()


async def test_a_superseded_fleet_read_that_finishes_late_does_not_overwrite_the_newer_one(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        fleet = app.screen
        shown = _fleet_names(app)
        assert shown
        # What a read started before the last one (say, of the store just switched away from) delivers late.
        fleet.post_message(FleetScreen.Loaded([], 0, read=0))
        await pilot.pause()
        assert _fleet_names(app) == shown


async def test_the_rollback_modal_on_a_deleted_store_says_so_and_does_not_recreate_it(fixed_db: Path) -> None:
    from screens.rollback import RollbackScreen
    from tests.tui.conftest import open_from_model, until

    app = make_app(fixed_db)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{fixed_db}{suffix}").unlink(missing_ok=True)
        modal = await open_from_model(pilot, "fraud-scorer", "R", RollbackScreen)
        await until(pilot, lambda: "cannot roll back" in str(modal.query_one("#rb-summary").render()),
                    "the plan to fail")
        assert f"no store at {fixed_db}" in str(modal.query_one("#rb-summary").render())
    assert not fixed_db.exists()  # the console reads stores; it never creates one


async def test_palette_lists_activity_and_ack_with_keys_and_opens_activity(fixed_db: Path) -> None:
    from app.console.palette import ModeldeckCommands

    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        provider = ModeldeckCommands(app.screen)
        entries = {text: help_text for text, help_text, _ in provider._commands()}
        assert "key 4" in entries["Activity: fraud-scorer"]
        assert "key A" in entries["Acknowledge alerts: fraud-scorer"]
        assert "key R" in entries["Roll back: fraud-scorer"]
        assert all("key" in help_text or ":" in help_text for help_text in entries.values()), entries
        await _palette_run(pilot, "activity fraud", "Activity: fraud-scorer")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "fraud-scorer"
        assert app.screen.query_one("#tabs").active == "activity"


def test_at_80_columns_a_name_takes_the_cells_the_drift_column_does_not_need() -> None:
    """Issue 16 item 5: "churn-predictor" was cut to "churn-predict…" beside a Drift column of dashes, and
    when every model drifted; the Drift cell now shrinks first, and the health age fits at 80 columns."""
    from app.models import HealthState
    from app.views.fleet import FleetRow
    from widgets.fleet_table import cells, fitted_widths

    calm = [FleetRow(name="churn-predictor"), FleetRow(name="fraud-scorer")]
    assert fitted_widths(80, calm)[0] == 15
    drifting = [FleetRow(name=name, drift_feature="merchant_category", drifted_features=2, drift_features=5,
                         prediction_drifted=True, health=HealthState.up, health_age_ms=3000)
                for name in ("churn-predictor", "ticket-router", "fraud-scorer")]
    widths = fitted_widths(80, drifting)
    assert widths[0] == 15  # every model drifts: the names stay whole all the same
    shown = [cells(row, *widths) for row in drifting]
    assert [c[0].plain for c in shown] == ["churn-predictor", "ticket-router", "fraud-scorer"]
    assert {c[6].plain for c in shown} == {"2 feat"}  # the Drift cell gave way: the count
    assert {c[2].plain for c in shown} == {"up 3s ago"}  # the age of the check, as the state it qualifies
    # One endpoint down: the age of its check comes before the drift count, at any age, beside versions
    # that leave the Version column cells to spare (8-character versions lend none).
    for age_ms, shown_age in ((120_000, "down 2m ago"), (12_000, "down 12s ago"), (45 * 60_000, "down 45m ago")):
        down = [row.model_copy(update={"active_version": "v3.2.0"}) for row in drifting]
        down[0] = down[0].model_copy(update={"health": HealthState.down, "health_age_ms": age_ms})
        widths = fitted_widths(80, down)
        shown = [cells(row, *widths) for row in down]
        assert shown[0][2].plain == shown_age
        assert [c[0].plain for c in shown] == ["churn-predictor", "ticket-router", "fraud-scorer"]
        assert [c[1].plain for c in shown] == ["v3.2.0"] * 3 and {c[6].plain for c in shown} == {"DRIFT"}
    short = [FleetRow(name="cl", drift_feature="merchant_category", drifted_features=1, drift_features=5)]
    name, drift, _, _ = fitted_widths(80, short)
    assert name == 5 and drift == len("merchant_category")  # a short name lends the feature name what it needs
