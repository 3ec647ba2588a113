"""Live demo traffic (app/demo/live.py): while ``modeldeck demo`` runs, predictions keep arriving.

A small real demo store, the real demo endpoint on 127.0.0.1, the trickle's real thread; every wait is
a bounded loop.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.demo.build import build_demo_store
from app.demo.catalogue import MODELS
from app.demo.endpoint import start_demo_endpoint
from app.demo.live import LiveTraffic
from app.store import Store, StoreError
from app.store.json_keys import names_sql, register
from app.timeutil import now_ms

# A tiny store's floor rate (0.05 requests/s) times SPEED: about 10 live requests a second per model.
SPEED = 200.0
TICK_S = 0.2


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("live") / "demo.db"
    build_demo_store(path, rows=2000, now_ms=now_ms() - 60_000, baseline_rows=300)
    return path


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        register(conn)  # rows hold coded JSON keys (json_names reads them back)
        return conn.execute(sql, params).fetchall()


def wait_for(condition, timeout_s: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def live_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "modeldeck-demo-live"]


def test_recent_predictions_arrive_for_every_model_and_stop_when_told(demo_path: Path):
    before = query(demo_path, "SELECT max(id) FROM predictions")[0][0]
    started = now_ms()
    with start_demo_endpoint(demo_path) as endpoint:
        live = LiveTraffic(demo_path, endpoint_state=endpoint.state, speed=SPEED, tick_s=TICK_S).start()
        try:
            def models_with_recent_rows() -> bool:
                got = {r[0] for r in query(demo_path, "SELECT DISTINCT model FROM predictions WHERE id > ? AND ts >= ?",
                                           (before, started))}
                return got == {spec.name for spec in MODELS}

            wait_for(models_with_recent_rows, what="recent rows for every model")
            # The endpoint counts what the trickle serves: its metrics are no longer made up.
            served = 'modeldeck_requests_total{model="fraud-scorer",status="ok",version="v2.3.1"}'
            wait_for(lambda: served in httpx.get(endpoint.model_url("fraud-scorer") + "/metrics", timeout=5).text,
                     what="the endpoint counting served requests")
        finally:
            assert live.stop() is True
        assert live.error is None and not live.running and not live_threads()

    after_stop = query(demo_path, "SELECT count(*), max(id) FROM predictions")[0]
    time.sleep(5 * TICK_S)
    assert query(demo_path, "SELECT count(*), max(id) FROM predictions")[0] == after_stop

    new = query(demo_path, f"SELECT model, version, request_id, ts, {names_sql('context')} FROM predictions WHERE id > ?", (before,))
    assert len(new) == live.rows_written > 0  # nothing was dropped as a duplicate request id
    assert len({(m, r) for m, _, r, _, _ in new}) == len(new)
    assert max(ts for *_, ts, _ in new) <= now_ms()
    # Champions serve; shadows and challengers answer copies that name a live request of this run.
    champions = {spec.name: next(v.version for v in spec.versions if v.stage.value == "champion") for spec in MODELS}
    shadows = {spec.name: spec.shadow.version for spec in MODELS}
    ids = {(m, r) for m, _, r, _, _ in new}
    for model, version, _, _, context in new:
        assert version in (champions[model], shadows[model])
        if version == shadows[model]:
            assert (model, context.split('"shadow_of":"')[1][:21]) in ids


def test_the_version_the_endpoint_serves_is_the_one_logged_with_its_behaviour(demo_path: Path):
    with start_demo_endpoint(demo_path) as endpoint:
        with LiveTraffic(demo_path, endpoint_state=endpoint.state, speed=SPEED, tick_s=TICK_S) as live:
            # Put the incident's version back: the feature-store pool runs dry again.
            httpx.post(endpoint.model_url("credit-limit") + "/activate", json={"version": "v3.2.0"},
                       timeout=5).raise_for_status()
            since = now_ms()

            def errors_on_v320() -> int:
                return query(demo_path, "SELECT count(*) FROM predictions WHERE model = 'credit-limit' AND "
                                        "version = 'v3.2.0' AND ts >= ? AND status = 'error'", (since,))[0][0]

            wait_for(lambda: errors_on_v320() >= 5, what="errors from the incident version")
            httpx.post(endpoint.model_url("fraud-scorer") + "/disable", json={}, timeout=5).raise_for_status()
            time.sleep(3 * TICK_S)  # a tick in flight may still write what it generated before the switch
            disabled_at = now_ms()
            time.sleep(5 * TICK_S)
            assert query(demo_path, "SELECT count(*) FROM predictions WHERE model = 'fraud-scorer' AND ts >= ?",
                         (disabled_at,)) == [(0,)]
        assert live.error is None


def test_a_busy_store_is_waited_for_not_reported(demo_path: Path):
    """Another connection holding the write lock for longer than the trickle's busy timeout: it backs
    off and carries on, and readers are never blocked (WAL)."""
    with LiveTraffic(demo_path, speed=SPEED, tick_s=TICK_S) as live:
        wait_for(lambda: live.rows_written > 0, what="a first write")
        blocker = sqlite3.connect(demo_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            held = live.rows_written
            time.sleep(1.5)
            assert live.rows_written == held  # waiting, not failing
            assert query(demo_path, "SELECT count(*) FROM predictions")[0][0] > 0  # readers go on
            blocker.execute("COMMIT")
        finally:
            blocker.close()
        wait_for(lambda: live.rows_written > held, what="writes after the lock was released")
    assert live.error is None and not live_threads()


def test_never_writes_to_a_store_that_is_not_a_demo(tmp_path: Path):
    real = tmp_path / "real.db"
    with Store.open(real) as store:
        store.audit.append("note", None, detail={"why": "an operator's own store"})
    before = real.read_bytes()
    with pytest.raises(StoreError, match="not a finished demo store|not a modeldeck demo store"):
        LiveTraffic(real)
    assert real.read_bytes() == before and not live_threads()
