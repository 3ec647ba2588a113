"""The model screen's Activity tab shows what `modeldeck watch` told the owners: each notification's
event, rule, target and outcome, a failure with its error (issue 15)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from app.models import Alert
from tests.tui.conftest import make_app, open_model_screen, until
from tests.tui.test_model_polish import _screen_text
from tests.tui.fixed_store import FIXED_NOW, HOUR


async def test_activity_lists_the_models_notifications_with_failures_told(fixed_db: Path) -> None:
    from app.store import Store

    with Store.open(fixed_db) as store:
        alert_id = store.alerts.add(Alert(rule="error_rate", model="fraud-scorer", severity="critical", owner="ops",
                                          fired_at=FIXED_NOW - HOUR))
        store.deliveries.enqueue(alert_id, "fraud-scorer", "alertmanager:am:9093", "firing", FIXED_NOW - HOUR)
        store.deliveries.enqueue(alert_id, "fraud-scorer", "pager-hook", "firing", FIXED_NOW - HOUR)
        [am, hook] = sorted(store.deliveries.recent("fraud-scorer"), key=lambda d: d.id)
        store.deliveries.mark_delivered(am.id, FIXED_NOW - HOUR + 1000)
        store.deliveries.mark_sending(hook.id, FIXED_NOW - HOUR)
        store.deliveries.mark_final(hook.id, "failed", "HTTP 503: '\x1b[2J[red]down'")
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_model_screen(pilot, "fraud-scorer")
        await pilot.press("4")
        pane = screen.query_one("#notifications", Static)
        await until(pilot, lambda: "alertmanager" in str(pane.render()), "the notifications")
        text = str(pane.render())
        assert "11-24 11:00 firing error_rate -> alertmanager:am:9093: delivered" in text
        assert "pager-hook: failed after 1 tries: HTTP 503" in text
        assert "\x1b" not in text and "[red]down" in text  # the receiver's answer shown as text, not markup
        on_screen = "\n".join(_screen_text(app))
        assert "Notifications (modeldeck watch)" in on_screen and "pager-hook: failed" in on_screen
