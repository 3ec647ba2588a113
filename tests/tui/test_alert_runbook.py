"""Issue 15: the model screen shows the runbook of each firing alert under it, as plain cleaned text: a
runbook holding an OSC 8 link or markup shows as text and sends nothing to the terminal."""

from __future__ import annotations

from pathlib import Path

from app.models import Alert
from app.store import Store
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import FIXED_NOW, build_fixed_store
from widgets.alert_list import AlertList

HOSTILE = "https://runbooks.example/fraud#errors\x1b]8;;http://evil.example/\x07[link=http://x]y[/link]"


async def test_the_firing_alerts_runbook_is_under_it_as_text(tmp_path: Path) -> None:
    db = build_fixed_store(tmp_path / "runbook.db")
    with Store.open(db) as store, store.write():
        store.alerts.add(Alert(rule="error_rate", model="fraud-scorer", severity="critical", owner="risk-ml",
                               value=0.3, threshold=0.05, fired_at=FIXED_NOW - 60_000, runbook=HOSTILE))
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # The fleet's list (every model's alerts) stays one line per alert.
        assert "runbook" not in str(app.screen.query_one(AlertList).render())
        app.open_model("fraud-scorer")
        await settle(pilot)
        shown = str(app.screen.query_one(AlertList).render())
        lines = shown.splitlines()
        at = next(i for i, line in enumerate(lines) if "error_rate" in line)
        assert lines[at + 1].startswith("  runbook https://runbooks.example/fraud#errors"), shown
        assert "\x1b" not in shown and "\x07" not in shown, shown
        assert "#errors\\x1b]8;;http://evil" in lines[at + 1], shown  # the escape, shown as text
