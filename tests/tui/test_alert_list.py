"""Firing alerts on the fleet and model screens, with their owner; `A` acknowledges them, audited."""

from __future__ import annotations

from pathlib import Path

from app.models import Alert
from app.store import Store
from tests.tui.conftest import make_app, open_model_screen, settle
from tests.tui.fixed_store import FIXED_NOW, HOUR
from widgets.alert_list import AlertList


def _add_ownerless(db: Path) -> None:
    with Store.open(db) as store:
        store.alerts.add(Alert(rule="traffic_drop", model="churn-predictor", severity="warning", owner=None,
                               state="firing", value=0.7, threshold=0.5, fired_at=FIXED_NOW - HOUR))


async def test_fleet_lists_firing_alerts_with_owner_and_A_acknowledges(fixed_db: Path, monkeypatch) -> None:
    monkeypatch.setenv("MODELDECK_ACTOR", "oncall@bastion")
    _add_ownerless(fixed_db)
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        alerts = app.screen.query_one("#fleet-alerts", AlertList)
        text = str(alerts.render())
        lines = text.splitlines()
        assert len(lines) == 2
        assert "fraud-scorer" in text and "owner risk-ml" in text  # the fixed store's critical alert
        assert any("churn-predictor" in line and "owner NONE" in line for line in lines)
        assert all(len(line) <= 78 for line in lines)  # fits 80 columns with the padding
        # The highlighted model is the worst one, fraud-scorer: `A` acknowledges its alert only.
        await pilot.press("A")
        await settle(pilot)
        await settle(pilot)
        shown = str(alerts.render()).splitlines()
        assert "acked oncall" in next(line for line in shown if "fraud-scorer" in line)
    with Store.open(fixed_db) as store:
        firing = {a.model: a for a in store.alerts.firing()}
        entries = [e for e in store.audit.entries("fraud-scorer") if e.action == "alert.acknowledge"]
    assert firing["fraud-scorer"].acked_by == "oncall@bastion" and firing["churn-predictor"].acked_by is None
    assert len(entries) == 1 and entries[0].detail["rule"] == "p95_latency" and entries[0].actor == "oncall@bastion"


async def test_model_screen_shows_its_alerts_and_acknowledges_them(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_model_screen(pilot, "fraud-scorer")
        alerts = app.screen.query_one("#model-alerts", AlertList)
        assert "p95_latency" in str(alerts.render()) and "owner risk-ml" in str(alerts.render())
        assert "fraud-scorer" not in str(alerts.render())  # the screen is the model's: no model column
        await pilot.press("A")
        await settle(pilot)
        await settle(pilot)
        assert alerts.firing and alerts.firing[0].acked_by is not None
        await pilot.press("A")  # nothing left to acknowledge: said (with who is on it), and not audited twice
        await settle(pilot)
        assert any("all firing alerts already acknowledged by" in str(n.message) for n in app._notifications)
    with Store.open(fixed_db) as store:
        entries = [e for e in store.audit.entries("fraud-scorer") if e.action == "alert.acknowledge"]
    assert len(entries) == 1


def test_at_80_columns_an_alert_line_keeps_the_rule_and_who_acked_it_and_shortens_the_owner() -> None:
    from widgets.alert_list import alert_line

    alert = Alert(rule="attachment_rate_psi_drift", model="credit-limit-scorer", severity="critical",
                  owner="credit-decisioning-oncall", value=0.00075, threshold=0.2, fired_at=FIXED_NOW - HOUR,
                  acked_by="jgarcia@ops-bastion", acked_at=FIXED_NOW)
    line = alert_line(alert, show_model=True, width=78).plain
    assert len(line) <= 78
    # The numbers may be cut, not these; the owner is shortened before the names, but its start stays.
    assert "acked jgarcia" in line and "owner credit-deci" in line and "attachment_rate_psi_d" in line
    wide = alert_line(alert.model_copy(update={"owner": "credit-decisioning-oncall-secondary"}), show_model=True,
                      width=118).plain
    assert "owner credit-decisioning-oncall-secondary" in wide and "…" not in wide  # 120 columns: whole


def test_at_80_columns_a_drift_alert_keeps_its_feature_whole_before_the_owner() -> None:
    """The 80-column walkthrough line: "feature_drift…" lost the feature while the owner stayed whole."""
    from widgets.alert_list import alert_line

    alert = Alert(rule="feature_drift:language", model="ticket-router", severity="warning",
                  owner="support-platform-oncall", value=0.31, threshold=0.1, fired_at=FIXED_NOW - HOUR,
                  acked_by="jgarcia@ops-bastion", acked_at=FIXED_NOW)
    line = alert_line(alert, show_model=True, width=76).plain  # an 80-column fleet screen
    assert line.startswith("WARN ticket-router feature_drift:language acked jgarcia owner support-")
    assert len(line) <= 76 and line.endswith("…")
    # Narrower still, the rule's kind is cut before its feature.
    narrow = alert_line(alert, show_model=True, width=60).plain
    assert ":language" in narrow and "owner support" in narrow and len(narrow) <= 60
