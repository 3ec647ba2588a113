"""Endpoint health and live figures in the console: the poller runs on its own thread against real
HTTP servers on 127.0.0.1 (the demo endpoint, a refusing port) and the fleet and model screens show
what it saw, with the age of the check and the reason, while keys keep working."""

from __future__ import annotations

import re

import threading
import time

from textual.widgets import Static

from app.config.settings import EndpointConfig, ModelConfig, Settings, UIConfig
from app.endpoints.service import EndpointMonitor
from app.views.fleet import fleet_rows
from app.models import HealthState
from app.store import Store
from app.console.app import ModeldeckApp
from tests.support import servers
from tests.support.endpoint_settings import http_settings
from tests.tui.conftest import until
from widgets.endpoint_status import EndpointStatus
from widgets.fleet_table import FleetTable


def _settings(demo, refused_url: str) -> Settings:
    fast = {name: ModelConfig(endpoint=EndpointConfig(kind="http", url=demo.model_url(name), timeout_s=1,
                                                      poll_interval_s=0.3)) for name in demo.state.models}
    fast["fraud"] = ModelConfig(endpoint=EndpointConfig(kind="http", url=refused_url, timeout_s=1, poll_interval_s=0.3))
    return Settings(models=fast, ui=UIConfig(refresh_s=0.3))



def _row(app, name: str):  # type: ignore[no-untyped-def]
    return next((r for r in app.screen.rows if r.name == name), None)


async def test_fleet_and_model_screens_show_live_endpoint_state(demo_db, demo):
    refused = f"http://127.0.0.1:{servers.free_port()}"
    app = ModeldeckApp(demo_db, _settings(demo, refused))
    async with app.run_test(size=(100, 30)) as pilot:
        # Live figures need two scrapes; the fleet refreshes every 0.3 s from what the poller holds.
        await until(pilot, lambda: (r := _row(app, "churn")) is not None and r.live_metrics
                     and r.requests_per_min > 0, "live figures for churn")
        churn, fraud = _row(app, "churn"), _row(app, "fraud")
        assert churn.health is HealthState.up and churn.active_version == "v3"
        assert fraud.health is HealthState.down and "connection refused" in fraud.health_reason
        assert app.screen.query_one(FleetTable).shown_models[0] == "fraud"  # the outage sorts first
        # The highlighted model's problem, with the age of the check, is on the status line.
        table = app.screen.query_one(FleetTable)
        for _ in range(3):
            if table.current_model != "fraud":
                await pilot.press("k")
        assert table.current_model == "fraud"
        await until(pilot, lambda: "connection refused" in str(app.screen.query_one("#status", Static).render()),
                     "the reason on the status line")
        assert re.search(r"fraud down · \d+s ago", str(app.screen.query_one("#status", Static).render()))

        app.open_model("churn")
        await pilot.pause()
        line = app.screen.query_one(EndpointStatus)
        await until(pilot, lambda: "serving" in str(line.render()), "the model screen's endpoint line")
        text = str(line.render())
        # State plus the age of the check, never "up 0s" (which reads like uptime).
        assert re.match(r"endpoint http up · \d+s ago", text) and "serving v3" in text
        # The figures are the fleet's for the same model, from the same source and window, and say which.
        figures = app.screen.query_one("#figures", Static)
        await until(pilot, lambda: "endpoint metrics, last min" in str(figures.render()), "the figures line")

        # The version switch made elsewhere shows up on the next poll, without a key press.
        demo.state.models["churn"].active = "v1"
        await until(pilot, lambda: "serving v1" in str(line.render()), "the new version on the endpoint line")


async def test_a_hung_endpoint_never_delays_a_key_press(demo_db, demo):
    with servers.hanging_server() as hung:
        settings = http_settings(demo, timeout_s=3.0)
        settings.models["fraud"] = ModelConfig(endpoint=EndpointConfig(kind="http", url=hung, timeout_s=3.0))
        app = ModeldeckApp(demo_db, settings.model_copy(update={"ui": UIConfig(refresh_s=600)}))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: "churn" in app.live, "the first poll of churn")
            assert "fraud" not in app.live  # its poll is still waiting for the hung server
            app.open_model("churn")
            await pilot.pause()
            await pilot.press("4")
            await pilot.pause()
            assert app.screen.query_one("#tabs").active == "activity"  # keys are served meanwhile
            await until(pilot, lambda: "fraud" in app.live, "the hung poll to time out", timeout_s=8)
            assert "no answer within 3s" in app.live["fraud"].health.reason


def test_monitor_stops_promptly_and_closes_its_clients(demo_db, demo):
    settings = Settings(models={name: ModelConfig(endpoint=EndpointConfig(
        kind="http", url=demo.model_url(name), poll_interval_s=0.2)) for name in demo.state.models})
    monitor = EndpointMonitor(settings, demo_db)
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop.is_set,))
    thread.start()

    def rated() -> bool:  # a request rate needs a second scrape
        result = monitor.results.get("churn")
        return result is not None and result.metrics is not None and result.metrics.request_rate is not None

    deadline = time.monotonic() + 10
    while not rated() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rated() and "fraud" in monitor.results
    started = time.monotonic()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 3  # a quit is not held up by the poll interval
    assert monitor.samples_error is None
    with Store.open(demo_db) as store:
        assert "request_rate" in store.metrics.latest("churn")  # samples written from its own thread


def test_fleet_rows_prefer_the_endpoints_figures_over_the_log(demo_db, demo):
    from app.endpoints.poller import PollResult
    from app.endpoints.protocol import EndpointMetrics
    from app.models import Health

    live = {"churn": PollResult(model="churn", kind="http", health=Health(state=HealthState.up), active_version="v2",
                                metrics=EndpointMetrics(request_rate=2.0, error_rate=0.5, latency_ms={"p95": 42.0},
                                                        window_requests=120))}
    with Store.open(demo_db) as store:
        rows = {r.name: r for r in fleet_rows(store, Settings(), 1_700_000_000_000, live=live)}
    assert rows["churn"].live_metrics and rows["churn"].requests_per_min == 120.0
    assert rows["churn"].error_rate == 0.5 and rows["churn"].p95_latency_ms == 42.0
    assert rows["churn"].active_version == "v2"  # what the endpoint serves, not what the store last recorded
    assert not rows["fraud"].live_metrics and rows["fraud"].active_version == "v2"


async def test_the_first_answer_of_an_endpoint_shows_without_waiting_for_the_next_refresh(demo_db, demo):
    refused = f"http://127.0.0.1:{servers.free_port()}"
    settings = _settings(demo, refused)
    settings.ui.refresh_s = 60.0  # the fleet's own re-read would come a minute later
    app = ModeldeckApp(demo_db, settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: (r := _row(app, "churn")) is not None and r.health is HealthState.up
                     and _row(app, "fraud").health is HealthState.down, "health from the first poll", timeout_s=8)
        assert app.screen.query_one(FleetTable).shown_models[0] == "fraud"
