"""The console's first monitor pass (drift windows, alert rules) starts right after the first paint, not
one refresh interval later (issue 16, question 1: on a store built from logs the alert line took 9 s)."""

from __future__ import annotations

from pathlib import Path

from app.config.settings import Settings, UIConfig
from app.console.app import ModeldeckApp
from app.store import Store
from tests.tui.conftest import settle, until
from tests.tui.fixed_store import FIXED_NOW
from widgets.alert_list import AlertList

# fraud-scorer fails one request in nine over the fixed store's last 15 minutes: this rule fires at once.
RULE = {"metric": "error_rate", "threshold": 0.05, "window": "15m", "severity": "critical"}


def _app(db: Path, **kwargs: object) -> ModeldeckApp:
    # An interval far longer than the test: only the pass at start can fire the rule.
    settings = Settings(ui=UIConfig(refresh_s=600), models={"fraud-scorer": {"alerts": [RULE]}})
    return ModeldeckApp(db, settings, clock=lambda: FIXED_NOW, **kwargs)  # type: ignore[arg-type]


def _alert_text(app: ModeldeckApp) -> str:
    return "\n".join(str(alerts.render()) for alerts in app.screen.query(AlertList))


async def test_an_alert_the_store_calls_for_is_on_the_fleet_without_waiting_an_interval(fixed_db: Path) -> None:
    with Store.open(fixed_db) as store:
        assert "error_rate" not in [a.rule for a in store.alerts.firing("fraud-scorer")]
    app = _app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        # Bounded well below the 600 s interval: the alert list shows it once the pass has fired it.
        await until(pilot, lambda: "fraud-scorer error_rate" in _alert_text(app), "the alert on the fleet",
                    timeout_s=30)
        assert "CRIT" in _alert_text(app)
    with Store.open(fixed_db) as store:
        assert "error_rate" in [a.rule for a in store.alerts.firing("fraud-scorer")]


async def test_the_pass_at_start_can_be_left_to_the_interval(fixed_db: Path) -> None:
    app = _app(fixed_db, monitor_at_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not any(w.group == "monitor" for w in app.workers)
        assert "error_rate" not in _alert_text(app)
    with Store.open(fixed_db) as store:
        assert "error_rate" not in [a.rule for a in store.alerts.firing("fraud-scorer")]
