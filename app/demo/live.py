"""Live demo traffic: while ``modeldeck demo`` runs, its models keep answering requests.

A demo store's traffic ends when it was built; without more, the console's log-derived figures
(the fleet's last 15 minutes, "predictions logged in the last hour", drift windows, the logs
screen) would freeze. ``LiveTraffic`` runs one background thread with its own store connection
that, about once a second, generates the requests each model served since the last tick:
the demo's traffic profile (each model's share, the daily and weekly cycle) continued past the
build, answered by the version the demo endpoint serves now (so a rollback or roll-forward in
the console changes what is logged, and the incident version fails again if it is put back),
with the shadow or challenger answering its share of copies, and the ongoing drift episode still
going on. Rows go through the store's normal write path (``PredictionsTable.append``).

On start it back-fills the gap between the store's newest row and now (at most an hour: older
demo stores are rebuilt by ``modeldeck demo``). It writes only to a finished demo store.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from app.demo.build import DemoSummary, existing_demo
from app.demo.catalogue import DAY_MS, DRIFT_EPISODES, INCIDENT, MODELS, ModelSpec
from app.demo.traffic import Clock, assemble, block_rows, customer_weights, cycle_weights
from app.store import Store, StoreBusy, StoreError
from app.store.files import set_busy_timeout
from app.timeutil import now_ms as current_ms

TICK_S = 1.0
BACKFILL_MAX_MS = 3_600_000
# A small demo store (--rows 20000) would otherwise send a request a minute: each model serves on
# average at least this many live requests per second (the cycle's shape is kept).
MIN_MEAN_RPS = 0.05
# Our own connection waits briefly for the lock, then backs off in Python so stop() is never held up.
BUSY_TIMEOUT_MS = 250
MAX_BACKOFF_S = 2.0
_BATCH = 2000


class _Model:
    """One model's live traffic: its spec, mean live requests per ms, and how far its log has been written."""

    def __init__(self, spec: ModelSpec, mean_per_ms: float, champion: str) -> None:
        self.spec = spec
        self.mean_per_ms = mean_per_ms
        self.champion = champion
        self.last_ts = 0


class LiveTraffic:
    """Append predictions to the demo store at ``path`` from a background thread until ``stop()``.

    ``endpoint_state`` (the demo endpoint's ``DemoState``) says which version serves each model
    and counts the requests written, so the endpoint's metrics and the log agree. ``speed``
    multiplies every rate (tests use it on tiny stores). ``now`` is the clock (tests may pass one).
    """

    def __init__(self, path: Path | str, *, endpoint_state: Any | None = None, speed: float = 1.0,
                 tick_s: float = TICK_S, now: Callable[[], int] = current_ms) -> None:
        self.path = Path(path)
        summary = existing_demo(self.path)  # StoreError for a file that holds anything else
        if summary is None:
            raise StoreError(f"{self.path}: not a finished demo store; live demo traffic is only written to one")
        self.summary: DemoSummary = summary
        self.state = endpoint_state
        self.tick_s = tick_s
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0
        self.error: str | None = None  # why the thread gave up, one line (it never prints: the TUI owns the screen)
        days = round((summary.now_ms - summary.start_ms) / DAY_MS) or 30
        by_name = {m.name: m for m in summary.models}
        self._models: list[_Model] = []
        for spec in MODELS:
            built = by_name.get(spec.name)
            if built is None:
                continue
            # The build's live (not shadow) requests spread over its days, as the profile drew them.
            mean_per_ms = max((built.rows - built.shadow_rows) / (days * DAY_MS), MIN_MEAN_RPS / 1000)
            self._models.append(_Model(spec, mean_per_ms * speed, built.champion))
        self._rng = np.random.default_rng()
        self._customers = customer_weights()
        self._next_request = 0
        # The daily/weekly cycle as the build drew it: a rate at a moment is the mean rate times its weight.
        self._build = Clock(now=summary.now_ms, days=days)
        hours = self._build.start + np.arange(days * 24) * 3_600_000
        self._mean_weight = float(cycle_weights(self._build, hours).mean())

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> "LiveTraffic":
        if self._thread is not None:
            raise RuntimeError("live traffic already started")
        self._set_fed(True)
        self._thread = threading.Thread(target=self._run, name="modeldeck-demo-live", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the thread and wait for it; True when it has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._set_fed(False)
        return self._thread is None or not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "LiveTraffic":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_fed(self, fed: bool) -> None:
        if self.state is None:
            return
        with self.state.lock:
            for model in self._models:
                served = self.state.models.get(model.spec.name)
                if served is not None:
                    served.fed = fed

    # --- the thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = Store.open(self.path, create=False)
        except StoreError as exc:
            self.error = str(exc)
            return
        try:
            set_busy_timeout(store, BUSY_TIMEOUT_MS)
            now = self._now()
            # Request numbers above every row id ever given: the ids (ms + scrambled number) never collide.
            self._next_request = store.predictions.latest_id() + 1
            for model in self._models:
                # From the build's end, or past what an earlier run of the trickle wrote.
                newest = store.predictions.latest_ts(model.spec.name) or 0
                model.last_ts = max(newest + 1, self.summary.now_ms, now - BACKFILL_MAX_MS)
            self._tick(store, now, serving=False)  # the gap since the build (or the last run)
            while not self._stop.wait(self.tick_s):
                self._tick(store, self._now(), serving=True)
        except Exception as exc:  # noqa: BLE001 - a background thread reports, it does not crash the console
            self.error = f"live demo traffic stopped: {type(exc).__name__}: {exc}"
        finally:
            store.close()

    def _tick(self, store: Store, now: int, *, serving: bool) -> None:
        for model in self._models:
            if self._stop.is_set():
                return
            if now <= model.last_ts:
                continue
            rows, live = self._rows(model, model.last_ts, now)
            if rows and not self._append(store, rows):
                return  # stopping while the store was busy
            model.last_ts = now
            if serving and live is not None and self.state is not None:
                with self.state.lock:
                    served = self.state.models.get(model.spec.name)
                    if served is not None:
                        served.served(*live)

    def _serving(self, model: _Model) -> str | None:
        """The version serving live traffic now (None when the endpoint has the model disabled)."""
        if self.state is None:
            return model.champion
        with self.state.lock:
            served = self.state.models.get(model.spec.name)
            if served is None:
                return model.champion
            served.settle()
            return None if served.disabled else served.active

    def _rows(self, model: _Model, since: int, until: int) -> tuple[list, tuple | None]:
        version = self._serving(model)
        if version is None:
            return [], None
        spec = model.spec
        # The profile's rate at the middle of the span (spans are a second, at most an hour).
        weight = float(cycle_weights(self._build, np.array([(since + until) // 2]))[0])
        expected = model.mean_per_ms * (until - since) * weight / self._mean_weight
        n = int(self._rng.poisson(expected))
        if n == 0:
            return [], (version, 0, 0, [])
        ts = np.sort(self._rng.integers(since, until, n))
        clock = Clock(now=until)
        shadow = spec.shadow.version if spec.shadow.version != version else None
        copied = (np.flatnonzero(self._rng.random(n) < spec.shadow.share) if shadow
                  else np.empty(0, dtype=np.int64))
        block = assemble(spec, self._rng, ts, np.full(n, version, dtype=object), copied, shadow or version, clock,
                         self._customers, episodes=self._episodes(until), incident=self._incident(version),
                         first_request=self._next_request)
        self._next_request += len(block)
        rows = block_rows(block, 0, len(block))
        live = block.shadow_of < 0
        errors = int((block.error[live] != None).sum())  # noqa: E711 (elementwise)
        latencies = (block.latency[live] / 1000.0).tolist()
        return rows, (version, int(live.sum()) - errors, errors, latencies)

    def _episodes(self, now: int) -> tuple:
        """The story's drift episodes, told relative to ``now``: the one still going on goes on."""
        shift = (now - self.summary.now_ms) / DAY_MS
        return tuple(dataclasses.replace(e, start_days_ago=e.start_days_ago + shift,
                                         end_days_ago=e.end_days_ago + shift if e.end_days_ago else 0)
                     for e in DRIFT_EPISODES)

    @staticmethod
    def _incident(version: str):
        """The incident's failure mode, for as long as its version serves (its fix is another version)."""
        if version != INCIDENT.version:
            return None
        return dataclasses.replace(INCIDENT, start_days_ago=1.0, hours=48.0)

    def _append(self, store: Store, rows: list) -> bool:
        """Write ``rows``, backing off while another connection holds the write lock; False if stopped."""
        for start in range(0, len(rows), _BATCH):
            delay = 0.05
            while True:
                try:
                    accepted, _ = store.predictions.append(rows[start:start + _BATCH])
                    self.rows_written += accepted
                    break
                except StoreBusy:
                    if self._stop.wait(delay):
                        return False
                    delay = min(delay * 2, MAX_BACKOFF_S)
        return True


__all__ = ["LiveTraffic", "TICK_S", "BACKFILL_MAX_MS"]
