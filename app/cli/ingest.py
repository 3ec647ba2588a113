"""``modeldeck ingest PATH... [--model NAME] [--follow] [--json]``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

from app.cli.main import CliContext, pass_cli

# Files smaller than this load in about a second: no progress bar.
PROGRESS_MIN_BYTES = 4 << 20

EXIT_OK = 0
EXIT_UNREADABLE = 1  # some input could not be read; the rest was ingested
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C / SIGTERM before the end (not with --follow)


@click.command()
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--model", metavar="NAME",
              help="Model of records that name none; records naming another model are quarantined.")
@click.option("--follow", "-f", is_flag=True,
              help="Keep reading as the files grow and across rotation, like tail -F; resumes where the last "
                   "run stopped. Stop with Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--schema", is_flag=True, help="Print the JSON schema of a prediction record and exit.")
@pass_cli
def ingest(cli: CliContext, paths: tuple[str, ...], model: str | None, follow: bool, as_json: bool,
           schema: bool) -> None:
    """Append JSON Lines prediction logs (plain or .gz; - for stdin) to the store.

    Every line is validated; a bad line goes to the quarantine table with its source, line
    number, raw text and the error, and the run goes on. Records already stored (same model,
    version and request_id) are skipped, except that a label arriving later fills an empty label.

    Exit status: 0 when every input was read (quarantined lines included), 1 when an input
    could not be read (the others are still ingested), 2 for a store or usage problem, 130
    when stopped before the end (with --follow, stopping is the normal end: 0).
    """
    from app.ingest.run import ingest as run_ingest
    from app.ingest.run import prediction_schema_text
    from app.ingest.workers import input_bytes
    from app.ingest.source import STDIN, SourceError

    if schema:
        click.echo(prediction_schema_text(), nl=False)
        return
    if not paths:
        raise click.UsageError("give at least one PATH (or - for standard input)")
    if follow and STDIN in paths:
        raise click.UsageError("--follow reads files; standard input is read until it closes, without --follow")

    def note(message: str) -> None:
        click.echo(f"modeldeck: {message}", err=True)

    stop = threading.Event()
    with cli.open_store() as store, _stop_on_signals(stop, note), \
            _progress_bar(input_bytes(paths), enabled=not follow) as progress:
        store.check()  # a damaged store gets nothing more written into it (StoreCorrupt: one line, exit 2)
        if store.kind == "postgresql" and not follow:  # COPY through the store's append (app/ingest/batches.py)
            _ingest_pg(store, paths, model=model, follow=follow, stop=stop, progress=progress, as_json=as_json)
            return
        indexed = cli.settings.search.indexed_features
        if follow:  # a follower runs until stopped: index first, then keep the index current
            _index_features(store, indexed, note)
        try:
            summary = run_ingest(store, paths, model=model, follow=follow, stop=stop, progress=progress, note=note,
                                 allow_swapped_link=cli.settings.ingest.allow_swapped_link)
        except SourceError as exc:
            note(f"error: {exc}")
            sys.exit(EXIT_UNREADABLE)
        if not follow:  # after a load: one pass over the table beats maintaining the index row by row
            _index_features(store, indexed, note)
    if as_json:
        click.echo(summary.model_dump_json())
    else:
        click.echo(_summary_text(summary))
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if summary.errors:
        sys.exit(EXIT_UNREADABLE)


def _ingest_pg(store: Any, paths: tuple[str, ...], *, model: str | None, follow: bool, stop: threading.Event,
               progress: Callable[[int, str], None] | None, as_json: bool) -> None:
    from app.ingest.batches import ingest_batches
    from app.ingest.source import SourceError
    try:
        summary = ingest_batches(store, paths, model=model, stop=stop, progress=progress)
    except SourceError as exc:
        click.echo(f"modeldeck: error: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    click.echo(summary.model_dump_json() if as_json else _summary_text(summary))
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)


def _index_features(store: Any, names: list[str], note: Callable[[str], None]) -> None:
    """The features the config declares for search get their generated column and index (idempotent):
    ingest is the writer, so a read-only searcher never has to wait for them."""
    from app.store.search import ensure_feature_indexes

    if not names or store.kind == "postgresql":  # PostgreSQL: `db init` (the owner) makes them
        return
    try:
        added = ensure_feature_indexes(store, names)
    except ValueError as exc:
        note(f"warning: {exc}")
        return
    if added:
        note(f"indexed features {', '.join(added)} for search")


def _summary_text(summary) -> str:  # summary: app.ingest.run.IngestSummary
    head = (f"{summary.lines:,} lines in {summary.seconds:.2f} s ({summary.rows_per_s:,.0f} rows/s, "
            f"{summary.mode}{', interrupted' if summary.interrupted else ''})")
    counts = (f"{summary.accepted:,} accepted, {summary.duplicates:,} duplicates, {summary.labelled:,} labelled, "
              f"{summary.quarantined:,} quarantined, {summary.blank:,} blank"
              + (f", {summary.outcomes:,} outcomes" if summary.outcomes else ""))
    return f"{head}: {counts}"


@contextmanager
def _stop_on_signals(stop: threading.Event, note: Callable[[str], None]) -> Iterator[None]:
    """First Ctrl-C / SIGTERM: finish cleanly (commit what was read, print the summary).
    A second Ctrl-C aborts at once; an unfinished bulk load then rolls back as a whole."""

    def handler(signum: int, frame: object) -> None:
        if not stop.is_set():
            note("stopping: committing what was read (Ctrl-C again to abort)")
            stop.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _progress_bar(total_bytes: int, *, enabled: bool) -> Iterator[Callable[[int, str], None] | None]:
    """A progress bar on stderr for big inputs, when a person is watching stdout."""
    if not enabled or total_bytes < PROGRESS_MIN_BYTES or not sys.stdout.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description:<9}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    # Refreshed from update() rather than by rich's timer thread: ingest forks its parser
    # workers, which is only safe in a process without other threads.
    with Progress(*columns, console=Console(stderr=True), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("reading", total=total_bytes)
        last = 0.0

        def update(done: int, phase: str) -> None:
            nonlocal last
            bar.update(task, completed=done, description=phase)
            if time.monotonic() - last > 0.1 or phase != "reading":
                bar.refresh()
                last = time.monotonic()

        yield update
