"""Parser worker processes: a big input's blocks parsed and validated in forked processes while the
ingesting process writes. One mechanism for both writers: SQLite's (``app.ingest.run``) and the
store's own append (``app.ingest.batches``, PostgreSQL's COPY).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from app.ingest.parse import ParsedBlock, parse_block
from app.ingest.source import BLOCK_SIZE, STDIN, Block, file_size

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Below this much input, starting a parser process costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
# A typical record, to size how much parsing runs ahead of the writer.
TYPICAL_RECORD_BYTES = 400


def input_bytes(paths: Sequence[str]) -> int:
    """Bytes of input (compressed size for gzip): what the progress bar runs over, and what makes a load big."""
    return sum(file_size(path) for path in paths if path != STDIN)


def parser_pool(paths: Sequence[str], workers: int | None) -> "ProcessPoolExecutor | None":
    """Parser processes for ``paths``, or None to parse in this process. ``workers`` forces their number
    (0: none); by default one per spare core for big files (never for stdin, which may trickle)."""
    if workers is None:
        big = STDIN not in paths and input_bytes(paths) >= PARALLEL_MIN_BYTES
        workers = max(1, (os.cpu_count() or 1) - 1) if big and (os.cpu_count() or 1) > 1 else 0
    # Forked workers start in milliseconds with everything imported, and need no
    # `if __name__ == "__main__"` guard in the caller's script (spawn would). Forking is
    # only safe while this process runs no other thread, so otherwise parse here. The pool
    # forks all its workers at its first submit: a caller that starts a thread (a writer) must
    # start it after that.
    if workers <= 0 or sys.platform != "linux" or threading.active_count() > 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_ignore_interrupts, initargs=(os.getpid(),))


PrepareRows = Callable[[list], list]


def parsed_blocks(blocks: Iterable[Block | None], pool: "ProcessPoolExecutor | None", model: str | None,
                  stop: threading.Event, *, batch_rows: int,
                  prepare: PrepareRows | None = None) -> Iterator[tuple[ParsedBlock | None, Block | None]]:
    """Each block with what it parsed to, in input order; ``(None, None)`` where the input went quiet
    (stdin, parsed in this process only). Stops early once ``stop`` is set. ``prepare`` (a module-level
    function: it is sent to the workers by name) is the writer's own per-row work, done where the block is
    parsed so that the writing process does not (PostgreSQL's free-text vector)."""
    if pool is None:
        for block in blocks:
            yield (None, None) if block is None else (parse_prepared(block.data, block.first_line_no, model, prepare),
                                                      block)
            if stop.is_set():
                return
        return
    # Keep a few blocks in flight: the workers parse ahead while this process writes.
    # Blocks reach the workers only from here, between writes: while a batch of batch_rows
    # is written (about half a second), the workers need that much work queued or they sit
    # idle (measured on 1M records: 26.4 s with 3 blocks in flight, 21.9 s with this).
    ahead = batch_rows * TYPICAL_RECORD_BYTES // BLOCK_SIZE
    depth = 2 * pool._max_workers + 1 + ahead  # type: ignore[attr-defined]
    pending: deque = deque()
    try:
        for block in blocks:
            if block is None:
                continue
            pending.append((pool.submit(parse_prepared, block.data, block.first_line_no, model, prepare), block))
            block.data = b""  # the worker has its copy
            while len(pending) >= depth:
                future, done = pending.popleft()
                yield future.result(), done
                if stop.is_set():
                    return
        while pending:
            future, done = pending.popleft()
            yield future.result(), done
            if stop.is_set():
                return
    finally:
        for future, _ in pending:
            future.cancel()


def parse_prepared(data: bytes, first_line_no: int, model: str | None, prepare: PrepareRows | None) -> ParsedBlock:
    """``parse_block``, then the writer's ``prepare`` over the rows (in a worker process: module-level)."""
    parsed = parse_block(data, first_line_no, model)
    if prepare is not None and parsed.rows:
        parsed.rows = prepare(parsed.rows)
    return parsed


def _ignore_interrupts(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the main process stops the run cleanly and
    # tells the parser workers when to go; they must not die mid-block on their own.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    # A parser holds one block at a time, all acyclic: no need for the cyclic GC.
    import gc

    gc.disable()


def _die_with_parent(parent: int) -> None:
    """If ingest itself is killed (SIGKILL, OOM), its forked workers would wait on their queue
    forever: the pipe never closes because they hold both ends. Ask Linux to kill them too."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)
