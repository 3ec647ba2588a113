"""The poller against the demo endpoint and misbehaving servers on 127.0.0.1: a hung, refusing,
500-ing, garbage-answering or killed endpoint shows down/degraded with the reason and the time of
the last good answer, and the others keep answering normally in the same round."""

from __future__ import annotations

import asyncio
import signal

from app.config.settings import EndpointConfig
from app.demo.endpoint import Behaviour
from app.endpoints import make_adapter
from app.endpoints.poller import Poller
from app.models import HealthState
from app.store import Store
from tests.support import servers


def _http(url: str, *, timeout_s: float = 0.5, model: str = "churn"):
    return make_adapter(model, EndpointConfig(kind="http", url=url, timeout_s=timeout_s))


async def test_healthy_endpoint_reports_version_and_live_metrics_into_the_store(seeded_store_path, demo):
    poller = Poller({"churn": _http(demo.model_url("churn"))}, store_path=seeded_store_path)
    try:
        first = (await poller.poll_once())["churn"]
        assert first.health.state is HealthState.up and first.active_version == "v3"
        assert first.health.last_ok_at == first.health.checked_at
        await asyncio.sleep(0.5)
        second = (await poller.poll_once())["churn"]
        assert second.metrics.request_rate > 0
        assert 0.0 <= second.metrics.error_rate <= 1.0
        assert second.metrics.latency_ms["p50"] <= second.metrics.latency_ms["p99"]
    finally:
        await poller.aclose()
    with Store.open(seeded_store_path) as store:
        latest = store.metrics.latest("churn")
    assert {"request_rate", "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"} <= set(latest)


async def test_bad_endpoints_show_down_with_reasons_and_do_not_touch_the_good_one(seeded_store_path, demo):
    demo.state.models["fraud"].behaviour = Behaviour(status=500)
    with servers.hanging_server() as hung, servers.garbage_server() as garbage:
        refused = f"http://127.0.0.1:{servers.free_port()}"
        poller = Poller({
            "churn": _http(demo.model_url("churn")),
            "fraud": _http(demo.model_url("fraud"), model="fraud"),
            "hung": _http(hung, model="hung"),
            "refused": _http(refused, model="refused"),
            "garbage": _http(garbage, model="garbage"),
        })
        try:
            results = await poller.poll_once()
        finally:
            await poller.aclose()
    assert results["churn"].health.state is HealthState.up and results["churn"].active_version == "v3"
    assert results["fraud"].health.state is HealthState.down and "HTTP 500" in results["fraud"].health.reason
    assert results["hung"].health.state is HealthState.down
    assert "no answer within 0.5s" in results["hung"].health.reason
    assert results["refused"].health.state is HealthState.down
    assert "connection refused" in results["refused"].health.reason
    garbage_health = results["garbage"].health
    assert garbage_health.state is HealthState.degraded and "not the http protocol" in garbage_health.reason
    assert "\x1b" not in garbage_health.reason and "\x00" not in garbage_health.reason
    for name in ("fraud", "hung", "refused"):
        assert results[name].health.last_ok_at is None
        assert results[name].failures == 1


async def test_failing_endpoint_backs_off_and_keeps_the_last_good_time(seeded_store_path, demo):
    poller = Poller({"churn": _http(demo.model_url("churn"))}, intervals={"churn": 1.0})
    try:
        good = (await poller.poll_once())["churn"]
        assert good.next_poll_in_s == 1.0
        demo.state.models["churn"].behaviour = Behaviour(status=503)
        delays = []
        for _ in range(3):
            bad = (await poller.poll_once())["churn"]
            delays.append(bad.next_poll_in_s)
            assert bad.health.state is HealthState.down
            assert bad.health.last_ok_at == good.health.checked_at
        assert delays == [2.0, 4.0, 8.0]
        demo.state.models["churn"].behaviour = Behaviour()
        back = (await poller.poll_once())["churn"]
        assert back.health.state is HealthState.up and back.failures == 0 and back.next_poll_in_s == 1.0
    finally:
        await poller.aclose()


async def test_endpoint_process_killed_mid_poll_shows_down_and_the_poller_keeps_going(tmp_path, seeded_store_path,
                                                                                      demo):
    with servers.demo_endpoint_process(tmp_path, delay_s=1.0) as (proc, url):
        poller = Poller({"victim": _http(f"{url}/models/churn", timeout_s=5.0, model="churn"),
                         "churn": _http(demo.model_url("churn"))})
        try:
            first = await poller.poll_once()
            assert first["victim"].health.state is HealthState.up
            round_two = asyncio.ensure_future(poller.poll_once())
            await asyncio.sleep(0.4)  # the victim's requests are in flight (it answers after 1 s)
            proc.send_signal(signal.SIGKILL)
            results = await round_two
            victim = results["victim"].health
            assert victim.state is HealthState.down
            assert "connection" in victim.reason or "RemoteProtocolError" in victim.reason or "Read" in victim.reason
            assert victim.last_ok_at == first["victim"].health.checked_at
            assert results["churn"].health.state is HealthState.up
        finally:
            await poller.aclose()


async def test_run_loops_each_endpoint_on_its_own_schedule(seeded_store_path, demo):
    seen: list[tuple[str, str]] = []
    with servers.hanging_server() as hung:
        poller = Poller({"churn": _http(demo.model_url("churn")), "hung": _http(hung, timeout_s=2.0, model="hung")},
                        intervals={"churn": 0.1, "hung": 0.1},
                        on_result=lambda r: seen.append((r.model, r.health.state.value)))
        task = asyncio.ensure_future(poller.run())
        await asyncio.sleep(1.0)  # the hung endpoint's first poll is still waiting for its 2 s timeout
        poller.stop()
        await asyncio.wait_for(task, timeout=5)
        await poller.aclose()
    churn_polls = [s for m, s in seen if m == "churn"]
    assert len(churn_polls) >= 3 and set(churn_polls) == {"up"}


async def test_health_is_recorded_on_a_change_and_once_a_minute_so_the_past_can_show_it(seeded_store_path, demo):
    """Issue 16 item 6: the poll's outcome is kept (state and time), compactly: a row when the state
    changes, none for a repeat within HEALTH_EVERY_MS; an endpoint that went down is read back as down."""
    from app.store.metrics import HEALTH_CODES

    poller = Poller({"churn": _http(demo.model_url("churn"))}, store_path=seeded_store_path)
    try:
        up = (await poller.poll_once())["churn"]
        await poller.poll_once()  # the same state a moment later: nothing new stored
        demo.state.models["churn"].behaviour = Behaviour(status=500)
        down = (await poller.poll_once())["churn"]
    finally:
        await poller.aclose()
        demo.state.models["churn"].behaviour = Behaviour()
    assert up.health.state is HealthState.up and down.health.state is HealthState.down
    with Store.open(seeded_store_path) as store:
        then = store.metrics.health_at("churn", up.health.checked_at)
        now = store.metrics.health_at("churn", down.health.checked_at)
        before = store.metrics.health_at("churn", up.health.checked_at - 1)
    assert then is not None and then[:2] == (up.health.checked_at, HEALTH_CODES["up"])
    assert now is not None and now[1] == HEALTH_CODES["down"] and now[2] == up.health.checked_at  # last good
    assert before is None
