"""Polling 200 endpoints, and the rollback's wall time against real servers.

1. Poll rounds over N demo endpoints (default 200) on 127.0.0.1 where some hang past the timeout,
   some answer slowly within it, some refuse connections and some answer 500. Peer measured in the
   same run: the floor, i.e. the slowest single endpoint's bound (its timeout + the round guard);
   the ratio round / floor says what concurrency costs on top. Also the asyncio event-loop lag
   while polling (a 10 ms ticker on the same loop) against the same ticker on an idle loop.
2. The rollback's wall time from confirmation to verified outcome, against the demo endpoint and,
   when the .servers venv exists, real MLflow, MLServer and TorchServe (seed's bar: 5 minutes).

    python bench/poll.py                     # 200 endpoints, 3 rounds, every real server
    python bench/poll.py --endpoints 1000 --rounds 5 --no-servers
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config.settings import EndpointConfig, ModelConfig, Settings  # noqa: E402
from app.demo.endpoint import Behaviour, DemoState, start_demo_endpoint  # noqa: E402
from app.endpoints import make_adapter  # noqa: E402
from app.endpoints.poller import Poller  # noqa: E402

TIMEOUT_S = 1.0
TICK_S = 0.010


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags.append(time.perf_counter() - start - TICK_S)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _idle_lag(seconds: float) -> list[float]:
    stop, lags = asyncio.Event(), []
    task = asyncio.ensure_future(_ticker(stop, lags))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return lags


def _fleet(n: int) -> tuple[list[str], dict[str, str], dict[str, Behaviour]]:
    names = [f"m{i:04d}" for i in range(n)]
    kinds: dict[str, str] = {}
    behaviour: dict[str, Behaviour] = {}
    for i, name in enumerate(names):
        if i % 20 == 1:
            behaviour[name], kinds[name] = Behaviour(delay_s=5.0), "hangs"  # past the timeout
        elif i % 20 == 2:
            behaviour[name], kinds[name] = Behaviour(delay_s=0.4), "slow"  # within it
        elif i % 20 == 3:
            behaviour[name], kinds[name] = Behaviour(status=500), "500"
        elif i % 20 == 4:
            kinds[name] = "refused"
        else:
            kinds[name] = "healthy"
    return names, kinds, behaviour


def _poll_rounds_in_thread(poller: Poller, rounds: int, walls: list[float], out: dict) -> None:
    """What the console does: the poller on an event loop of its own thread."""
    async def go() -> None:
        for _ in range(rounds):
            t0 = time.perf_counter()
            out.update(await poller.poll_once())
            walls.append(time.perf_counter() - t0)
        await poller.aclose()  # its clients belong to this loop
    asyncio.run(go())


async def _console_lag(names: list[str], kinds: dict[str, str], urls: dict[str, str], closed: str,
                       store_path: Path) -> list[float]:
    import threading

    from app.endpoints.service import EndpointMonitor

    settings = Settings(models={name: ModelConfig(endpoint=EndpointConfig(
        kind="http", url=f"{closed if kinds[name] == 'refused' else urls[name]}/models/{name}", timeout_s=TIMEOUT_S,
        poll_interval_s=2.0)) for name in names})
    monitor = EndpointMonitor(settings, store_path)
    done = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(done.is_set,))
    stop, lags = asyncio.Event(), []
    ticker = asyncio.ensure_future(_ticker(stop, lags))
    thread.start()
    await asyncio.sleep(8.0)
    done.set()
    while thread.is_alive():
        await asyncio.sleep(0.05)
    stop.set()
    await ticker
    return lags


async def bench_polling(n: int, rounds: int, store_path: Path, processes: int) -> None:
    import contextlib
    import threading

    from app.store import Store
    from tests.support.servers import demo_fleet_process, free_port

    Store.open(store_path).close()
    names, kinds, behaviour = _fleet(n)
    # The endpoints run in processes of their own (several: one Python HTTP server cannot answer
    # 600 requests a second on a shared core): in this one, their threads would fight the poller's
    # event loop for the GIL and the lag measured would be the server's, not the poller's.
    closed = f"http://127.0.0.1:{free_port()}"
    with contextlib.ExitStack() as stack:
        parts = [names[i::processes] for i in range(processes)]
        urls = {}
        for i, part in enumerate(parts):
            folder = Path(store_path).parent / f"fleet{i}"
            folder.mkdir()
            url = stack.enter_context(demo_fleet_process(folder, part, {m: behaviour[m].__dict__
                                                                       for m in part if m in behaviour}))
            urls.update({m: url for m in part})

        def adapters() -> dict:
            return {name: make_adapter(name, EndpointConfig(
                kind="http", url=f"{closed if kinds[name] == 'refused' else urls[name]}/models/{name}",
                timeout_s=TIMEOUT_S)) for name in names}

        floor = TIMEOUT_S  # the slowest single endpoint (one that hangs) costs its timeout, whatever we do
        idle = await _idle_lag(2.0)

        # 1. As the console runs it: poller thread, UI loop (the ticker) in this thread.
        poller = Poller(adapters(), store_path=store_path)
        walls: list[float] = []
        results: dict = {}
        stop, lags = asyncio.Event(), []
        ticker = asyncio.ensure_future(_ticker(stop, lags))
        thread = threading.Thread(target=_poll_rounds_in_thread, args=(poller, rounds, walls, results))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        stop.set()
        await ticker

        # 2. The peer: the same poller on the UI's own loop (what the console must not do).
        poller = Poller(adapters(), store_path=store_path)
        same_walls, same_lags = [], []
        try:
            for _ in range(rounds):
                stop, round_lags = asyncio.Event(), []
                ticker = asyncio.ensure_future(_ticker(stop, round_lags))
                t0 = time.perf_counter()
                await poller.poll_once()
                same_walls.append(time.perf_counter() - t0)
                stop.set()
                await ticker
                same_lags.extend(round_lags)
        finally:
            await poller.aclose()
        # 3. The console exactly: EndpointMonitor (continuous, staggered loops, 2 s interval) on its
        #    thread for 8 s, the UI loop's lag measured meanwhile.
        console_lags = await _console_lag(names, kinds, urls, closed, store_path)
    states: dict[str, dict[str, int]] = {}
    for name, result in results.items():
        bucket = states.setdefault(kinds[name], {})
        bucket[result.health.state.value] = bucket.get(result.health.state.value, 0) + 1
    counts = {k: sum(1 for v in kinds.values() if v == k) for k in sorted(set(kinds.values()))}
    print(f"poll: {n} endpoints {counts} in {processes} server processes, timeout {TIMEOUT_S:g}s, {rounds} rounds")
    print(f"  last round's health by kind: {states}")
    sample = next((r.health.reason for r in results.values() if r.health.state.value != "up"), "")
    print(f"  e.g. {sample}")
    median = statistics.median(walls)
    print(f"  round wall time: median {median:.3f}s, max {max(walls):.3f}s  |  floor (slowest single endpoint's "
          f"bound) {floor:.3f}s  |  ratio {median / floor:.2f}x")
    print(f"  UI event-loop lag, poller on its own thread (the console): p50 {_pct(lags, .5) * 1000:.1f} ms, "
          f"p99 {_pct(lags, .99) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms")
    print(f"    peer, poller on the UI loop: p50 {_pct(same_lags, .5) * 1000:.1f} ms, p99 "
          f"{_pct(same_lags, .99) * 1000:.1f} ms, max {max(same_lags) * 1000:.1f} ms (round median "
          f"{statistics.median(same_walls):.3f}s)  |  ratio of p99 {_pct(same_lags, .99) / max(_pct(lags, .99), 1e-4):.1f}x")
    print(f"  UI event-loop lag, the console's EndpointMonitor (2 s interval, 8 s): p50 "
          f"{_pct(console_lags, .5) * 1000:.1f} ms, p99 {_pct(console_lags, .99) * 1000:.1f} ms, max "
          f"{max(console_lags) * 1000:.1f} ms")
    print(f"    idle loop: p99 {_pct(idle, .99) * 1000:.1f} ms, max {max(idle) * 1000:.1f} ms")


async def _time_rollbacks(label: str, settings: Settings, model: str, targets: list[str], store_path: Path) -> None:
    from app.rollback.actions import rollback
    from app.store import Store

    times, statuses = [], []
    with Store.open(store_path) as store:
        for target in targets:
            started = time.monotonic()
            outcome = await rollback(store, settings, model, target, "bench", started=started)
            times.append(time.monotonic() - started)
            statuses.append(outcome.status)
    print(f"  {label:<10} {len(times)} rollbacks {sorted(set(statuses))}: median {statistics.median(times):.3f}s, "
          f"max {max(times):.3f}s  |  seed's bar 300s  |  ratio {300 / statistics.median(times):.0f}x faster")


async def bench_rollbacks(tmp: Path, use_servers: bool) -> None:
    from tests.support import servers

    print("rollback: confirmation -> verified outcome")
    handle = start_demo_endpoint(state=DemoState.synthetic(["demo"]))
    try:
        settings = Settings(models={"demo": ModelConfig(endpoint=EndpointConfig(kind="http",
                                                                                url=handle.model_url("demo")))})
        await _time_rollbacks("demo http", settings, "demo", ["v1", "v2"] * 3, tmp / "demo.db")
    finally:
        handle.stop()
    if not use_servers or servers.SERVERS_MISSING:
        print(f"  real servers skipped: {servers.SERVERS_MISSING or '--no-servers'}")
        return
    with servers.mlflow_server(tmp / "mlflow") as mlflow:
        mlflow.register("bench", 2)
        mlflow.set_alias("bench", "champion", "2")
        settings = Settings(models={"bench": ModelConfig(registry=EndpointConfig(kind="mlflow", url=mlflow.url))})
        await _time_rollbacks("mlflow", settings, "bench", ["1", "2"] * 3, tmp / "mlflow.db")
    with servers.mlserver_server(tmp / "mlserver") as mls:
        cfg = EndpointConfig(kind="mlserver", url=mls.url, metrics_url=mls.metrics_url, repository=mls.repository,
                             timeout_s=5)
        await _time_rollbacks("mlserver", Settings(models={"clf": ModelConfig(endpoint=cfg)}), "clf",
                              ["v1", "v2"] * 3, tmp / "mlserver.db")
    with servers.torchserve_server(tmp / "torchserve") as ts:
        cfg = EndpointConfig(kind="torchserve", url=ts.url, management_url=ts.management_url,
                             metrics_url=ts.metrics_url, timeout_s=5)
        await _time_rollbacks("torchserve", Settings(models={"tsclf": ModelConfig(endpoint=cfg)}), "tsclf",
                              ["2.0", "1.0"] * 3, tmp / "torchserve.db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4, help="demo endpoint server processes")
    parser.add_argument("--no-servers", action="store_true", help="skip MLflow / MLServer / TorchServe")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modeldeck-bench-poll-") as tmp:
        asyncio.run(bench_polling(args.endpoints, args.rounds, Path(tmp) / "poll.db", args.processes))
        asyncio.run(bench_rollbacks(Path(tmp), not args.no_servers))


if __name__ == "__main__":
    main()
