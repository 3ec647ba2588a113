"""The drift screen on a store with a known drift episode: the drifted feature sorts first, charts draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.baseline import compute_baseline
from app.models import ModelInfo, Stage, Version
from app.store import Store
from screens.drift import DriftScreen
from tests.integration.test_drift_windows import rows_for
from tests.tui.conftest import make_app, settle
from tests.tui.fixed_store import FIXED_NOW, HOUR
from widgets.plot_chart import PlotChart


@pytest.fixture
def drift_db(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    path = tmp_path / "drift.db"
    with Store.open(path) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml", created_at=FIXED_NOW - 30 * 24 * HOUR))
        store.registry.upsert_version(Version(model="fraud", version="v1", stage=Stage.champion,
                                              created_at=FIXED_NOW - 20 * 24 * HOUR))
        amounts = rng.normal(100, 10, 3000)
        for feature, values in (("amount", amounts), ("colour", rng.choice(["red", "blue"], 3000).tolist()),
                                ("__prediction__", amounts / 200)):
            store.baselines.put(compute_baseline(values, model="fraud", version="v1", feature=feature))
        for hours_ago in range(6, 0, -1):
            shift = 30.0 if hours_ago <= 2 else 0.0  # the episode: the last two hours
            start = FIXED_NOW - hours_ago * HOUR
            store.predictions.append(rows_for("fraud", "v1", start, rng.normal(100 + shift, 10, 600),
                                              rng.choice(["red", "blue"], 600).tolist(), f"h{hours_ago}",
                                              spacing=HOUR // 601))
    return path


def _chart_text(app, chart_id: str) -> str:  # type: ignore[no-untyped-def]
    chart = app.screen.query_one(f"#{chart_id}", PlotChart)
    return str(chart.render())


async def test_drifted_feature_sorts_first_and_charts_draw(drift_db: Path) -> None:
    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        await pilot.pause(1.2)  # the charts draw at most once a second
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen)
        table = screen.query_one("#drift-table")
        keys = [row.value for row in table.rows]
        assert keys[0] == "amount" and keys[-1] == "__prediction__"
        first = table.get_row_at(0)
        assert first[4].plain == "DRIFT" and table.get_row_at(1)[4].plain == "ok"
        assert len(first[6]) == 5  # a block per closed window: the last hour has not settled yet
        title = str(screen.query_one("#drift-title").render())
        assert "DATASET DRIFT" in title and "1/2 drifted" in title
        metric = screen.query_one("#metric-chart", PlotChart)
        hist = screen.query_one("#hist-chart", PlotChart)
        assert metric.draws >= 1 and "amount" in metric.spec.title and metric.spec.threshold == 0.1
        assert hist.spec is not None and "baseline" in hist.spec.title and len(hist.spec.labels) == 8
        # Moving to the next feature shows its series.
        await pilot.press("j")
        await settle(pilot)
        assert "colour" in metric.spec.title


async def test_key_d_opens_drift_from_the_model_screen(drift_db: Path) -> None:
    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_model("fraud")
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen) and app.screen.model == "fraud"
        assert app.screen.query_one("#drift-table").row_count == 3
        await pilot.press("w")  # day windows: today's has not closed yet, so there is nothing to show
        await settle(pilot)
        assert app.screen.query_one("#drift-table").row_count == 0
        assert "1d windows" in str(app.screen.query_one("#drift-title").render())
        assert "no drift windows yet" in str(app.screen.query_one("#drift-status").render())


async def test_key_d_on_the_fleet_opens_the_highlighted_models_drift(drift_db: Path) -> None:
    from widgets.fleet_table import FleetTable

    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(FleetTable).current_model == "fraud"
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen) and app.screen.model == "fraud"
