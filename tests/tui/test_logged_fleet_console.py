"""Issue 13 in the console: a store built only by ``modeldeck ingest`` is a fleet, and the ``:`` commands
resolve names as the CLI does (app.catalogue). Real store file, the console under Pilot at 80x24."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main
from screens.model import ModelScreen
from tests.integration.test_logged_fleet import write_log
from tests.tui.conftest import demo, make_app, seeded_store_path, settle  # noqa: F401 - fixtures
from tests.tui.test_console import _screen_text
from tests.tui.fixed_store import FIXED_NOW
from widgets.fleet_table import FleetTable


def _logged_store(tmp_path: Path) -> Path:
    log = tmp_path / "logs.jsonl"
    write_log(log, [("loan-pricing", "v2", FIXED_NOW - 600_000 + i * 1000) for i in range(30)]
              + [("fraud-scorer", "r7", FIXED_NOW - 300_000 + i * 1000) for i in range(10)])
    db = tmp_path / "own.db"
    assert CliRunner().invoke(main, ["--db", str(db), "ingest", str(log)]).exit_code == 0
    return db


def _notes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


async def test_logged_models_make_the_fleet_and_resolve_like_the_cli(tmp_path: Path) -> None:
    app = make_app(_logged_store(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(FleetTable)
        assert sorted(table.get_row_at(row)[0].plain for row in range(table.row_count)) == \
            ["fraud-scorer", "loan-pricing"]
        await pilot.press("colon", *"model lona-pricing", "enter")
        await pilot.pause()
        assert "unknown model 'lona-pricing'; did you mean loan-pricing?" in _notes(app)
        await pilot.press("colon", *"model loan", "enter")
        await pilot.pause()
        assert "loan -> loan-pricing" in _notes(app)  # before the toast times out on a loaded machine
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "loan-pricing"
        await pilot.press("2")  # Readiness: a checklist with evidence, not an error
        await settle(pilot)
        text = "\n".join(_screen_text(app))
        assert "no model card" in text, text
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert all("lona-pricing" in message for message in errors), errors  # only the typo's


async def test_the_console_syncs_its_endpoints_in_the_background(demo, tmp_path: Path) -> None:  # noqa: F811
    """The same sync as `modeldeck sync`, in a worker: the logs-only store learns the endpoint's versions
    and which one is active, while the fleet stays usable."""
    from app.config.settings import EndpointConfig, ModelConfig, Settings, UIConfig
    from app.console.app import ModeldeckApp
    from app.store import Store
    from tests.tui.conftest import until

    db = _logged_store(tmp_path)
    settings = Settings(ui=UIConfig(refresh_s=600), models={"churn": ModelConfig(endpoint=EndpointConfig(
        kind="http", url=demo.model_url("churn"), poll_interval_s=60))})
    app = ModeldeckApp(db, settings, clock=lambda: FIXED_NOW)

    def synced() -> bool:
        with Store.open(db, read_only=True) as store:
            return any(s.model == "churn" and s.synced_at for s in store.syncs.states())

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, synced, "the background sync")
        with Store.open(db, read_only=True) as store:
            assert store.registry.active_version("churn").version == "v3"
        await pilot.press("colon", *"model churn", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "churn"
