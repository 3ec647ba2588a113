"""The rollback modal, driven by keys through Pilot, against the demo endpoint on 127.0.0.1 (real HTTP)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input, Static

from app.config.settings import Settings, UIConfig
from app.store import Store
from app.console.app import ModeldeckApp
from screens.rollback import RollbackScreen
from tests.support.endpoint_settings import http_settings
from tests.tui.conftest import audit_outcomes, open_from_model, until


def _app(db: Path, settings: Settings) -> ModeldeckApp:
    settings = settings.model_copy(update={"ui": UIConfig(refresh_s=600)})
    return ModeldeckApp(db, settings)



async def _open_modal(pilot, model: str = "churn") -> RollbackScreen:  # type: ignore[no-untyped-def]
    modal = await open_from_model(pilot, model, "R", RollbackScreen)  # the model screen's key
    await until(pilot, lambda: modal.plan is not None, "the rollback plan")
    await pilot.pause()
    return modal


def _audit(db: Path, model: str) -> list[str | None]:
    return audit_outcomes(db, model, "rollback")


def _text(modal: RollbackScreen, selector: str) -> str:
    return str(modal.query_one(selector, Static).render())


async def test_modal_shows_the_plan_starts_in_the_reason_and_enter_alone_never_acts(demo_db, demo):
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await _open_modal(pilot)
        assert isinstance(app.focused, Input) and app.focused.id == "rb-reason"
        summary = _text(modal, "#rb-summary")
        assert "serving  v3" in summary and demo.model_url("churn") in summary
        assert [t.version for t in modal._targets][0] == "v3"  # the active one first, marked
        assert modal.target is not None and not modal.target.active  # the cursor starts on a candidate
        # Nothing in this store ever served: each candidate says so in words, not only in colour.
        table = modal.query_one("#rb-targets")
        cells = [str(c) for c in table.get_row(modal.target.version)]
        assert "never served" in cells
        assert "never served" in _text(modal, "#rb-target-note")
        # The name box's placeholder cannot pass for a typed name (NO_COLOR drops its grey).
        assert modal.query_one("#rb-confirm", Input).placeholder == "type churn to confirm"
        assert modal.query_one("#rb-go", Button).disabled
        await pilot.press("enter", "enter", "enter")  # no reason, no name: enter only moves on
        await pilot.pause()
        assert app.focused.id == "rb-confirm" and modal.outcome is None and not modal.running
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen), "the modal to close")
    assert demo.state.models["churn"].active == "v3"
    assert _audit(demo_db, "churn") == []


async def test_wrong_name_keeps_the_action_disabled(demo_db, demo):
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await _open_modal(pilot)
        go = modal.query_one("#rb-go", Button)
        modal.query_one("#rb-reason", Input).focus()
        await pilot.press(*"auc dropped")
        await pilot.press("enter")  # moves to the name box, performs nothing
        assert app.focused.id == "rb-confirm"
        for wrong in ("fraud", "chur", "Churn", "churn2"):
            modal.query_one("#rb-confirm", Input).value = ""
            await pilot.press(*wrong)
            assert go.disabled, wrong
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RollbackScreen) and modal.outcome is None
        # The right name without a reason does not do either.
        modal.query_one("#rb-reason", Input).value = ""
        modal.query_one("#rb-confirm", Input).value = ""
        modal.query_one("#rb-confirm", Input).focus()
        await pilot.press(*"churn")
        assert go.disabled
        await pilot.press("escape")
        await pilot.pause()
    assert demo.state.models["churn"].active == "v3"
    assert _audit(demo_db, "churn") == []


async def test_right_name_rolls_back_shows_the_verified_outcome_and_audits(demo_db, demo):
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await _open_modal(pilot)
        target = modal.target.version
        assert target in ("v1", "v2")
        modal.query_one("#rb-reason", Input).focus()
        await pilot.press(*"v3 misclassifies since 09:40", "enter")
        await pilot.press(*"churn")
        go = modal.query_one("#rb-go", Button)
        assert not go.disabled and str(go.label) == f"Roll back to {target}"
        await pilot.press("enter")  # with a reason and the typed name, enter in the name box acts
        await until(pilot, lambda: modal.outcome is not None, "the rollback's outcome", timeout_s=40)
        await pilot.pause()
        outcome = _text(modal, "#rb-outcome")
        assert outcome.startswith("SUCCEEDED in ") and f"read back: {target} serving" in outcome
        assert "(was v3)" in outcome and "health up" in outcome
        assert not modal.query_one("#rb-go", Button).display
        assert app.focused.id == "rb-cancel" and str(app.focused.label) == "Close"
        # The header and the table are read again: they show the version serving now, not before.
        await until(pilot, lambda: f"serving  {target}" in _text(modal, "#rb-summary"), "the re-read plan")
        assert "read again after the rollback: succeeded" in _text(modal, "#rb-summary")
        assert modal._targets[0].version == target and modal._targets[0].active
        assert _text(modal, "#rb-outcome").startswith("SUCCEEDED")  # the outcome stays
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen), "the modal to close")
    assert demo.state.models["churn"].active == target
    assert _audit(demo_db, "churn") == ["intent", "succeeded"]
    with Store.open(demo_db) as store:
        entries = [e for e in store.audit.entries("churn") if e.action == "rollback"]
        assert entries[0].detail["reason"] == "v3 misclassifies since 09:40"
        assert store.registry.active_version("churn").version == target


async def test_global_read_only_shows_why_and_never_enables_the_action(demo_db, demo):
    app = _app(demo_db, http_settings(demo, read_only=True))
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await _open_modal(pilot)
        assert "read-only: modeldeck runs read-only" in _text(modal, "#rb-summary")
        modal.query_one("#rb-reason", Input).focus()
        await pilot.press(*"incident", "enter", *"churn")
        assert modal.query_one("#rb-go", Button).disabled
        await pilot.click("#rb-go")
        await pilot.pause()
        assert modal.outcome is None and not modal.running
    assert demo.state.models["churn"].active == "v3"
    assert _audit(demo_db, "churn") == []


async def test_a_lock_held_by_another_operator_is_reported_with_their_name(demo_db, demo):
    app = _app(demo_db, http_settings(demo))
    with Store.open(demo_db) as other:
        held = other.locks.acquire("model:churn", holder="bob@bastion")
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                modal = await _open_modal(pilot)
                modal.query_one("#rb-reason", Input).focus()
                await pilot.press(*"incident", "enter", *"churn", "enter")  # enter in the name box acts
                await until(pilot, lambda: modal.outcome is not None, "the refusal")
                await pilot.pause()
                text = _text(modal, "#rb-outcome")
                assert text.startswith("REFUSED") and "bob@bastion holds the lock on churn" in text
        finally:
            other.locks.release(held)
    assert demo.state.models["churn"].active == "v3"
    assert _audit(demo_db, "churn") == ["refused"]


async def test_cursor_starts_on_the_version_that_served_last_and_marks_a_rollback_away(demo_db, demo):
    from app.store.predictions import PredictionRow

    now = 1_800_000_000_000
    with Store.open(demo_db) as store:
        # v1 served (as the champion) until a rollback moved traffic from it to v3; v2 never served.
        store.predictions.append([PredictionRow(now - 7_200_000 - i, "churn", "v1", f"r{i}", None, 0.5, None, None,
                                                10.0, "ok", None, None, None, "") for i in range(3)])
        store.audit.append("rollback", "churn", outcome="succeeded", ts=now - 3_600_000,
                           detail={"from": "v1", "to": "v3", "reason": "test"})
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(120, 30)) as pilot:
        modal = await _open_modal(pilot)
        # Not v1: it served last, but a rollback moved traffic away from it (the last incident's version).
        assert modal.target is not None and modal.target.version == "v2"
        table = modal.query_one("#rb-targets")
        v1 = [str(c) for c in table.get_row("v1")]
        assert "rolled back" in v1  # its stage cell says so (the registry stage is in the line below)
        assert "never served" in [str(c) for c in table.get_row("v2")]
        await pilot.press("down")  # from the reason box, down still moves the version
        assert modal.target.version == "v1"
        assert "a rollback moved traffic away from it on" in _text(modal, "#rb-target-note")
        await pilot.press("escape")


async def test_no_color_focused_cancel_is_not_drawn_like_the_selected_row(demo_db, demo, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.no_color
        modal = await _open_modal(pilot)
        cancel = modal.query_one("#rb-cancel", Button)
        reason = modal.query_one("#rb-reason", Input)
        assert app.focused is reason
        await pilot.press(*"x")
        # The focused box is marked by attributes, not only by its tint (NO_COLOR drops the tint).
        assert reason.rich_style.underline and reason.rich_style.bold
        cancel.focus()
        await pilot.pause()
        row_style = modal.query_one("#rb-targets").get_component_rich_style("datatable--cursor")
        button_style = cancel.rich_style
        assert row_style.reverse and not button_style.reverse and button_style.underline
        await pilot.press("escape")


async def test_offline_metrics_are_readable_at_80_columns_and_the_date_comes_back_when_wider(demo_db, demo):
    from app.models import Version

    with Store.open(demo_db) as store:
        for version in store.registry.versions("churn"):
            metrics = {"accuracy": 0.9534, "auc": 0.9123, "p95_latency_ms": 19.62, "rmse": 1078.4,
                       "holdout_rows": 10_000}
            store.registry.upsert_version(Version(**{**version.model_dump(), "metrics": metrics}))
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _open_modal(pilot)
        table = modal.query_one("#rb-targets")
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["Version", "Stage", "Last served", "Offline metrics"]  # the date is in the line below
        for key in ("v1", "v2", "v3"):
            cell = str(table.get_row(key)[-1])
            assert cell == "acc 0.953 auc 0.912 p95 19.6ms rmse 1078"  # whole: no ellipsis, no 1.08e+03
        assert "created " in _text(modal, "#rb-target-note")
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: "Created" in [str(c.label) for c in table.columns.values()], "the wider layout")
        assert str(table.get_row("v1")[-1]).startswith("acc 0.953 auc 0.912")
        await pilot.press("escape")


def _slow_poll(settings: Settings) -> Settings:
    """Poll each endpoint once, then not for ten minutes: what the fleet shows after a rollback comes
    from the rollback's verified outcome, not from the poller's next read."""
    models = {name: config.model_copy(update={"endpoint": config.endpoint.model_copy(
        update={"poll_interval_s": 600.0})}) for name, config in settings.models.items()}
    return settings.model_copy(update={"models": models})


async def test_R_on_the_fleet_rolls_back_in_five_steps_and_the_fleet_shows_it_at_once(demo_db, demo):
    from screens.fleet import FleetScreen
    from widgets.fleet_table import FleetTable

    app = _app(demo_db, _slow_poll(http_settings(demo)))
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await until(pilot, lambda: any(r.name == "churn" for r in fleet.rows)
                    and "churn" in app.context.live, "the fleet and the first poll")
        table = fleet.query_one(FleetTable)
        while table.current_model != "churn":
            await pilot.press("down")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen), "the rollback modal")
        modal = app.screen
        await until(pilot, lambda: modal.plan is not None, "the rollback plan")
        await pilot.pause()
        target = modal.target.version
        assert modal.model == "churn" and target != "v3"
        # R, the reason, enter, the name, enter: nothing else.
        await pilot.press(*"incident", "enter")
        await pilot.press(*"churn", "enter")
        await until(pilot, lambda: modal.outcome is not None, "the outcome", timeout_s=40)
        assert modal.outcome.status == "succeeded"
        # Still under the open modal, the fleet has read again with the verified version.
        await until(pilot, lambda: next(r for r in fleet.rows if r.name == "churn").active_version == target,
                    "the fleet to show the new version", timeout_s=3)
        assert app.context.live["churn"].active_version == target
    assert demo.state.models["churn"].active == target


async def test_the_dialog_scrolls_at_70x20_so_the_focused_button_is_on_screen(demo_db, demo):
    app = _app(demo_db, http_settings(demo))
    async with app.run_test(size=(70, 20)) as pilot:
        modal = await _open_modal(pilot)
        await pilot.press(*"incident", "enter", *"churn")
        await pilot.press("tab")  # to Cancel, below the fold when the box opened
        await pilot.pause()
        for button_id in ("#rb-cancel", "#rb-go"):
            button = modal.query_one(button_id, Button)
            button.focus()
            await pilot.pause()
            region, inside = button.region, modal.query_one("#rollback-box").content_region
            # Whole, inside the box's border (a cut button's last row sits under the border).
            assert region.height == 3 and inside.contains_region(region), (button_id, region, inside)
            assert app.screen.get_widget_at(region.x + 2, region.y + 1)[0] is button
        await pilot.press("escape")
