"""Benchmark: the Logs screen's follow mode (`F`) against the 1 s poll it replaced, in one run.

    python bench/follow.py                 # a 100,000-row store, 8 s idle, 15 commits
    python bench/follow.py --rows 20000    # while developing

Both followers watch the same real store file while nothing is written (idle) and while a second
connection commits one matching record at a time, as incremental ingest does:

* watch (today): ``app.views.logs.StoreWatch``, ``PRAGMA data_version`` every 0.25 s on its own
  read-only connection, and a read of the newest page only when it changed (the delay includes it);
* poll (the peer, the old `F`): every 1 s the first page and the bounded count of the query, read
  again whether or not anything was written (what `run_query(follow=True)` did on its timer).

Prints the CPU each costs per second of following an idle store (process CPU time, this process
doing nothing else) and the delay from a commit to the follower noticing it (median and worst), with
the ratios. Target: idle CPU well under the poll's, and a commit seen in well under the poll's ~0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.search.searcher import Searcher  # noqa: E402
from app.search.language import parse  # noqa: E402
from app.store import Store  # noqa: E402
from app.store.bulk import write_all  # noqa: E402
from app.store.location import StoreLocation  # noqa: E402
from app.views.logs import StoreWatch  # noqa: E402
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row  # noqa: E402

QUERY = "status:error"


def build(path: Path, rows: int) -> None:
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(rows, seed=5)]])


class Poll:
    """The old follow: the first page and the count, every second, in a thread of its own."""

    def __init__(self, path: Path, seen: Callable[[str | None], None]) -> None:
        self.path, self.seen, self.stop = path, seen, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with Store.open(self.path, read_only=True) as store:
            searcher = Searcher(store)
            query = parse(QUERY, now=BASE_MS + SPAN_MS * 2)
            while not self.stop.wait(1.0):
                page = searcher.page(query)
                searcher.count(query)
                self.seen(page.rows[0]["request_id"] if page.rows else None)


def idle_cpu(start: Callable[[], object], stop: Callable[[], object], seconds: float) -> float:
    """CPU seconds per second of following, nothing written meanwhile."""
    start()
    time.sleep(0.5)  # its store opened
    before = time.process_time()
    time.sleep(seconds)
    used = time.process_time() - before
    stop()
    return used / seconds


def commit_delays(path: Path, follower: str, commits: int) -> list[float]:
    """Seconds from each commit to the follower noticing it."""
    noticed = threading.Event()
    delays: list[float] = []
    expected: list[str] = [""]

    def seen(request_id: str | None = None) -> None:
        if request_id == expected[0]:
            noticed.set()

    reader: dict[str, Searcher] = {}  # the watch thread's own (a connection stays in its thread)

    def changed() -> None:
        # What the screen then does: read what is new (here the first page, which holds it).
        if "searcher" not in reader:
            reader["searcher"] = Searcher(Store.open(path, read_only=True))
        page = reader["searcher"].page(parse(QUERY, now=BASE_MS + SPAN_MS * 2))
        seen(page.rows[0]["request_id"] if page.rows else None)

    if follower == "watch":
        runner = StoreWatch(StoreLocation(path), changed, every_s=0.25, fallback_s=3600).start()
        stop = runner.stop
    else:
        poll = Poll(path, seen)
        poll.thread.start()
        stop = poll.stop.set
    time.sleep(0.5)
    with Store.open(path) as writer:
        for i in range(commits):
            record = random_records(1, seed=1000 + i, start=10_000_000 + i)[0]
            # Newer than everything before, the other follower's records included.
            record.update(ts=BASE_MS + SPAN_MS + (0 if follower == "watch" else 1_000) + i, status="error",
                          request_id=f"{follower}-{i}")
            expected[0] = record["request_id"]
            noticed.clear()
            writer.predictions.append([to_row(record)])
            committed = time.perf_counter()
            if not noticed.wait(5):
                raise SystemExit(f"{follower}: commit {i} not noticed in 5 s")
            delays.append(time.perf_counter() - committed)
            time.sleep(0.13 * (1 + i % 3))  # commits not in step with either follower's period
    stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--idle-s", type=float, default=8.0)
    parser.add_argument("--commits", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "follow.db"
        started = time.perf_counter()
        build(path, args.rows)
        print(f"store: {args.rows:,} rows in {time.perf_counter() - started:.1f} s; query {QUERY!r}")
        watch = StoreWatch(StoreLocation(path), lambda: None, every_s=0.25, fallback_s=3600)
        cpu_watch = idle_cpu(watch.start, watch.stop, args.idle_s)
        poll = Poll(path, lambda _id: None)
        cpu_poll = idle_cpu(poll.thread.start, poll.stop.set, args.idle_s)
        print(f"idle CPU per second followed: watch {cpu_watch * 1000:.2f} ms, poll {cpu_poll * 1000:.2f} ms "
              f"(watch/poll {cpu_watch / cpu_poll if cpu_poll else float('nan'):.3f})")
        for name in ("watch", "poll"):
            delays = commit_delays(path, name, args.commits)
            print(f"commit -> noticed, {name}: median {statistics.median(delays) * 1000:.0f} ms, "
                  f"worst {max(delays) * 1000:.0f} ms over {len(delays)} commits")


if __name__ == "__main__":
    main()
