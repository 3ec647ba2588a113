"""A search lane: one thread that keeps one read-only store and its ``Searcher`` open across calls.

The Logs screen reads pages and counts from thread workers, which Textual runs on the event
loop's shared thread pool: a different thread from one call to the next, so a connection
cannot simply be kept "per worker". A lane is its own single thread; the worker hands it a
function and waits for the answer. Successive pages of one query then share the Searcher's
compiled SQL and text plans, and the store is opened once, not once per page.

    lane = SearchLane("page")
    page = lane.call(location, lambda searcher: searcher.page(query))
    lane.interrupt()   # from any thread: the running statement raises StoreInterrupted
    lane.close()       # closes the store in its own thread, then ends the thread
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, TypeVar

if TYPE_CHECKING:
    from app.search.searcher import Searcher
    from app.store import Store
    from app.store.location import StoreLocation

T = TypeVar("T")


class LaneClosed(RuntimeError):
    """The lane was closed (its screen went away) before the call could run."""


class SearchLane:
    """Calls run one at a time, in order, on the lane's own thread and connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"modeldeck-{name}")
        self._lock = threading.Lock()
        self._store: "Store | None" = None
        self._opened_at: "StoreLocation | None" = None  # where _store was opened (a PostgreSQL store has no path)
        self._searcher: "Searcher | None" = None
        self.opens = 0  # stores opened so far: one per store path the lane has served
        self._closed = False

    def call(self, location: "StoreLocation", work: "Callable[[Searcher], T]") -> T:
        """Run ``work(searcher)`` on the lane's thread against the store at ``location``; wait for it.
        Raises LaneClosed after ``close()``."""
        try:
            future = self._pool.submit(self._run, location, work)
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            raise LaneClosed(f"search lane {self.name} is closed") from None
        return future.result()

    def _run(self, location: "StoreLocation", work: "Callable[[Searcher], T]") -> T:
        if self._closed:
            raise LaneClosed(f"search lane {self.name} is closed")  # queued before close(): no need to run
        searcher = self._searcher_for(location)
        return work(searcher)

    def _searcher_for(self, location: "StoreLocation") -> "Searcher":
        from app.search.searcher import Searcher

        if self._store is not None and self._opened_at != location:
            self._close_store()  # the console switched stores
        if self._store is None:
            store = location.open(read_only=True)
            with self._lock:
                self._store, self._searcher, self._opened_at = store, Searcher(store), location
            self.opens += 1
        assert self._searcher is not None
        return self._searcher

    @property
    def searcher(self) -> "Searcher | None":
        """The current Searcher (None before the first call or after close)."""
        return self._searcher

    def interrupt(self) -> None:
        """Stop the statement running on the lane now, if any (a no-op when it is idle)."""
        with self._lock:
            if self._store is not None:
                self._store.interrupt()

    def _close_store(self) -> None:
        with self._lock:
            store, self._store, self._searcher = self._store, None, None
        if store is not None:
            store.close()

    def close(self, *, wait: bool = False) -> None:
        """Close the store on the lane's thread after the call in flight, then end the thread."""
        if self._closed:
            return
        self._closed = True
        # Calls already queued end first (with LaneClosed: their workers stop waiting), then the store closes.
        self._pool.submit(self._close_store)
        self._pool.shutdown(wait=wait)
