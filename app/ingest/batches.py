"""Ingest through the store's own ``predictions.append``, a batch at a time: the path of a store that
has no SQLite bulk writer (PostgreSQL, where ``append`` is a COPY).

Reading and parsing are the shared ones (``app.ingest.source``, ``app.ingest.parse``, and for a big input
the parser processes of ``app.ingest.workers``): the same lines are accepted, and the same bad lines
quarantined, as by ``app.ingest.run`` on SQLite. Each batch is one transaction (rows and its quarantined
lines together), so readers see rows as they arrive and a stopped run keeps what it committed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Sequence

from app.ingest.run import IngestSummary, forget_computed_drift, stamp_quarantined
from app.ingest.source import STDIN, read_file, read_stdin
from app.ingest.workers import parsed_blocks, parser_pool
from app.store.quality import add_outcomes

if TYPE_CHECKING:
    from app.store import Store

BATCH_ROWS = 50_000


def ingest_batches(store: "Store", paths: Sequence[str], *, model: str | None = None,
                   stop: threading.Event | None = None, progress: Callable[[int, str], None] | None = None,
                   batch_rows: int = BATCH_ROWS, workers: int | None = None) -> IngestSummary:
    """Ingest ``paths`` ('-' is stdin) into ``store`` with ``store.predictions.append``; raises SourceError
    for an input that cannot be read (what was read before it is kept). ``workers`` forces the number of
    parser processes (0: parse in this process); by default one per spare core for big files."""
    stop = stop or threading.Event()
    summary = IngestSummary(mode="batches")
    started = time.perf_counter()
    rows: list = []
    bad: list = []
    done_bytes = 0
    # A big input is parsed and validated in worker processes (app/ingest/workers.py, as on SQLite): made
    # before the writer thread below, since the workers are forked and forking is only safe single-threaded
    # (the pool forks at its first submit, which comes before the first write).
    pool = parser_pool(paths, workers)
    # The store's per-row work that needs no connection (PostgreSQL: the free-text vector), done by the parsers.
    prepare = getattr(store.predictions, "prepare_rows", None)
    # One batch is written while the next is parsed: the server's insert (the socket wait releases the GIL)
    # overlaps the client's parsing. One writer thread, one batch in flight: the store's connection is only
    # ever used by one thread at a time, and batches commit in input order.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write")
    in_flight: Future | None = None

    outcomes: list = []  # "kind": "outcome" records, written with their batch

    def write(batch: list, quarantined: list, kpis: list) -> None:
        with store.write():
            accepted, duplicates = store.predictions.append(batch) if batch else (0, 0)
            if accepted:
                forget_computed_drift(store, batch)  # rows landing in a computed drift window reopen it
            if quarantined:
                store.quarantine.add_many(quarantined)
            if kpis:
                add_outcomes(store, [tuple(row) for row in kpis])
        summary.accepted += accepted
        summary.duplicates += duplicates
        summary.quarantined += len(quarantined)
        summary.outcomes += len(kpis)

    def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            done, in_flight = in_flight, None
            done.result()  # a failed write stops the run with its error, as a serial write would

    def flush() -> None:
        nonlocal rows, bad, outcomes, in_flight
        if not rows and not bad and not outcomes:
            return
        settle()
        in_flight = writer.submit(write, rows, bad, outcomes)
        rows, bad, outcomes = [], [], []

    try:
        for path in paths:
            blocks = read_stdin(stop) if path == STDIN else read_file(path)
            for parsed, block in parsed_blocks(blocks, pool, model, stop, batch_rows=batch_rows, prepare=prepare):
                if parsed is None or block is None:  # stdin went quiet: commit what we have
                    flush()
                    settle()
                    continue
                summary.lines += parsed.lines
                summary.blank += parsed.blank
                rows.extend(parsed.rows)
                outcomes.extend(parsed.outcomes)
                if parsed.bad:
                    bad.extend(stamp_quarantined(parsed.bad, block.source))  # redacted, as on SQLite
                if len(rows) >= batch_rows:
                    flush()
                if progress is not None and path != STDIN:
                    progress(done_bytes + block.consumed, path)
                if stop.is_set():
                    break
            if stop.is_set():
                summary.interrupted = True
                break
        flush()
    finally:
        try:
            settle()
        finally:
            writer.shutdown(wait=True)
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    summary.seconds = time.perf_counter() - started
    counted = summary.lines - summary.blank
    summary.rows_per_s = counted / summary.seconds if summary.seconds else 0.0
    return summary
