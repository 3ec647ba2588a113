"""The console's worker threads yield a core to its UI thread.

Textual runs every thread worker (store reads, the monitor pass, syncs) on the event loop's default pool.
On a busy machine the UI thread waits for a core behind them: bench/console.py splits each action's worst
stall into the UI thread's own CPU, its wait for a core and its wait for the GIL, and at 10M rows opening
the model screen waited 200-470 ms for a core for 31-40 ms of its own work, mostly behind the screen's own
readers. Here the pool's threads run a few nice levels below the thread that made them, so the kernel
gives the UI thread a core first; the readers still get every core nothing else wants. Threads they start
(the Logs screen's search lane) inherit their level. Linux only: elsewhere a thread's priority is not
set this way, and the pool is the default one.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

WORKER_NICE = 5
"""Nice levels below the UI thread: a worker weighs a third of it (the kernel's 1.25x per level), so the
UI thread gets a core first without starving the reads when the UI is idle."""

_pooled: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by ``WORKER_NICE`` (never raises it; errors ignored)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()  # Linux: each thread has its own nice value
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + WORKER_NICE))
    except OSError:
        pass  # a sandbox that refuses it: the worker keeps its priority


def use_worker_pool(loop: asyncio.AbstractEventLoop) -> None:
    """Make ``loop``'s default pool (where Textual runs thread workers) one of lower-priority threads.
    Once per loop: a second console on the same loop (tests) shares it."""
    if not sys.platform.startswith("linux") or loop in _pooled:
        return
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="modeldeck-worker", initializer=lower_priority))
    _pooled.add(loop)
