"""Ingest through the store's own ``predictions.append``, a batch at a time: the path of a store that
has no SQLite bulk writer (PostgreSQL, where ``append`` is a COPY).

Reading and parsing are the shared ones (``app.ingest.source``, ``app.ingest.parse``): the same lines
are accepted, and the same bad lines quarantined, as by ``app.ingest.run`` on SQLite. Each batch is one
transaction (rows and its quarantined lines together), so readers see rows as they arrive and a
stopped run keeps what it committed.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Sequence

from app.ingest.parse import parse_block
from app.ingest.run import IngestSummary
from app.ingest.source import STDIN, read_file, read_stdin
from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.store import Store

BATCH_ROWS = 50_000


def ingest_batches(store: "Store", paths: Sequence[str], *, model: str | None = None,
                   stop: threading.Event | None = None, progress: Callable[[int, str], None] | None = None,
                   batch_rows: int = BATCH_ROWS) -> IngestSummary:
    """Ingest ``paths`` ('-' is stdin) into ``store`` with ``store.predictions.append``; raises SourceError
    for an input that cannot be read (what was read before it is kept)."""
    stop = stop or threading.Event()
    summary = IngestSummary(mode="batches")
    started = time.perf_counter()
    rows: list = []
    bad: list = []
    done_bytes = 0

    def flush() -> None:
        if not rows and not bad:
            return
        with store.write():
            accepted, duplicates = store.predictions.append(rows) if rows else (0, 0)
            if bad:
                store.quarantine.add_many(bad)
        summary.accepted += accepted
        summary.duplicates += duplicates
        summary.quarantined += len(bad)
        rows.clear()
        bad.clear()

    for path in paths:
        blocks = read_stdin(stop) if path == STDIN else read_file(path)
        for block in blocks:
            if block is None:  # stdin went quiet: commit what we have
                flush()
                continue
            parsed = parse_block(block.data, block.first_line_no, model)
            summary.lines += parsed.lines
            summary.blank += parsed.blank
            rows.extend(parsed.rows)
            if parsed.bad:
                at = now_ms()
                for line in parsed.bad:
                    line.source, line.ingested_at = block.source, at
                bad.extend(parsed.bad)
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
    summary.seconds = time.perf_counter() - started
    counted = summary.lines - summary.blank
    summary.rows_per_s = counted / summary.seconds if summary.seconds else 0.0
    return summary
