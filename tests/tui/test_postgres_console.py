"""The console on a PostgreSQL store named by the config file (``db = "postgresql://..."``): the fleet, a
model screen, the drift screen and the Logs screen, under Pilot at 80x24, against a real PostgreSQL
(tests/support/postgres.py) filled by ``modeldeck ingest`` and ``modeldeck baseline``."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main
from app.config.source import SettingsSource
from app.console.app import ModeldeckApp
from screens.model import ModelScreen
from tests.integration.test_logged_fleet import write_log
from tests.integration.test_postgres_store import team  # noqa: F401 - the fixture: db init's roles
from tests.tui.conftest import settle
from tests.tui.fixed_store import FIXED_NOW
from tests.tui.test_console import _screen_text
from widgets.fleet_table import FleetTable


def _pg_console(tmp_path: Path, pg_url: str, console_url: str | None = None) -> ModeldeckApp:
    log = tmp_path / "logs.jsonl"
    write_log(log, [("loan-pricing", "v2", FIXED_NOW - 7_200_000 + i * 2000) for i in range(300)]
              + [("fraud-scorer", "r7", FIXED_NOW - 300_000 + i * 1000) for i in range(10)])
    runner = CliRunner()
    result = runner.invoke(main, ["--db", pg_url, "ingest", str(log)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["--db", pg_url, "baseline", "loan-pricing", "--version", "v2", "--from-logs",
                                  "--since", "2026-01-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'db = "{console_url or pg_url}"\n[ui]\nrefresh_s = 600\n')
    return ModeldeckApp(None, SettingsSource(config_path=config), clock=lambda: FIXED_NOW)


def _errors(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications if n.severity == "error"]


async def _fleet_of_both(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """The console started and its fleet lists both logged models."""
    await settle(pilot)
    assert app.startup_error is None
    table = app.screen.query_one(FleetTable)
    assert sorted(table.get_row_at(row)[0].plain for row in range(table.row_count)) == \
        ["fraud-scorer", "loan-pricing"]


async def test_fleet_model_drift_and_logs_screens_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    app = _pg_console(tmp_path, pg_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_of_both(app, pilot)
        assert str(app.context.store) == pg_url  # named by its address (never holding a password)
        assert _errors(app) == []

        await pilot.press("colon", *"model loan-pricing", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "loan-pricing"
        text = "\n".join(_screen_text(app))
        assert "v2" in text and "loan-pricing" in text
        assert _errors(app) == [], _errors(app)

        await pilot.press("d")  # the drift screen of this model: its baseline's features
        await settle(pilot)
        text = "\n".join(_screen_text(app))
        assert "amount" in text, text
        assert _errors(app) == [], _errors(app)

        await pilot.press("escape", "l")  # Logs of this model: search on the same store, newest first
        await settle(pilot)
        text = "\n".join(_screen_text(app))
        assert "loan-pricing-v2-299" in text and "of 300" in text, text
        assert _errors(app) == [], _errors(app)

        # The operator narrows the pre-filled query: a second search on the same lane and store (it once
        # failed on PostgreSQL, whose store has no file path, with "cannot search").
        await pilot.press(*"request:loan-pricing-v2-17", "enter")
        await settle(pilot)
        text = "\n".join(_screen_text(app))
        assert "cannot search" not in text, text
        assert "loan-pricing-v2-17" in text and "loan-pricing-v2-299" not in text, text
        assert _errors(app) == [], _errors(app)



async def test_a_console_connected_as_the_reader_role_shows_the_fleet_and_drift(tmp_path: Path, team) -> None:  # noqa: F811
    """The reader may only read (and act through the audited doors): its console's monitor cannot store
    drift windows or checklist results; the windows `modeldeck drift` (or `watch`, as the writer) stored are
    what its drift screen shows."""
    app = _pg_console(tmp_path, team["owner"], console_url=team["reader"])
    computed = CliRunner().invoke(main, ["--db", team["writer"], "drift", "loan-pricing",
                                         "--since", "2026-01-01T00:00:00Z", "--until", "2026-11-25T00:00:00Z"])
    assert computed.exit_code == 0, computed.output
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_of_both(app, pilot)
        await pilot.press("colon", *"model loan-pricing", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen)
        await pilot.press("d")
        await settle(pilot)
        assert "amount" in "\n".join(_screen_text(app))
        assert _errors(app) == [], _errors(app)


async def test_a_reader_console_acknowledges_the_page_with_A(tmp_path: Path, team) -> None:  # noqa: F811
    """`A` on the fleet, in a console connected as the reader role: the firing alert is acknowledged (through the
    store's door for it) and the operator is told so; before, the write was refused and nothing was said."""
    from app.models import Alert
    from app.store import Store

    app = _pg_console(tmp_path, team["owner"], console_url=team["reader"])
    with Store.open(team["writer"]) as writer:
        with writer.write():
            writer.alerts.add(Alert(rule="error_rate", model="fraud-scorer", severity="critical", value=0.3,
                                    threshold=0.05, fired_at=FIXED_NOW - 60_000))
    async with app.run_test(size=(80, 24)) as pilot:
        await _fleet_of_both(app, pilot)
        table = app.screen.query_one(FleetTable)
        assert table.current_model == "fraud-scorer"  # worst first: the firing alert
        await pilot.press("A")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications]
        assert any("acknowledged error_rate of fraud-scorer" in m for m in said), said
        assert _errors(app) == [], _errors(app)
    with Store.open(team["owner"]) as owner:
        (firing,) = owner.alerts.firing("fraud-scorer")
        assert firing.acked_by is not None
