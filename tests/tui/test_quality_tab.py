"""The model screen's Quality tab (issue 17 item 2), driven by keys at 80x24 on a store built by ingest."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
from click.testing import CliRunner
from textual.widgets import Static, TabbedContent

from app.cli.main import main
from app.config.settings import Settings, UIConfig
from app.console.app import ModeldeckApp
from screens.model import ModelScreen
from widgets.fleet_table import FleetTable
from widgets.quality_panel import QualityPanel
from tests.tui.conftest import settle_screen as settle

DAY = 86_400_000
NOW = 1_790_000_000_000


def build(tmp_path: Path) -> Path:
    rng = random.Random(4)
    records = []
    for i in range(400):
        score = rng.random()
        records.append({"ts": NOW - (i % 4) * DAY - 1000 - i, "model": "fraud", "version": "v1",
                        "request_id": f"r{i}", "score": score, "prediction": int(score >= 0.5),
                        "label": int(rng.random() < score)})
        if i % 4 == 0:
            records.append({"kind": "outcome", "ts": NOW - (i % 4) * DAY, "model": "fraud", "request_id": f"r{i}",
                            "name": "chargeback_usd", "value": score * 40 + rng.random()})
    src = tmp_path / "logs.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    db = tmp_path / "q.db"
    assert CliRunner().invoke(main, ["--db", str(db), "ingest", str(src)]).exit_code == 0
    return db


async def open_quality_tab(pilot) -> None:  # type: ignore[no-untyped-def]
    """The fleet's first model, then its Quality tab (6), as an operator does, with bounded waits on what
    they would see first: on a busy machine the fleet's rows (and then the model screen) can arrive after
    the workers in view have finished."""
    app = pilot.app
    await settle(pilot, until=lambda: any(table.row_count for table in app.screen.query(FleetTable)))
    await pilot.press("enter")
    await settle(pilot, until=lambda: isinstance(app.screen, ModelScreen))
    assert isinstance(app.screen, ModelScreen)
    await pilot.press("6")
    await settle(pilot, until=lambda: app.screen.query_one(QualityPanel).report is not None)


async def test_key_6_shows_quality_with_intervals_outcomes_and_the_reliability_chart(tmp_path: Path) -> None:
    app = ModeldeckApp(build(tmp_path), Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_quality_tab(pilot)
        assert app.screen.query_one(TabbedContent).active == "quality"
        panel = app.screen.query_one(QualityPanel)
        assert panel.report is not None and panel.report.overall.labelled == 400
        summary = str(app.screen.query_one("#quality-summary", Static).render())
        assert "400 labelled answers" in summary and "ECE" in summary and "r(score, chargeback_usd) 1.00" in summary
        table = app.screen.query_one("#quality-table", Static)
        assert table.render() is not None and table.size.width <= 80
        await pilot.pause(1.2)  # the chart draws at most once a second
        chart = str(app.screen.query_one("#quality-reliability").render())
        assert "observed positive rate" in chart


async def test_the_quality_tab_shows_the_declared_success_criteria_met_and_missed(tmp_path: Path) -> None:
    """Issue 17: [models.NAME.success] on the model screen, judged over its window on the store's labels."""
    settings = Settings(ui=UIConfig(refresh_s=600),
                        models={"fraud": {"success": {"window": "7d", "min_auc": 0.6, "min_accuracy": 0.99}}})
    app = ModeldeckApp(build(tmp_path), settings, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_quality_tab(pilot)
        shown = str(app.screen.query_one("#quality-success", Static).render())
        assert "success criteria (7d): 1 of 2 met" in shown
        assert "MET          auc >= 0.6: " in shown and "on 400 labels" in shown
        assert "NOT MET      accuracy >= 0.99: " in shown


async def test_the_quality_tab_says_nothing_of_success_criteria_when_none_are_declared(tmp_path: Path) -> None:
    app = ModeldeckApp(build(tmp_path), Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_quality_tab(pilot)
        assert "success" not in str(app.screen.query_one("#quality-success", Static).render())
