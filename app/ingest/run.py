"""``modeldeck ingest``: JSON Lines prediction logs into the store; bad lines into quarantine.

The flow: a reader (``app.ingest.source``) cuts inputs into blocks of whole lines; the
parser (``app.ingest.parse``) turns each block into rows and quarantined lines, in a
worker process when the input is big; the writer (``app.store.bulk``) appends them.

Two ways to write, chosen per run:

* bulk, when the input is large next to what the store already holds (a first load, a
  backfill): one transaction, indexes rebuilt at the end. Measured on 1M records: about
  2x faster than keeping the unique index up to date row by row.
* incremental, for small appends to a big store, stdin and ``--follow``: a transaction
  per batch of up to 50,000 rows (or per second while following), so readers see new
  rows as they come and a restart loses nothing that was committed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import closing, nullcontext
from typing import TYPE_CHECKING, Callable, Sequence

from pydantic import BaseModel, Field

from app.store.gc_pause import gc_paused
from app.ingest.parse import ParsedBlock, parse_block
from app.ingest.source import (STDIN, FollowedFile, SourceError, file_size, follow, is_gzip, read_file, read_stdin,
                               source_name)
from app.ingest.workers import TYPICAL_RECORD_BYTES, parsed_blocks, parser_pool
from app.models import QuarantinedLine
from app.text import redact
from app.store.bulk import BatchResult, BulkWriter
from app.store.connection import StoreBusy
from app.timeutil import now_ms

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from app.store import Store
    from app.store.offsets import IngestOffset

# Rows per write: big transactions are what makes SQLite fast (5,000-row commits measured
# 3x slower than 50,000 with the unique index in place).
BATCH_ROWS = 50_000
# While following, commit at least this often so readers see new predictions promptly.
FOLLOW_COMMIT_S = 1.0
# gzip'd JSON Lines shrink about this much.
GZIP_RATIO = 6

ProgressCallback = Callable[[int, str], None]  # (bytes done, phase) -> None


class IngestSummary(BaseModel):
    """What a run did. lines = accepted + duplicates + labelled + quarantined + blank + outcomes."""

    accepted: int = Field(default=0, description="New predictions stored")
    duplicates: int = Field(default=0, description="Records of known (model, version, request_id) that changed nothing")
    labelled: int = Field(default=0, description="Records of known requests whose label filled an empty one")
    quarantined: int = Field(default=0, description="Bad lines, stored in the quarantine table")
    blank: int = Field(default=0, description="Empty lines, skipped")
    outcomes: int = Field(default=0, description="Business outcome records (kind: outcome), new or already stored")
    lines: int = Field(default=0, description="Lines read")
    seconds: float = 0.0
    rows_per_s: float = Field(default=0.0, description="Non-blank lines per second, end to end")
    mode: str = Field(default="incremental", description="bulk | incremental | follow")
    interrupted: bool = Field(default=False, description="Stopped by a signal before the end of the input")
    errors: list[str] = Field(default_factory=list, description="Inputs that could not be read")


def prediction_schema_text() -> str:
    """The JSON schema of a record, as published in data/prediction.schema.json."""
    from app.models import Prediction

    return json.dumps(Prediction.json_schema_for_docs(), indent=2, ensure_ascii=False) + "\n"


def ingest(store: "Store", paths: Sequence[str], *, model: str | None = None, follow: bool = False,
           stop: threading.Event | None = None, progress: ProgressCallback | None = None,
           note: Callable[[str], None] = lambda message: None, workers: int | None = None,
           poll_s: float = 1.0, allow_swapped_link: bool = False) -> IngestSummary:
    """Ingest ``paths`` ('-' is stdin) into ``store``; see the module docstring.

    ``stop`` ends the run cleanly (what was read is committed). ``workers`` forces the
    number of parser processes (0: parse in this process); by default one per spare core
    for big files. ``note`` receives one-line remarks for the operator. ``allow_swapped_link``
    (``[ingest] allow_swapped_link``): a followed symlink repointed elsewhere is followed, not refused.
    """
    run = _Run(store, model=model, stop=stop or threading.Event(), progress=progress, note=note, poll_s=poll_s)
    return run.follow(paths, allow_swapped_link=allow_swapped_link) if follow else run.once(paths, workers)


class _Run:
    def __init__(self, store: "Store", *, model: str | None, stop: threading.Event,
                 progress: ProgressCallback | None, note: Callable[[str], None], poll_s: float) -> None:
        self.store = store
        self.model = model
        self.stop = stop
        self.progress = progress
        self.note = note
        self.poll_s = poll_s
        self.summary = IngestSummary()
        self.rows: list = []
        self.outcomes: list = []  # "kind": "outcome" records, written with the rows
        self.bad: list[QuarantinedLine] = []
        self.positions: dict[str, "IngestOffset"] = {}
        self.writer: "BulkWriter | AppendWriter | None" = None
        self._started = time.perf_counter()
        self._busy_noted = False

    # -- the two kinds of run ---------------------------------------------------------------

    def once(self, paths: Sequence[str], workers: int | None) -> IngestSummary:
        bulk = self._bulk_pays_off(paths)
        self.summary.mode = "bulk" if bulk else "incremental"
        pool = parser_pool(paths, workers)
        try:
            # Only for a bulk load (its input is finite; stdin may flow for days): millions of acyclic
            # tuples the cyclic GC would rescan for nothing (measured: a fifth of the parse time).
            with gc_paused() if bulk else nullcontext():
                self._read_all(paths, pool, bulk)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return self._finish()

    def _read_all(self, paths: Sequence[str], pool: "ProcessPoolExecutor | None", bulk: bool) -> None:
        with writer_into(self.store, drop_indexes=bulk) as self.writer:
            done = 0
            for path in paths:
                if self.stop.is_set():
                    break
                size = file_size(path) if path != STDIN else 0
                try:
                    blocks = read_stdin(self.stop) if path == STDIN else read_file(path)
                    with closing(blocks):
                        for parsed, block in parsed_blocks(blocks, pool, self.model, self.stop,
                                                           batch_rows=BATCH_ROWS):
                            if parsed is None or block is None:  # the input is quiet: commit
                                self._flush()
                                continue
                            self._take(parsed, block.source)
                            if self.progress:
                                self.progress(done + block.consumed, "reading")
                            if len(self.rows) >= BATCH_ROWS:
                                self._flush()
                except SourceError as exc:
                    self._source_failed(exc)
                done += size
            self._flush()
            if bulk and self.progress:
                self.progress(done, "indexing")

    def follow(self, paths: Sequence[str], *, allow_swapped_link: bool = False) -> IngestSummary:
        self.summary.mode = "follow"
        if STDIN in paths:
            raise SourceError("-: --follow reads files; standard input is read until it closes without --follow")
        files = [FollowedFile(path, self.store.offsets.get(source_name(path)), note=self.note,
                              allow_swapped_link=allow_swapped_link) for path in paths]
        last_commit = time.monotonic()
        with writer_into(self.store) as self.writer:
            stream = follow(files, self.stop, on_error=self._source_failed, max_wait_s=self.poll_s)
            with closing(stream):
                for block in stream:
                    if block is not None:
                        self._take(parse_block(block.data, block.first_line_no, self.model), block.source)
                        if block.position is not None:
                            self.positions[block.source] = block.position
                    due = time.monotonic() - last_commit >= FOLLOW_COMMIT_S
                    if block is None or due or len(self.rows) >= BATCH_ROWS:
                        if self._flush(retry_when_busy=True):
                            last_commit = time.monotonic()
            self._flush(retry_when_busy=True)
        return self._finish()

    # -- pieces -----------------------------------------------------------------------------

    def _bulk_pays_off(self, paths: Sequence[str]) -> bool:
        """Bulk when the input is at least as big as the store's predictions (cheap estimate)."""
        if STDIN in paths:
            return False  # a pipe may never end: commit as it comes
        estimated_rows = sum(file_size(p) * (GZIP_RATIO if is_gzip(p) else 1) for p in paths) // TYPICAL_RECORD_BYTES
        stored_rows = self.store.predictions.latest_id()  # max(id) >= count(*), and costs nothing
        return stored_rows <= estimated_rows

    def _take(self, parsed: ParsedBlock, source: str) -> None:
        self.summary.lines += parsed.lines
        self.summary.blank += parsed.blank
        self.rows.extend(parsed.rows)
        self.outcomes.extend(parsed.outcomes)
        if parsed.bad:
            self.bad.extend(stamp_quarantined(parsed.bad, source))

    def _flush(self, *, retry_when_busy: bool = False) -> bool:
        """Write what is pending, with quarantine and offsets, atomically. False if the store was busy."""
        if not (self.rows or self.bad or self.positions or self.outcomes):
            return True
        assert self.writer is not None
        try:
            # Joins a bulk load's one transaction; else one transaction a batch (StoreBusy when locked).
            with self.store.write():
                result = self.writer.write(self.rows) if self.rows else BatchResult()
                if result.accepted:
                    forget_computed_drift(self.store, self.rows)
                if self.bad:
                    self.store.quarantine.add_many(self.bad)
                if self.outcomes:
                    from app.store.quality import add_outcomes

                    add_outcomes(self.store, [tuple(row) for row in self.outcomes])
                for position in self.positions.values():
                    self.store.offsets.put(position)
        except StoreBusy as exc:
            if not retry_when_busy:
                raise
            if not self._busy_noted:
                self.note(f"{exc}; keeping what was read and retrying")
                self._busy_noted = True
            return False
        self._busy_noted = False
        self.summary.accepted += result.accepted
        self.summary.duplicates += result.duplicates
        self.summary.labelled += result.labelled
        self.summary.quarantined += len(self.bad)
        self.summary.outcomes += len(self.outcomes)
        self.rows, self.bad, self.positions, self.outcomes = [], [], {}, []
        return True

    def _source_failed(self, exc: SourceError) -> None:
        self.summary.errors.append(str(exc))
        self.note(str(exc))

    def _finish(self) -> IngestSummary:
        summary = self.summary
        summary.interrupted = self.stop.is_set() and summary.mode != "follow"
        summary.seconds = round(time.perf_counter() - self._started, 3)
        records = summary.lines - summary.blank
        summary.rows_per_s = round(records / summary.seconds, 1) if summary.seconds > 0 else 0.0
        return summary


class Follower:
    """Followed files read in passes, for ``modeldeck watch``: each ``catch_up()`` reads every file up to
    its current end and commits the rows with the files' offsets in the same transaction, so a kill -9
    loses and repeats nothing. The files stay open between passes (rotation is followed as ``ingest
    --follow`` follows it), and ``patterns`` are globs expanded again each pass, so new files are picked up.
    Rows a busy store refused stay pending for the next pass."""

    def __init__(self, store: "Store", patterns: Sequence[str], *, model: str | None = None,
                 note: Callable[[str], None] = lambda message: None, allow_swapped_link: bool = False) -> None:
        self.patterns = list(patterns)
        self._allow_swapped_link = allow_swapped_link
        self.files: dict[str, FollowedFile] = {}
        self._failed: dict[str, tuple[int, int]] = {}  # unreadable file -> (size, mtime) when it failed
        self._note = note
        self._run = _Run(store, model=model, stop=threading.Event(), progress=None, note=note, poll_s=0.0)
        self._run.summary.mode = "follow"

    def _discover(self) -> None:
        import glob

        for pattern in self.patterns:
            # A plain path is followed even before it exists (like ingest --follow); a glob names what exists.
            paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            for path in paths:
                name = source_name(path)
                if name in self._failed and self._failed[name] == _signature(path):
                    continue  # told once; tried again when the file changes (e.g. a .gz in the glob: never)
                if name not in self.files:
                    self._failed.pop(name, None)
                    self.files[name] = FollowedFile(path, self._run.store.offsets.get(name), note=self._note,
                                                    allow_swapped_link=self._allow_swapped_link)

    def catch_up(self) -> IngestSummary:
        """Read what was written since the last pass and commit it; the running totals."""
        run = self._run
        self._discover()
        with writer_into(run.store) as run.writer:
            for name, followed in list(self.files.items()):
                while True:
                    try:
                        block = followed.poll()
                    except SourceError as exc:
                        run._source_failed(exc)
                        followed.close()
                        del self.files[name]  # found again by a later pass's glob, resumed from its offset
                        self._failed[name] = _signature(followed.path)
                        break
                    if block is None:
                        break
                    run._take(parse_block(block.data, block.first_line_no, run.model), block.source)
                    if block.position is not None:
                        run.positions[block.source] = block.position
                    if len(run.rows) >= BATCH_ROWS:
                        run._flush(retry_when_busy=True)
            run._flush(retry_when_busy=True)
        return run.summary

    def lag_bytes(self) -> dict[str, int]:
        """Bytes written to each followed file and not read yet (a file not there yet: 0)."""
        lag = {}
        for name, followed in self.files.items():
            try:
                size = os.stat(followed.path).st_size
            except OSError:
                lag[name] = 0
                continue
            lag[name] = max(0, size - followed.position().offset) if followed._handle is not None else size
        return lag

    def close(self) -> None:
        for followed in self.files.values():
            followed.close()


def _signature(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (-1, -1)
    return (stat.st_size, stat.st_mtime_ns)


class AppendWriter:
    """The writer for a store without SQLite's bulk writer (PostgreSQL, where ``predictions.append`` is a
    COPY that skips known keys itself): one ``append`` a batch, inside the caller's ``store.write()``."""

    def __init__(self, store: "Store") -> None:
        self._store = store

    def __enter__(self) -> "AppendWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, rows: Sequence) -> BatchResult:
        accepted, duplicates = self._store.predictions.append(rows)
        return BatchResult(accepted=accepted, duplicates=duplicates)


def writer_into(store: "Store", *, drop_indexes: bool = False) -> "BulkWriter | AppendWriter":
    """The rows' writer for ``store``: SQLite's bulk writer, or the backend's own append."""
    if store.kind == "postgresql":
        return AppendWriter(store)
    return BulkWriter.into(store, drop_indexes=drop_indexes)


def stamp_quarantined(bad: list[QuarantinedLine], source: str) -> list[QuarantinedLine]:
    """Bad lines with their source and time, ready for the quarantine (both writers call this)."""
    ingested_at = now_ms()
    for line in bad:
        line.source, line.ingested_at = source, ingested_at
        # A log line may carry a token the config knows (an echoed Authorization header): the
        # quarantine is read by people, so known secret values never reach it. Redacted here, in
        # this process: parser worker processes may not know the secrets.
        line.raw, line.error = redact(line.raw), redact(line.error)
    return bad


def forget_computed_drift(store: "Store", rows: list) -> None:
    """Rows landing in drift windows that were already computed (a late or back-filled log) make those
    windows pending again, in the same transaction, so their drift is computed from the complete data
    (issue 6; app/drift/windows.py)."""
    if not store.drift.any_computed():
        return  # nothing computed yet (a first load): no per-row work
    # By position (ts, model first): rows from parser processes are plain tuples in PredictionRow order.
    spans: dict[str, tuple[int, int]] = {}
    for ts, model, *_ in rows:
        first, last = spans.get(model, (ts, ts))
        spans[model] = (min(first, ts), max(last, ts))
    for model, (first, last) in spans.items():
        store.drift.invalidate(model, first, last)
