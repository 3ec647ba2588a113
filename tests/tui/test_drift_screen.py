"""The drift screen on a store with a known drift episode: the drifted feature sorts first, charts draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.drift.baselines import compute_baseline
from app.models import ModelInfo, Stage, Version
from app.store import Store
from screens.drift import DriftScreen
from tests.support.drift_rows import rows_for
from tests.tui.conftest import make_app, settle, settle_superseded
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
                                ("__prediction__", amounts / 100)):  # the log's score is amount / 100
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
        # The drifted rows first, the prediction (its score is amount / 100) sorted by its drift like a feature.
        assert set(keys[:2]) == {"amount", "__prediction__"} and keys[-1] == "colour"
        first = table.get_row_at(0)
        assert first[4].plain == "DRIFT" and table.get_row_at(1)[4].plain == "DRIFT"
        assert table.get_row_at(2)[4].plain == "ok"
        assert first[6].plain == "600"  # n: the window's current rows
        assert len(first[7]) == 5  # a block per closed window: the last hour has not settled yet
        title = str(screen.query_one("#drift-title").render())
        assert "DATASET DRIFT 1/2" in title  # the verdict first: a cut title never loses it
        metric = screen.query_one("#metric-chart", PlotChart)
        hist = screen.query_one("#hist-chart", PlotChart)
        assert metric.draws >= 1 and metric.spec.threshold == 0.1
        # Since when it drifts: the first window of the current run (the episode's first closed hour).
        assert f" · since {screen._label()(FIXED_NOW - 2 * HOUR)} (1w) · " in metric.spec.title
        # The threshold is named in a legend line with its own glyph, not by colour.
        assert "─ threshold 0.100" in str(metric.render())
        assert hist.spec is not None and "baseline" in hist.spec.title and len(hist.spec.labels) == 8
        assert "▒ baseline  █ current window" in str(hist.render())  # which bar is which, without colour
        # Moving to the last feature shows its series.
        await pilot.press("j", "j")
        await settle(pilot)
        assert "colour" in metric.spec.title and " · since " not in metric.spec.title
        # At 80 columns the right-hand chart is the histogram; `p` swaps in the prediction over time.
        prediction = screen.query_one("#pred-chart", PlotChart)
        assert hist.display and not prediction.display
        await pilot.press("p")
        await settle(pilot)
        assert prediction.display and not hist.display
        spec = prediction.spec
        assert spec is not None and "p10/p50/p90" in spec.title
        # Six hours of traffic (the open hour included); the episode moves the score's median up by 0.3.
        assert len(spec.values) == 6 and spec.values[-1] - spec.values[0] == pytest.approx(0.3, abs=0.05)
        assert spec.threshold == pytest.approx(1.0, abs=0.02)  # the baseline's median score
        await pilot.pause(1.1)
        await settle(pilot)
        drawn = str(prediction.render())
        assert prediction.draws >= 1 and "p10/p50/p90" in drawn and "─ baseline median" in drawn
        assert "(red" not in spec.title  # nothing said by colour alone


async def test_wide_terminals_show_all_three_charts(drift_db: Path) -> None:
    app = make_app(drift_db)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        charts = [app.screen.query_one(f"#{name}", PlotChart) for name in ("metric-chart", "hist-chart", "pred-chart")]
        assert all(chart.display for chart in charts)
        await pilot.press("p")  # nothing to swap: both are shown
        assert all(chart.display for chart in charts)


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
        # The breadcrumb: where esc goes back to, the model named once.
        assert str(app.screen.query_one("#drift-title").render()).startswith("fleet › fraud › drift")
        await pilot.press("w")  # day windows: today's has not closed yet, so there is nothing to show
        await settle(pilot)
        assert app.screen.query_one("#drift-table").row_count == 0
        assert "1d windows" in str(app.screen.query_one("#drift-title").render())
        assert "no drift windows yet" in str(app.screen.query_one("#drift-status").render())
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ModelScreen"


async def test_key_d_on_the_fleet_opens_the_highlighted_models_drift(drift_db: Path) -> None:
    from widgets.fleet_table import FleetTable

    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(FleetTable).current_model == "fraud"
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen) and app.screen.model == "fraud"


async def test_charts_coalesce_updates_to_one_draw_a_second_built_off_the_ui_thread(monkeypatch) -> None:
    import threading

    from textual.app import App

    import widgets.plot_chart as plot_chart
    from widgets.plot_chart import LineChart

    clock = {"now": 1000.0}  # the widget's clock, moved by hand: no sleeping, no timing in the test
    monkeypatch.setattr(plot_chart, "_clock", lambda: clock["now"])
    threads = []
    real_render = plot_chart.render_chart

    def render(spec, width, height):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return real_render(spec, width, height)

    monkeypatch.setattr(plot_chart, "render_chart", render)

    class One(App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield PlotChart(id="chart")

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # laid out
        chart = app.query_one(PlotChart)
        specs = [LineChart(f"series {i}", ("a", "b"), (0.0, float(i)), 0.5) for i in range(5)]
        chart.show(specs[0])
        await settle(pilot)
        assert chart.draws == 1 and "series 0" in str(chart.render())  # the first one at once
        for spec in specs[1:]:
            chart.show(spec)
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        assert chart.draws == 1  # within the same second: nothing more, only marked dirty
        clock["now"] += 1.0
        chart._tick()  # what the widget's interval does
        await settle(pilot)
        assert chart.draws == 2 and "series 4" in str(chart.render())  # the latest data, at the new size
        chart._tick()
        await settle(pilot)
        assert chart.draws == 2  # nothing new: no redraw
    # Built in a worker thread: the UI thread keeps its turns while plotext works.
    assert threads and all(t is not threading.main_thread() for t in threads)


async def test_the_console_computes_windows_and_fires_alerts_in_the_background(drift_db: Path) -> None:
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    settings = Settings(ui=UIConfig(refresh_s=0.2), models={"fraud": {"alerts": [
        {"metric": "feature_drift:amount", "severity": "critical"}]}})
    app = ModeldeckApp(drift_db, settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):  # bounded: the monitor runs every 0.2 s; stop as soon as it has fired
            await pilot.pause(0.1)
            with Store.open(drift_db) as store:
                firing = store.alerts.firing("fraud")
            if firing:
                break
        await settle_superseded(pilot)  # reads every 0.2 s: a newer fleet read may cancel an older one
        notes = [n.message for n in app._notifications]  # what the operator saw pop up
    assert [(a.rule, a.owner) for a in firing] == [("feature_drift:amount", "risk-ml")]  # the registry's owner
    assert any("firing" in note and "owner risk-ml" in note for note in notes)
    with Store.open(drift_db) as store:
        assert {p.window_start for p in store.drift.latest_window("fraud")} == {FIXED_NOW - 2 * HOUR}


async def test_alerts_fired_by_one_pass_pop_up_as_one_short_toast(drift_db: Path) -> None:
    # Two rules fire in the same pass (the feature and the prediction drift together): one toast names both,
    # critical first, and leaves after 8 s rather than two toasts covering half the fleet at 80 columns for 15 s.
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    settings = Settings(ui=UIConfig(refresh_s=0.2), models={"fraud": {"alerts": [
        {"metric": "prediction_drift", "severity": "warning"},
        {"metric": "feature_drift:amount", "severity": "critical"}]}})
    app = ModeldeckApp(drift_db, settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):  # bounded: the monitor runs every 0.2 s; stop as soon as it has fired
            await pilot.pause(0.1)
            toasts = [n for n in app._notifications if n.title and "alert" in n.title]
            if toasts:
                break
        await pilot.pause(0.3)  # a second toast from the same pass would have been posted by now
        toasts = [n for n in app._notifications if n.title and "alert" in n.title]
    assert len(toasts) == 1
    toast = toasts[0]
    assert toast.title == "2 alert changes" and toast.severity == "error" and toast.timeout == 8
    lines = toast.message.splitlines()
    assert lines[0].startswith("firing: fraud feature_drift:amount") and "critical" in lines[0]
    assert lines[1].startswith("firing: fraud prediction_drift") and "warning" in lines[1]


async def test_hostile_feature_names_stay_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    db = tmp_path / "hostile.db"
    hostile = "\x1b[2J[bold red]evil[/]"
    with Store.open(db) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml", created_at=FIXED_NOW - 30 * 24 * HOUR))
        store.baselines.put(compute_baseline(rng.normal(0, 1, 2000), model="fraud", version="v1", feature=hostile))
        import orjson

        from app.store.predictions import PredictionRow

        start = FIXED_NOW - 3 * HOUR
        store.predictions.append([
            PredictionRow(ts=start + i * 10_000, model="fraud", version="v1", request_id=f"r{i}", entity_id=None,
                          prediction=None, score=None, label=None, latency_ms=1.0, status="ok", error=None,
                          features=orjson.dumps({hostile: float(v)}).decode(), context=None, fts_text="")
            for i, v in enumerate(rng.normal(2, 1, 300))])
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        await pilot.pause(1.1)
        await settle(pilot)
        cell = app.screen.query_one("#drift-table").get_row_at(0)[0]
        # Shown as text, escape made visible, markup not interpreted, cut to the column.
        assert "\x1b" not in cell.plain and cell.plain.startswith("\\x1b[2J[bold") and not cell.spans
        chart = app.screen.query_one("#metric-chart", PlotChart)
        drawn = chart.render()
        assert chart.draws >= 1 and "[bold red]evil" in drawn.plain and "\x1b" not in drawn.plain


def _few_rows_db(path: Path) -> Path:
    """Four normal hours of 600 rows, then a window with 3 rows far off the baseline (the log just ended)."""
    rng = np.random.default_rng(11)
    with Store.open(path) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml", created_at=FIXED_NOW - 30 * 24 * HOUR))
        store.registry.upsert_version(Version(model="fraud", version="v1", stage=Stage.champion,
                                              created_at=FIXED_NOW - 20 * 24 * HOUR))
        amounts = rng.normal(100, 10, 3000)
        for feature, values in (("amount", amounts), ("colour", rng.choice(["red", "blue"], 3000).tolist()),
                                ("__prediction__", amounts / 100)):
            store.baselines.put(compute_baseline(values, model="fraud", version="v1", feature=feature))
        for hours_ago in range(6, 2, -1):
            store.predictions.append(rows_for("fraud", "v1", FIXED_NOW - hours_ago * HOUR, rng.normal(100, 10, 600),
                                              rng.choice(["red", "blue"], 600).tolist(), f"h{hours_ago}",
                                              spacing=HOUR // 601))
        store.predictions.append(rows_for("fraud", "v1", FIXED_NOW - 2 * HOUR, [190.0, 195.0, 200.0],
                                          ["green", "green", "green"], "tail", spacing=1000))
    return path


async def _open_drift(db: Path, min_rows: int | None) -> tuple:  # type: ignore[type-arg]
    """The drift screen's title, status, state and n cells, then the alerts firing after it looked."""
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    model: dict = {"alerts": [{"metric": "feature_drift:amount", "severity": "critical"}]}
    if min_rows is not None:
        model["drift_min_rows"] = min_rows
    settings = Settings(ui=UIConfig(refresh_s=600), models={"fraud": model})
    app = ModeldeckApp(db, settings, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#drift-table")
        title = str(screen.query_one("#drift-title").render())
        status = str(screen.query_one("#drift-status").render())
        states = [table.get_row_at(i)[4].plain for i in range(table.row_count)]
        counts = [table.get_row_at(i)[6].plain for i in range(table.row_count)]
        await app.workers.wait_for_complete()
    with Store.open(db) as store:
        firing = store.alerts.firing("fraud")
    return title, status, states, counts, firing


async def test_a_window_with_too_few_rows_is_not_drift_and_fires_nothing(tmp_path: Path) -> None:
    db = _few_rows_db(tmp_path / "few.db")
    title, status, states, counts, firing = await _open_drift(db, None)
    # The 10:00 window holds 3 rows: the verdict is the 09:00 window's, and the screen says why.
    assert "no dataset drift" in title and "DATASET DRIFT" not in title and "09:00Z" in title
    assert "10:00 window: too few rows (3), not judged" in status
    assert states == ["ok", "ok", "ok"] and counts == ["600", "600", "600"]
    assert firing == []  # the amount rule does not fire on 3 rows


async def test_lowering_drift_min_rows_judges_the_small_window(tmp_path: Path) -> None:
    db = _few_rows_db(tmp_path / "few.db")
    title, status, states, counts, firing = await _open_drift(db, 3)
    assert "DATASET DRIFT" in title and "10:00Z" in title and states[0] == "DRIFT" and counts[0] == "3"
    assert [a.rule for a in firing] == ["feature_drift:amount"]


async def test_no_window_with_enough_rows_shows_too_few_rows(tmp_path: Path) -> None:
    db = _few_rows_db(tmp_path / "few.db")
    title, status, states, counts, firing = await _open_drift(db, 1000)
    assert "too few rows (3)" in title and "DRIFT" not in title
    assert set(states) == {"few"} and "n=3 < 1000 rows: not judged" in status and firing == []


async def test_stored_windows_paint_at_once_and_the_missing_ones_follow_from_a_worker(drift_db: Path) -> None:
    """Issue 16: the screen shows what the store holds (windows, "since") before computing, says how many
    windows are left to compute, and the chart fills in when the worker is done."""
    from app.drift.windows import update

    with Store.open(drift_db) as store:  # the older windows were computed by an earlier look
        update(store, "fraud", window_ms=HOUR, now=FIXED_NOW - 3 * HOUR)
        stored_before = len(store.drift.computed_windows("fraud"))
    assert stored_before >= 2
    seen: list[tuple[int, bool, int, str]] = []
    # The drift screen's own computing is what is watched: the console's first monitor pass would
    # compute the missing windows before the screen opens (tests/tui/test_first_monitor_pass.py).
    app = make_app(drift_db, monitor_at_start=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        class Watched(DriftScreen):
            """Records what each result showed (the status line right after it was drawn)."""

            def on_drift_screen_loaded(self, message: DriftScreen.Loaded) -> None:
                super().on_drift_screen_loaded(message)
                status = str(self.query_one("#drift-status").render())
                seen.append((len(message.view.rows[0].starts) if message.view.rows else 0,
                             message.view.computing, message.view.pending, status))

        app.push_screen(Watched("fraud"))
        await settle(pilot)
        await settle(pilot)
    first, last = seen[0], seen[-1]
    # First paint: the stored windows, and how many are being computed.
    assert first[0] == stored_before and first[1] and first[2] >= 2, seen
    assert f"computing {first[2]} new windows…" in first[3], seen
    # Then the worker's result: every closed window, nothing left to compute.
    assert last[0] == stored_before + first[2] and not last[1], seen
    assert f"{first[2]} new window(s)" in last[3] or "new window(s)" in last[3], seen


async def test_the_chart_follows_the_highlighted_feature_when_the_list_resorts(drift_db: Path) -> None:
    app = make_app(drift_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen) and screen.view is not None
        table = screen.query_one("#drift-table")
        await pilot.press("G")  # the last row: colour
        await settle(pilot)
        assert screen.selected == "colour"
        # The list re-sorts (a newer read puts colour first): the chart is still the highlighted row's.
        view = screen.view
        view.rows = [next(r for r in view.rows if r.feature == "colour"),
                     *[r for r in view.rows if r.feature != "colour"]]
        screen.post_message(DriftScreen.Loaded(view))
        await settle(pilot)
        highlighted = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        assert highlighted == screen.selected == "colour"
        await pilot.press("j")  # down one: amount or the prediction, and the chart goes with it
        await settle(pilot)
        highlighted = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        assert highlighted == screen.selected != "colour"
        assert str(screen.query_one("#metric-chart", PlotChart).spec.title).startswith(
            "prediction" if highlighted == "__prediction__" else highlighted)


async def test_in_the_past_only_windows_closed_by_then_show_and_nothing_is_computed(drift_db: Path) -> None:
    """Time travel: the drift screen is bounded by the time travelled to, and never writes."""
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp
    from app.drift.windows import update

    with Store.open(drift_db) as store:
        update(store, "fraud", window_ms=HOUR, now=FIXED_NOW - 3 * HOUR)  # windows closed 3 h ago are stored
        stored = store.drift.computed_windows("fraud")
        audit = store.audit.entries(None)
    at = FIXED_NOW - 4 * HOUR - 10 * 60_000
    app = ModeldeckApp(drift_db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: FIXED_NOW, at_ms=at)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(DriftScreen("fraud"))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DriftScreen) and screen.view is not None
        assert screen.view.rows and all(start + HOUR <= at for row in screen.view.rows for start in row.starts)
        assert screen.view.window_start + HOUR <= at and not screen.view.computing
        assert "as stood at" in str(screen.query_one("#drift-status").render())
        assert "viewing" in str(screen.query_one("#drift-title").render())
        screen.action_refresh()
        await settle(pilot)
    with Store.open(drift_db) as store:
        assert store.drift.computed_windows("fraud") == stored  # nothing computed while viewing the past
        assert store.audit.entries(None) == audit

