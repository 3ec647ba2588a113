"""Issue 13: the model screen says how old what the store holds from each registry or endpoint is, and a
sync that failed is said as a failure with the age of the last success (a real store; fixed clock)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from app.store import Store
from tests.tui.conftest import make_app, open_model_screen, settle
from tests.tui.fixed_store import FIXED_NOW, HOUR, build_fixed_store


async def test_the_overview_says_the_age_of_each_sync_and_a_failure(tmp_path: Path) -> None:
    db = build_fixed_store(tmp_path / "sync.db")
    with Store.open(db) as store, store.write():
        store.syncs.mark("fraud-scorer", "mlflow", at=FIXED_NOW - 2 * HOUR, error=None)
        store.syncs.mark("fraud-scorer", "mlflow", at=FIXED_NOW - 20_000, error="connection refused")
        store.syncs.mark("fraud-scorer", "endpoint", at=FIXED_NOW - 180_000, error=None)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_model_screen(pilot, "fraud-scorer")
        line = app.screen.query_one("#sync-age", Static)
        shown = str(line.render())
        assert line.display
        assert "synced endpoint 3m ago · mlflow failed 20s ago (last ok 2h ago): connection refused" in shown, shown
        app.open_model("churn-predictor")  # never synced: no line at all
        await settle(pilot)
        assert not app.screen.query_one("#sync-age", Static).display
