"""The console's store reads yield a core to its UI thread (issue 18 item 4): thread workers, and the
threads they start, run a few nice levels below the thread that draws the screen."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from app.console.workers import WORKER_NICE
from tests.tui.conftest import make_app, settle

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_thread_workers_and_the_threads_they_start_run_below_the_ui_thread(fixed_db: Path) -> None:
    ui = _nice()
    if ui + 1 > 19:
        pytest.skip("already at the lowest priority: nothing below it")

    def read() -> tuple[int, int]:
        seen: list[int] = []
        child = threading.Thread(target=lambda: seen.append(_nice()))  # like the Logs screen's search lane
        child.start()
        child.join()
        return _nice(), seen[0]

    app = make_app(fixed_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        worker = app.run_worker(read, thread=True)
        worker_nice, child_nice = await worker.wait()
        assert _nice() == ui  # the UI thread keeps its own
    assert worker_nice == child_nice == min(19, ui + WORKER_NICE)
