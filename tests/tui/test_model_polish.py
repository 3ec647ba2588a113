"""The model screen at 80x24 as an operator reads it: the Activity tab's outcome and detail, the
Overview's offline metrics, and a header that does not call a disabled model active."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from screens.model import ModelScreen
from tests.tui.conftest import make_app, open_model_screen, settle
from tests.tui.fixed_store import FIXED_NOW, HOUR

REASON = "INC-4821: error rate above 30% on v3 since 15:14 UTC; feature-store pool exhausted"


def _screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The screen as plain text lines, as a terminal would show it."""
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None, record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()



async def test_activity_at_80_columns_shows_whole_outcomes_and_what_happened(fixed_db: Path) -> None:
    from app.store import Store

    with Store.open(fixed_db) as store:
        store.audit.append("alert.acknowledge", "fraud-scorer", outcome="acknowledged", actor="mchen@ops-bastion-2",
                           detail={"alert_id": 4, "rule": "error_rate", "severity": "critical"}, ts=FIXED_NOW - HOUR)
        store.audit.append("rollback", "fraud-scorer", outcome="succeeded", actor="mchen@ops-bastion-2",
                           detail={"to": "v2", "reason": REASON, "from": "v3", "endpoint": {"kind": "http"},
                                   "readback": "v2", "health": "up"}, ts=FIXED_NOW - HOUR // 2)
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_model_screen(pilot, "fraud-scorer")
        await pilot.press("4")
        await settle(pilot)
        lines = _screen_text(app)
        rollback = next(line for line in lines if "rollback" in line)
        # The outcome whole, and the detail a sentence (where to, why), not the start of a JSON object.
        assert "succeeded" in rollback and "to v2 · INC-4821" in rollback, rollback
        assert "mchen" in rollback and '{"' not in rollback
        ack = next(line for line in lines if "alert.acknowledge" in line)
        assert "acknowledged" in ack and "rule error_rate" in ack, ack
        # The whole JSON is still there, below the table, for the highlighted entry.
        index = next(i for i, entry in enumerate(screen.entries) if entry.action == "rollback")
        await pilot.press(*["j"] * index)
        await pilot.pause()
        pane = str(screen.query_one("#activity-detail", Static).render())
        assert '"reason": "' + REASON + '"' in pane and '"kind": "http"' in pane


async def test_overview_metrics_fit_at_80_columns_in_the_short_form(fixed_db: Path) -> None:
    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_model_screen(pilot, "fraud-scorer")
        lines = _screen_text(app)
        row = next(line for line in lines if " v3 " in line and "champion" in line)
        # The same short form as the rollback modal (app/views/metrics_format.py), whole at 80 columns.
        assert "auc 0.93 p95 23ms 400rps" in row, row
        assert "p95_latency_ms" not in "\n".join(lines)


def test_the_rollback_modal_and_the_model_screen_share_one_metrics_formatter() -> None:
    import screens.model
    import screens.rollback
    from app.views.metrics_format import metrics_text

    assert screens.model.metrics_text is metrics_text and screens.rollback.metrics_text is metrics_text


async def test_header_says_disabled_once_the_endpoint_is_disabled(demo_db: Path, demo) -> None:
    from textual.widgets import Input

    from app.config.settings import EndpointConfig, ModelConfig, UIConfig
    from app.console.app import ModeldeckApp
    from tests.support.endpoint_settings import http_settings
    from tests.tui.test_disable_modal import _open as open_disable
    from tests.tui.conftest import until

    fast = ModelConfig(endpoint=EndpointConfig(kind="http", url=demo.model_url("churn"), poll_interval_s=0.3))
    settings = http_settings(demo, churn=fast).model_copy(update={"ui": UIConfig(refresh_s=600)})
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_disable(pilot)
        model_screen = app.screen_stack[-2]
        assert isinstance(model_screen, ModelScreen)
        title = model_screen.query_one("#title", Static)
        assert "active v3" in str(title.render()) and "(" not in str(title.render())
        modal.query_one("#ds-reason", Input).value = "INC-7: scores out of range"
        modal.query_one("#ds-confirm", Input).value = "churn"
        await pilot.pause()
        modal.query_one("#ds-go").press()
        await until(pilot, lambda: modal.outcome is not None, "the outcome")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is model_screen, "the model screen")
        # The registry still names v3 champion; the header says it is not what serves now.
        await until(pilot, lambda: "active v3 (disabled)" in str(title.render()), "the header to say disabled")


def test_what_the_header_adds_after_the_active_version() -> None:
    from app.endpoints.poller import PollResult
    from app.models import Health, HealthState
    from screens.model import serving_note

    def poll(state: str, active: str | None) -> PollResult:
        return PollResult("m", "http", Health(state=HealthState(state)), active_version=active)

    assert serving_note(poll("up", "v3"), disabled=False) is None
    # The endpoint's own word wins over the audit: re-enabled elsewhere, it serves again.
    assert serving_note(poll("up", "v3"), disabled=True) is None
    assert serving_note(poll("down", None), disabled=True) == "disabled"
    # Down and no version read: unreachable, not known to be disabled.
    assert serving_note(poll("down", None), disabled=False) == "endpoint down"
    assert serving_note(None, disabled=True) == "disabled"  # before the first poll, the audit alone
    assert serving_note(None, disabled=False) is None
