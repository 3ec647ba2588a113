"""The disable modal, by keys through Pilot, against the demo endpoint on 127.0.0.1 (real HTTP): it
acts only after a reason and the typed name, stops the endpoint serving, and is audited; a
read-only console refuses it before anything is sent."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input, Static

from app.config.settings import UIConfig
from app.console.app import ModeldeckApp
from screens.disable import DisableScreen
from tests.support.endpoint_settings import http_settings
from tests.tui.conftest import audit_outcomes, open_from_model, until
from widgets.key_bar import KeyBar


def _disables(db: Path, model: str) -> list[str | None]:
    return audit_outcomes(db, model, "disable")


async def _open(pilot, model: str = "churn") -> DisableScreen:  # type: ignore[no-untyped-def]
    modal = await open_from_model(pilot, model, "X", DisableScreen)  # the model screen's key
    await pilot.pause()
    return modal


async def test_disable_needs_a_reason_and_the_typed_name_then_stops_serving(demo_db, demo):
    settings = http_settings(demo).model_copy(update={"ui": UIConfig(refresh_s=600)})
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _open(pilot)
        assert isinstance(app.focused, Button) and app.focused.id == "ds-cancel"
        assert "esc Cancel" in str(app.screen_stack[-2].query_one(KeyBar).render())
        assert demo.model_url("churn") in str(modal.query_one("#ds-target", Static).render())
        go = modal.query_one("#ds-go", Button)
        modal.query_one("#ds-reason", Input).value = "INC-7: scores out of range"
        await pilot.pause()
        assert go.disabled  # the name is not typed yet
        modal.query_one("#ds-confirm", Input).value = "churn"
        await pilot.pause()
        assert not go.disabled
        go.press()
        await until(pilot, lambda: modal.outcome is not None, "the outcome")
        outcome = str(modal.query_one("#ds-outcome", Static).render())
        assert outcome.startswith("SUCCEEDED") and "read back: nothing serving" in outcome
        assert modal.query_one("#ds-cancel", Button).label.plain == "Close"
        await pilot.pause()
        keys = str(app.screen_stack[-2].query_one(KeyBar).render())  # the bar below shows the modal's keys
        assert "esc Close" in keys and "Cancel" not in keys
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DisableScreen), "esc to close the modal")
    assert demo.state.models["churn"].disabled
    assert _disables(demo_db, "churn")[-1] == "succeeded"


async def test_a_read_only_console_cannot_disable(demo_db, demo):
    settings = http_settings(demo, read_only=True).model_copy(update={"ui": UIConfig(refresh_s=600)})
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _open(pilot)
        assert "read-only" in str(modal.query_one("#ds-target", Static).render())
        modal.query_one("#ds-reason", Input).value = "trying anyway"
        modal.query_one("#ds-confirm", Input).value = "churn"
        await pilot.pause()
        assert modal.query_one("#ds-go", Button).disabled
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DisableScreen), "the modal to close")
    assert not demo.state.models["churn"].disabled
    assert _disables(demo_db, "churn") == []
