"""Polls every configured endpoint concurrently, without ever letting one slow the others.

Each endpoint has its own loop: poll (health, active version and metrics at once, the whole round
bounded by the endpoint's timeout), publish the result, then sleep: the poll interval after a good
answer, an exponentially growing backoff after failures. The next poll is scheduled when the last
one finished, so polls never pile up. Metric samples go to ``metric_samples`` from one writer thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.endpoints.protocol import EndpointAdapter, EndpointError, EndpointMetrics
from app.models import Health, HealthState
from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.config.settings import Settings

MAX_BACKOFF_S = 60.0
MAX_CONCURRENT = 48  # endpoints polled at the same moment (3 requests each)
STAGGER_S = 1.0  # first polls spread over this long (at most one interval)


@dataclass(frozen=True)
class PollResult:
    model: str
    kind: str
    health: Health
    active_version: str | None = None
    metrics: EndpointMetrics | None = None
    failures: int = 0  # consecutive failed polls
    next_poll_in_s: float = 0.0


@dataclass
class _Slot:
    model: str
    adapter: EndpointAdapter
    interval_s: float
    failures: int = 0
    last_ok_at: int | None = None
    last: PollResult | None = None
    health_written: tuple[str, int] | None = None  # (state, ts) of the last health sample stored


class SampleWriter:
    """Writes metric samples from a single thread with its own Store (one connection per thread)."""

    def __init__(self, store_path: Path | str) -> None:
        self._path = Path(store_path)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modeldeck-samples")
        self._store = None

    def _write(self, rows: list[tuple[str, int, str, float]]) -> None:
        if self._store is None:
            from app.store import Store

            self._store = Store.open(self._path)
        self._store.metrics.add_many(rows)

    async def write(self, rows: list[tuple[str, int, str, float]]) -> None:
        if rows:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._write, rows)

    def close(self) -> None:
        def _close() -> None:
            if self._store is not None:
                self._store.close()

        self._pool.submit(_close).result(timeout=10)
        self._pool.shutdown(wait=True)


class Poller:
    """``poll_once()`` for one round of every endpoint; ``run()`` for the continuous loops."""

    def __init__(self, adapters: dict[str, EndpointAdapter], *, intervals: dict[str, float] | None = None,
                 store_path: Path | str | None = None,
                 on_result: Callable[[PollResult], None] | None = None,
                 max_concurrent: int = MAX_CONCURRENT) -> None:
        self._slots = {model: _Slot(model, adapter, (intervals or {}).get(model, 5.0))
                       for model, adapter in adapters.items()}
        self._room = asyncio.Semaphore(max_concurrent)
        self._writer = SampleWriter(store_path) if store_path is not None else None
        self._on_result = on_result
        self._stopping = asyncio.Event()
        self.samples_error: str | None = None

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: object) -> "Poller":
        """One adapter (with its own small HTTP client) per model with a serving endpoint, else its registry."""
        from app.endpoints import make_adapter

        adapters, intervals = {}, {}
        for model, config in settings.models.items():
            endpoint = config.endpoint or config.registry
            if endpoint is not None:
                adapters[model] = make_adapter(model, endpoint)
                intervals[model] = endpoint.poll_interval_s
        return cls(adapters, intervals=intervals, **kwargs)  # type: ignore[arg-type]

    @property
    def results(self) -> dict[str, PollResult]:
        return {model: slot.last for model, slot in self._slots.items() if slot.last is not None}

    async def poll_once(self) -> dict[str, PollResult]:
        """Poll every endpoint once, concurrently; returns when the slowest is done or timed out."""
        results = await asyncio.gather(*(self._poll(slot) for slot in self._slots.values()))
        return {r.model: r for r in results}

    async def run(self) -> None:
        """Poll until ``stop()``: one loop per endpoint, so a slow one delays only itself."""
        slots = list(self._slots.values())
        # Staggered starts: hundreds of endpoints on one interval would otherwise all be polled in
        # the same instant, round after round (a burst of CPU instead of an even trickle).
        spread = min(STAGGER_S, min((s.interval_s for s in slots), default=0.0))
        await asyncio.gather(*(self._loop(slot, spread * i / len(slots)) for i, slot in enumerate(slots)))

    def stop(self) -> None:
        self._stopping.set()

    async def _loop(self, slot: _Slot, delay_s: float = 0.0) -> None:
        if delay_s > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)
            except TimeoutError:
                pass
        while not self._stopping.is_set():
            result = await self._poll(slot)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=result.next_poll_in_s)
            except TimeoutError:
                pass

    async def _poll(self, slot: _Slot) -> PollResult:
        # A bounded number of endpoints in flight, and each one's timeout starts when it does: with
        # hundreds at once, our own backlog of answers to parse would otherwise be blamed on them.
        async with self._room:
            return await self._poll_now(slot)

    async def _poll_now(self, slot: _Slot) -> PollResult:
        adapter = slot.adapter
        checked = now_ms()
        active: str | None = None
        metrics: EndpointMetrics | None = None
        problems: list[str] = []
        try:
            # One bound for the whole round: the three calls run at once, each with its own timeout.
            async with asyncio.timeout(adapter.timeout_s + 0.5):
                health, active_r, metrics_r = await asyncio.gather(
                    adapter.health(), adapter.active_version(), adapter.metrics(), return_exceptions=True)
        except TimeoutError:
            health = Health(state=HealthState.down, reason=f"no answer within {adapter.timeout_s:g}s",
                            checked_at=checked)
            active_r = metrics_r = None
        if isinstance(health, BaseException):
            health = Health(state=HealthState.down, reason=_reason(health), checked_at=checked)
        if isinstance(active_r, BaseException):
            problems.append(f"versions: {_reason(active_r)}")
        else:
            active = active_r
        if isinstance(metrics_r, BaseException):
            problems.append(f"metrics: {_reason(metrics_r)}")
        else:
            metrics = metrics_r
        if health.state is HealthState.up and problems:
            health = replace_health(health, HealthState.degraded, "; ".join(problems))
        ok = health.state in (HealthState.up, HealthState.degraded)
        if health.state is HealthState.up:
            slot.last_ok_at = health.checked_at or checked
        if ok:
            slot.failures = 0
            delay = slot.interval_s
        else:
            slot.failures += 1
            delay = min(slot.interval_s * (2 ** slot.failures), MAX_BACKOFF_S)
        health = health.model_copy(update={"last_ok_at": slot.last_ok_at,
                                           "checked_at": health.checked_at or checked})
        result = PollResult(model=slot.model, kind=adapter.kind, health=health, active_version=active,
                            metrics=metrics, failures=slot.failures, next_poll_in_s=delay)
        slot.last = result
        writer = self._writer
        rows = [(slot.model, checked, name, value) for name, value in metrics.samples()] if metrics is not None else []
        rows += self._health_sample(slot, health.state, health.checked_at or checked)
        if writer is not None and rows:
            try:
                await writer.write(rows)
            except Exception as exc:  # a store we cannot write (read-only file, disk full) must not stop polling
                if self._writer is writer:
                    self.samples_error = f"metric samples not stored: {_reason(exc)}"
                    self._writer = None
                    writer.close()
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _health_sample(self, slot: _Slot, state: HealthState, checked: int) -> list[tuple[str, int, str, float]]:
        """The poll's health as a sample when it changed, or once a HEALTH_EVERY_MS while it holds (what
        time travel reads back: app.store.metrics.health_at); none while nothing can be stored."""
        from app.store.metrics import HEALTH_CODES, HEALTH_EVERY_MS, HEALTH_SAMPLE

        code = HEALTH_CODES.get(state.value)
        if code is None or self._writer is None:
            return []
        last = slot.health_written
        if last is not None and last[0] == state.value and checked - last[1] < HEALTH_EVERY_MS:
            return []
        slot.health_written = (state.value, checked)
        return [(slot.model, checked, HEALTH_SAMPLE, code)]

    async def aclose(self) -> None:
        self.stop()
        for slot in self._slots.values():
            await slot.adapter.aclose()
        if self._writer is not None:
            self._writer.close()


def replace_health(health: Health, state: HealthState, reason: str) -> Health:
    return health.model_copy(update={"state": state, "reason": reason})


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EndpointError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:200]
