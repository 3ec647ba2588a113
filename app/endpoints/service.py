"""The console's endpoint monitor: the poller on an event loop of its own thread.

The console's event loop only draws: HTTP, JSON and Prometheus parsing for every endpoint happen on
this thread's loop, so a hung endpoint or a slow scrape can never delay a key press. The latest
result per model is published as a plain dict (one assignment per result, atomic under the GIL);
screens read it when they refresh. ``run()`` blocks until ``should_stop()`` turns true (the
console passes "my worker was cancelled"), then cancels polls in flight and closes every client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.endpoints.poller import PollResult

_STOP_CHECK_S = 0.2


def has_endpoints(settings: "Settings") -> bool:
    return any(m.endpoint or m.registry for m in settings.models.values())


class EndpointMonitor:
    """Polls every configured endpoint until told to stop; ``results`` holds the latest answers."""

    def __init__(self, settings: "Settings", store_path: Path | str | None = None,
                 on_result: Callable[["PollResult"], None] | None = None) -> None:
        self.settings = settings
        self.store_path = store_path
        self.results: dict[str, PollResult] = {}
        self._on_result = on_result
        self.samples_error: str | None = None  # why metric samples are not being stored, if they are not

    def _record(self, result: "PollResult") -> None:
        self.results[result.model] = result
        if self._on_result is not None:
            self._on_result(result)

    def start(self, should_stop: Callable[[], bool]) -> threading.Thread:
        """``run()`` on a daemon thread of its own: it stops itself once ``should_stop()`` is true, and
        being a daemon it can never hold up the process's exit, whatever an endpoint does."""
        thread = threading.Thread(target=self.run, args=(should_stop,), name="modeldeck-poller", daemon=True)
        thread.start()
        return thread

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Poll (blocking this thread) until ``should_stop()``; checked every 0.2 s."""
        asyncio.run(self._run(should_stop))

    async def _run(self, should_stop: Callable[[], bool]) -> None:
        from app.endpoints.poller import Poller

        poller = Poller.from_settings(self.settings, store_path=self.store_path, on_result=self._record)
        task = asyncio.ensure_future(poller.run())
        try:
            while not task.done() and not should_stop():
                await asyncio.wait({task}, timeout=_STOP_CHECK_S)
            if task.done():
                task.result()  # a crash in the poller surfaces as the worker's error
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.samples_error = poller.samples_error
            await poller.aclose()
