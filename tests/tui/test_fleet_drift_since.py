"""The fleet tells the operator since when the highlighted model drifts (issue 15), in words on the status
line, from a real store whose last two hours drift."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from app.drift.windows import SETTLE_MS, update
from app.store import Store
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import FIXED_NOW, HOUR
from tests.tui.test_drift_screen import drift_db  # noqa: F401  (the fixture: an episode in the last 2 hours)


async def test_the_status_line_says_since_when_the_highlighted_model_drifts(drift_db: Path) -> None:  # noqa: F811
    with Store.open(drift_db) as store:
        update(store, "fraud", now=FIXED_NOW + SETTLE_MS)
    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        status = str(app.screen.query_one("#status", Static).render())
    since = FIXED_NOW - 2 * HOUR
    from app.timeutil import TimeFormat, format_ms

    assert f"amount drifting since {format_ms(since, TimeFormat.DAY_MINUTE)}Z" in status
    assert "2 windows" in status
