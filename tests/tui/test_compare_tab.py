"""The Compare tab driven by keys: comparison, gate verdict, disagreements in the logs, promotion."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Input, Static, TabbedContent

from app.compare.pairing import compare
from app.config.settings import CompareConfig, EndpointConfig, GateConfig, ModelConfig, Settings, UIConfig
from app.store import Store
from app.console.app import ModeldeckApp
from screens.model import ModelScreen
from tests.support.compare_traffic import MINUTE, T0, make_traffic, seed_store
from widgets.compare_panel import ComparePanel
from tests.tui.conftest import settle_screen as settle

NOW = T0 + 600 * MINUTE + MINUTE


@pytest.fixture
def traffic_db(tmp_path: Path) -> Path:
    path = tmp_path / "compare.db"
    rows, _ = make_traffic(3000, seed=12, unpaired_a=300)
    with Store.open(path) as store:
        seed_store(store, rows)
    return path


@pytest.fixture
def endpoint(traffic_db: Path):
    from app.demo.endpoint import start_demo_endpoint

    with start_demo_endpoint(traffic_db) as handle:
        yield handle


def _app(db: Path, endpoint, **gates: object) -> ModeldeckApp:
    model = ModelConfig(endpoint=EndpointConfig(kind="http", url=endpoint.model_url("m")),
                        compare=CompareConfig(window="1d", score_tolerance=0.1),
                        gates=GateConfig(**gates) if gates else None)
    settings = Settings(ui=UIConfig(refresh_s=600), models={"m": model})
    return ModeldeckApp(db, settings, clock=lambda: NOW)


def _text(app, selector: str) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(selector, Static).render())


async def _open_compare(pilot) -> ComparePanel:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("enter")  # the only model
    await settle(pilot)
    assert isinstance(pilot.app.screen, ModelScreen)
    await pilot.press("5")
    await settle(pilot, until=lambda: pilot.app.screen.query_one(ComparePanel).view is not None)
    assert pilot.app.screen.query_one(TabbedContent).active == "compare"
    panel = pilot.app.screen.query_one(ComparePanel)
    assert panel.has_focus
    return panel


async def test_compare_tab_shows_the_comparison_and_failing_gates(traffic_db: Path, endpoint) -> None:
    app = _app(traffic_db, endpoint, min_paired=1000, min_agreement=0.999)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await _open_compare(pilot)
        with Store.open(traffic_db) as store:
            expected = compare(store, "m", "v1", "v2", NOW - 86_400_000, NOW,
                               config=CompareConfig(score_tolerance=0.1))
        assert panel.view is not None and panel.view.comparison.paired == expected.paired == 3000
        head = _text(app, "#compare-head")
        assert "v1 champion vs v2" in head and "3,000 paired" in head
        assert f"agreement {expected.agreement * 100:.2f}%" in head
        gates = _text(app, "#compare-gates")
        assert "FAIL" in gates and "promotion gates 1/2 hold" in gates and "✗ agreement" in gates

        await pilot.press("L")  # the disagreements, one key away
        await settle(pilot)
        assert type(app.screen).__name__ == "LogsScreen"
        assert "differs:v1" in app.screen.query_text and "version:v2" in app.screen.query_text


async def test_promote_needs_the_typed_name_and_an_override_when_gates_fail(traffic_db: Path, endpoint) -> None:
    app = _app(traffic_db, endpoint, min_agreement=0.999)
    async with app.run_test(size=(100, 40)) as pilot:
        await _open_compare(pilot)
        await pilot.press("P")
        await settle(pilot)
        modal = app.screen
        assert type(modal).__name__ == "PromoteScreen"
        go = modal.query_one("#pr-go", Button)
        assert modal.query_one("#pr-cancel", Button).has_focus and go.disabled
        modal.query_one("#pr-reason", Input).value = "v2 is better on labelled traffic"
        modal.query_one("#pr-confirm", Input).value = "m"
        await pilot.pause()
        assert go.disabled  # the gates fail: no promotion without an override reason
        modal.query_one("#pr-override", Input).value = "agreement gate set before the new threshold"
        await pilot.pause()
        assert not go.disabled
        go.press()
        await settle(pilot, until=lambda: modal.outcome is not None)
        assert "SUCCEEDED" in str(modal.query_one("#pr-outcome", Static).render())
    assert endpoint.state.models["m"].active == "v2"
    with Store.open(traffic_db) as store:
        done = store.audit.entries("m")[0]
        assert (done.action, done.outcome) == ("promote", "succeeded")
        assert done.detail["gates"]["override"] == "agreement gate set before the new threshold"
        assert store.registry.active_version("m").version == "v2"


async def test_promote_modal_at_80x24_opens_at_its_top_with_cancel_focused(traffic_db: Path, endpoint) -> None:
    app = _app(traffic_db, endpoint, min_agreement=0.999, min_paired=10, max_p95_latency_ratio=1.5,
               max_error_rate_increase=0.01, min_labels=10, max_quality_drop=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_compare(pilot)
        await pilot.press("P")
        await settle(pilot)
        await pilot.pause()
        modal = app.screen
        assert type(modal).__name__ == "PromoteScreen"
        box = modal.query_one("#promote-box")
        assert box.max_scroll_y > 0  # the box does not fit at 80x24: what shows first matters
        assert modal.query_one("#pr-cancel", Button).has_focus
        # The title and the gate verdict are on screen, not scrolled away towards Cancel.
        assert box.scroll_y == 0
        verdict = modal.query_one("#pr-verdict", Static)
        assert verdict.region.y >= box.content_region.y and "FAIL" in str(verdict.render())


async def test_nothing_to_compare_shows_only_the_reason_at_80x24(tmp_path: Path) -> None:
    # A model with no champion yet: the reason fits the tab, with no empty chart frames to scroll past.
    path = tmp_path / "empty.db"
    Store.open(path).close()
    app = ModeldeckApp(path, Settings(ui=UIConfig(refresh_s=600), models={"m": ModelConfig()}), clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = await _open_compare(pilot)
        assert "in the store to compare" in _text(app, "#compare-head")
        assert panel.max_scroll_y == 0 and not panel.show_vertical_scrollbar
        assert not any(chart.display for chart in panel.query("PlotChart"))
