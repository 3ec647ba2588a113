"""What an on-call operator hit walking through the console by keys (tmux, 80x24): each test is one
place where the screen did something other than what it said or what the keys suggest."""

from __future__ import annotations

from pathlib import Path

from tests.tui.test_logs import logs_db, make_app, open_logs, settle  # noqa: F401  (logs_db: a fixture)
from widgets.log_table import LogTable
from widgets.query_bar import QueryBar


async def test_slash_after_a_replaced_query_edits_all_of_it(logs_db: Path) -> None:  # noqa: F811
    """`a` replaces the query while the table has the focus; `/` then ctrl+u must clear the whole
    query (it cleared only the first 14 characters: the cursor stayed where the old query ended)."""
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:fraud")
        assert isinstance(screen.focused, LogTable)
        await pilot.press("a")
        await settle(pilot)
        bar = screen.query_one(QueryBar)
        assert bar.value.startswith("entity:cust-7 since:") and len(bar.value) > len("model:fraud")
        await pilot.press("slash")
        assert screen.focused is bar and bar.cursor_position == len(bar.value)
        await pilot.press("ctrl+u")
        assert bar.value == ""
        await pilot.press(*"status:error")
        assert bar.value == "status:error"


def test_a_resolved_alert_says_so_at_80_columns() -> None:
    """The model screen lists recently resolved alerts too: at 80 columns the line was cut before
    "resolved …", so a resolved CRIT looked firing (only its dim style differed, none under NO_COLOR)."""
    from app.models import Alert
    from tests.tui.fixed_store import FIXED_NOW, HOUR
    from widgets.alert_list import alert_line

    alert = Alert(rule="error_rate", model="credit-limit", severity="critical", owner="credit-decisioning-oncall",
                  state="resolved", value=0.35, threshold=0.05, fired_at=FIXED_NOW - 2 * HOUR,
                  resolved_at=FIXED_NOW - HOUR, acked_by="mchen@ops-bastion-2", acked_at=FIXED_NOW - HOUR)
    line = alert_line(alert, show_model=False, width=78).plain  # the model screen's list (the fleet's has no resolved)
    assert "error_rate resolved acked mchen owner credit-decisioning-oncall" in line, line
    firing = alert_line(alert.model_copy(update={"state": "firing", "resolved_at": None}), show_model=False,
                        width=78).plain
    assert "resolved" not in firing


async def test_disable_modal_says_what_is_missing_and_enter_never_lands_on_cancel(demo_db, demo) -> None:
    """Typing the name then pressing enter twice cancelled the disable modal (enter moved to Cancel);
    and a disabled button never said why. Now enter goes to the enabled action (the rollback modal
    did that already) and the line under the name says what is still missing."""
    from textual.widgets import Button, Input, Static

    from app.config.settings import UIConfig
    from app.console.app import ModeldeckApp
    from screens.disable import DisableScreen
    from tests.support.endpoint_settings import http_settings
    from tests.tui.test_disable_modal import _open

    settings = http_settings(demo).model_copy(update={"ui": UIConfig(refresh_s=600)})
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _open(pilot)

        def hint() -> str:
            return str(modal.query_one("#ds-outcome", Static).render())

        assert "Disable: give a reason first" in hint()
        modal.query_one("#ds-confirm", Input).focus()
        await pilot.press(*"churn", "enter")
        assert "Disable: give a reason first" in hint()
        assert app.focused.id == "ds-confirm"  # stays: a second enter must not reach Cancel
        await pilot.press("enter")
        assert isinstance(app.screen, DisableScreen)
        modal.query_one("#ds-reason", Input).focus()
        await pilot.press(*"INC-9", "enter")
        assert app.focused.id == "ds-confirm"
        modal.query_one("#ds-confirm", Input).value = ""
        await pilot.press(*"chu")
        assert "Disable: type the model name first" in hint()
        await pilot.press(*"rn", "enter")
        go = modal.query_one("#ds-go", Button)
        assert not go.disabled and app.focused is go and "Disable is enabled" in hint()
        await pilot.press("escape")  # not performed: the test only walks the keys
        await pilot.pause()
    assert not demo.state.models["churn"].disabled


def test_a_version_rolled_back_to_again_is_no_longer_marked_rolled_back(tmp_path: Path) -> None:
    """credit-limit: v3.2.0 was fled on 11-28, an operator went back to it today and it served; the
    rollback modal still called it "rolled back" (in red, "a rollback moved traffic away from it on
    11-28"). The mark belongs to the version fled last, until traffic returns to it."""
    from app.rollback.history import serving_history
    from app.store import Store

    with Store.open(tmp_path / "s.db") as store:
        def switch(ts: int, action: str, source: str, to: str) -> None:
            store.audit.append(action, "credit-limit", detail={"from": source, "to": to}, outcome="succeeded",
                               actor="op@bastion", ts=ts)

        switch(1_000, "promote", "v3.1.2", "v3.2.0")
        switch(2_000, "rollback", "v3.2.0", "v3.1.2")  # the incident: v3.2.0 is fled
        assert serving_history(store, "credit-limit", []).rolled_back_from == {"v3.2.0": 2_000}
        switch(3_000, "rollback", "v3.1.2", "v3.2.0")  # today: back to v3.2.0, which serves again
        history = serving_history(store, "credit-limit", [])
    assert history.rolled_back_from == {"v3.1.2": 3_000}
    assert history.last_active == {"v3.1.2": 3_000, "v3.2.0": 3_000}


async def test_help_says_how_to_close_it(fixed_db: Path) -> None:
    """`?` opens a long scrolling list while the key bar (the screen's underneath) does not apply: the
    box itself says that esc closes it and how it scrolls."""
    from tests.tui.conftest import make_app as make_console

    app = make_console(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        box = app.screen.query_one("#help-box")
        assert "esc close" in str(box.border_subtitle) and "pgdn" in str(box.border_subtitle)
        await pilot.press("escape")
        await pilot.pause()
        assert not app.screen.query("#help-box")


def test_every_category_of_a_histogram_is_named_at_80_columns() -> None:
    """The drift screen's histogram of `subject` at 80x24 (a 38-cell chart): plotext dropped the tick
    labels that overlapped, so 3 of 6 bars had a name, and not under their own bar."""
    import re

    from widgets.plot_chart import BarChart, render_chart

    names = ("Error 500 on checkout", "Page keeps loading", "Notification settings", "Refund request",
             "Login fails", "Invoice copy")
    shares = (0.2, 0.2, 0.15, 0.15, 0.15, 0.15)
    chart = re.sub(r"\x1b\[[0-9;]*m", "", render_chart(BarChart("subject", names, shares, shares, categorical=True),
                                                        38, 14))
    axis = next(line for line in chart.splitlines() if "Err" in line)
    assert [label[:3] for label in axis.split()] == [name[:3] for name in names]
    numeric = render_chart(BarChart("amount", ("10", "20"), (0.5, 0.5), (0.5, 0.5)), 38, 14)
    assert "10" in numeric and "20" in numeric  # numbers are never cut
