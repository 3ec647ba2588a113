"""The fleet tells the operator since when a model drifts (issue 15): the Drift cell gives the age of the
worst feature's run where it has room, on a real store whose last two hours drift."""

from __future__ import annotations

from pathlib import Path

from app.drift.windows import SETTLE_MS, update
from app.store import Store
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import FIXED_NOW
from tests.tui.test_drift_screen import drift_db  # noqa: F401  (the fixture: an episode in the last 2 hours)
from widgets.fleet_table import FleetTable


def _drift_cell(app) -> str:  # type: ignore[no-untyped-def]
    table = app.screen.query_one(FleetTable)
    return str(table.get_row_at(0)[6])


async def test_the_drift_cell_says_how_long_the_model_has_drifted(drift_db: Path) -> None:  # noqa: F811
    with Store.open(drift_db) as store:
        update(store, "fraud", now=FIXED_NOW + SETTLE_MS)
    app = make_app(drift_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert _drift_cell(app) == "amount +pred ·2h"  # drifting since two hours ago (the first window of the run)
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert _drift_cell(app) == "amount +pred ·2h"  # a short model name leaves room for it at 80 columns
        await pilot.resize_terminal(75, 24)
        await settle(pilot)
        assert _drift_cell(app) == "amount +pred"  # narrower, the age gives way first; the feature stays whole
