"""The console given where its settings are (as ``modeldeck`` gives it): it paints first, then reads
them in a worker, opens the store they name and shows the fleet; an older store is upgraded once,
and the operator is told why the wait."""

from __future__ import annotations

from pathlib import Path

from app.config.source import SettingsSource
from app.store import SCHEMA_VERSION, Store
from app.console.app import ModeldeckApp
from tests.tui.fixed_store import FIXED_NOW
from tests.tui.conftest import until
from widgets.fleet_table import FleetTable



def _config(tmp_path: Path, db: Path) -> Path:
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'db = "{db}"\n[ui]\nrefresh_s = 600\n')
    return config


async def test_the_fleet_appears_once_the_settings_are_read(fixed_db: Path, tmp_path: Path) -> None:
    app = ModeldeckApp(None, SettingsSource(config_path=_config(tmp_path, fixed_db)), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready, "the settings")
        assert app.db_path == fixed_db and app.settings.ui.refresh_s == 600
        await until(pilot, lambda: bool(app.screen.query_one(FleetTable).shown_models), "the fleet's rows")
        assert not [n for n in app._notifications if n.title == "store"]  # a current store: nothing to say


async def test_an_older_store_is_upgraded_once_and_the_operator_is_told(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store(db, migrate_to=SCHEMA_VERSION - 1).close()
    app = ModeldeckApp(None, SettingsSource(config_path=_config(tmp_path, db)), clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready, "the settings")
        told = [n.message for n in app._notifications if n.title == "store"]
        assert told and f"from schema {SCHEMA_VERSION - 1} to {SCHEMA_VERSION}" in told[0]
    with Store.open(db, read_only=True) as store:
        assert store.schema_version() == SCHEMA_VERSION
