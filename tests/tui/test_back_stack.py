"""Issue 16 item 5: esc goes back where the operator came from. A model opened from the Logs screen or
another model's screen (`:model`, the palette) is pushed on top, its title a breadcrumb; opening a model
whose screen is already on the stack goes back to it (the stack never loops)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from screens.model import ModelScreen
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import build_fixed_store


async def test_esc_after_opening_a_model_from_another_goes_back_to_it(tmp_path: Path) -> None:
    app = make_app(build_fixed_store(tmp_path / "stack.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.run_command_line(":model fraud") is None
        await settle(pilot)
        assert app.run_command_line(":model churn") is None
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen) and screen.model == "churn-predictor"
        title = str(screen.query_one("#title", Static).render())
        assert title.startswith("fleet › fraud-scorer › churn-predictor"), title
        await pilot.press("escape")
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "fraud-scorer"
        assert str(app.screen.query_one("#title", Static).render()).startswith("modeldeck  model  fraud-scorer")
        assert app.run_command_line(":model churn") is None
        await settle(pilot)
        assert app.run_command_line(":model fraud") is None  # already on the stack: back to it, no loop
        await settle(pilot)
        assert [type(s).__name__ for s in app.screen_stack] == ["FleetScreen", "ModelScreen"]
        await pilot.press("escape")
        assert type(app.screen).__name__ == "FleetScreen"


async def test_dialogs_say_where_esc_goes_back_to(tmp_path: Path) -> None:
    """The rollback and disable dialogs carry the breadcrumb (fleet › model › rollback); esc closes the
    dialog back onto the screen it was opened from."""
    from screens.disable import DisableScreen
    from screens.rollback import RollbackScreen

    app = make_app(build_fixed_store(tmp_path / "stack.db"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("R")  # from the fleet's highlighted row
        await settle(pilot)
        assert isinstance(app.screen, RollbackScreen)
        model = app.screen.model
        title = str(app.screen.query_one("#rb-title", Static).render())
        assert f"Roll back {model}" in title and f"fleet › {model} › rollback" in title, title
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "FleetScreen"
        app.open_model(model)
        await settle(pilot)
        for key, kind, crumb in (("R", RollbackScreen, "rollback"), ("X", DisableScreen, "disable")):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, kind)
            shown = " ".join(str(s.render()) for s in app.screen.query(Static))
            assert f"fleet › {model} › {crumb}" in shown, shown  # the model named once
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, ModelScreen) and app.screen.model == model
