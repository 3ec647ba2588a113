"""``modeldeck demo [--db FILE] [--rows N] [--seed N] [--rebuild] [--no-tui]``: build (or reuse) the demo
store, then open the console on it with the demo serving endpoint running on 127.0.0.1 and live traffic
(app/demo/live.py) appending predictions until the console quits.

The demo store lives at ``--db`` when given (before or after ``demo``), else ``demo.db`` in the
user data directory (next to the default store). ``MODELDECK_DB`` and the config file's ``db`` name the operator's
real store, so they are deliberately not used here: the demo never writes to a real store,
and ``app.demo.build`` refuses to overwrite any file that is not a finished demo store.
"""

from __future__ import annotations

import time
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import click

from app.cli.main import CliContext, pass_cli

EXIT_INTERRUPTED = 130
# A demo store older than this is rebuilt: its traffic stops at build time, the console is about now.
STALE_AFTER_MS = 3_600_000


@click.command()
@click.option("--db", "db_option", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="The demo store (same as modeldeck --db; default: demo.db in the user data dir).")
@click.option("--rows", type=click.IntRange(min=0), default=None, metavar="N",
              help="Predictions to generate over the 30 days  [default: 1,000,000]")
@click.option("--seed", type=int, default=None, metavar="N",
              help="Random seed: the same seed gives the same store  [default: 42]")
@click.option("--rebuild", is_flag=True, help="Build a fresh store even if a finished one is there.")
@click.option("--no-tui", is_flag=True, help="Build (or find) the store, print what is in it, and stop.")
@pass_cli
def demo(cli: CliContext, db_option: Path | None, rows: int | None, seed: int | None, rebuild: bool,
         no_tui: bool) -> None:
    """Build a realistic demo store and open the console on it.

    Four models with champions, challengers and archived versions, 30 days of predictions
    with late ground truth, two drift episodes, an incident and its rollback, baselines,
    model cards, readiness checklists and an audit history. A finished demo store is reused
    unless --rebuild (or a different --rows/--seed) is given, or its traffic ended over an hour
    ago (it is rebuilt with the same size and seed). The console talks to a demo
    serving endpoint on 127.0.0.1 (modeldeck's http protocol), so rollback works for real,
    and new predictions keep arriving while it is open (the gap since the last run, up to
    an hour, is filled in first).
    """
    from app.config.settings import default_demo_db_path
    from app.demo.build import DEFAULT_ROWS, DEFAULT_SEED, build_demo_store, existing_demo, traffic_until
    from app.timeutil import now_ms as current_ms

    if db_option is not None:
        path = db_option
    elif cli.db_given and cli.settings.db is not None:
        path = cli.settings.db
    else:
        path = default_demo_db_path()
    found = existing_demo(path)  # StoreError (one line, exit 2) for a file that is not a demo store
    if found is not None and not rebuild:
        differs = [f"--{name} {wanted}" for name, wanted, had in (("rows", rows, found.rows),
                                                                    ("seed", seed, found.seed))
                   if wanted is not None and wanted != had]
        if differs:
            click.echo(f"modeldeck: {path} holds a demo of {found.rows:,} rows (seed {found.seed}); "
                       f"building one with {', '.join(differs)}", err=True)
            rebuild = True
    # Its traffic ends when it was built, or when the live traffic of its last console session stopped:
    # an old demo shows an idle fleet and failing readiness.
    ended = max(found.now_ms, traffic_until(path) or 0) if found is not None else 0
    if found is not None and not rebuild and current_ms() - ended > STALE_AFTER_MS:
        hours = (current_ms() - ended) / 3_600_000
        click.echo(f"modeldeck: the demo store's traffic ended {hours:.1f} h ago; building a fresh one "
                   "so the console shows recent traffic", err=True)
        rows = found.rows if rows is None else rows
        seed = found.seed if seed is None else seed
        rebuild = True
    if found is not None and not rebuild:
        summary = found
        head = (f"Reusing the demo store {path} ({summary.rows:,} predictions, built in {summary.seconds:.1f} s; "
                f"--rebuild for a fresh one)")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        wanted_rows = DEFAULT_ROWS if rows is None else rows
        try:
            with _progress(wanted_rows) as (progress, phase):
                summary = build_demo_store(path, rows=wanted_rows, seed=DEFAULT_SEED if seed is None else seed,
                                           progress=progress, phase=phase)
        except KeyboardInterrupt:
            click.echo("modeldeck: interrupted; the demo store was not changed", err=True)
            sys.exit(EXIT_INTERRUPTED)
        head = (f"Built the demo store {path} in {summary.seconds:.1f} s "
                f"({summary.rows_per_second:,.0f} predictions/s)")
    click.echo(head)
    for line in summary.describe():
        click.echo(line)
    if no_tui:
        click.echo(f"Open it with: modeldeck demo --db {_shell_quote(path)}")
        return
    _console(cli, path)


def _console(cli: CliContext, path: Path) -> None:
    """Serve the demo's models on 127.0.0.1 for as long as the console runs."""
    from app.cli.tui import run_console
    from app.demo.endpoint import start_demo_endpoint, with_demo_endpoints, write_demo_config
    from app.demo.live import LiveTraffic

    with start_demo_endpoint(path, host="127.0.0.1", port=0) as endpoint:
        # The demo is a user's setup: its endpoint and gates as a config beside the store, so the headless
        # commands act on it exactly as this console does (while it runs).
        config = write_demo_config(path, endpoint)
        click.echo(f"Demo config: {config}; while the console runs, in another terminal: "
                   f"modeldeck --config {_shell_quote(config)} check fraud-scorer")
        # Requests keep arriving while the console runs: the log-derived figures stay live.
        live = LiveTraffic(path, endpoint_state=endpoint.state).start()
        try:
            click.echo(f"Demo serving endpoint: {endpoint.url} (modeldeck's http protocol)")
            run_console(with_demo_endpoints(cli.settings, endpoint), path, demo=True)
        finally:
            live.stop()
        if live.error:
            click.echo(f"modeldeck: {live.error}", err=True)


@contextmanager
def _progress(total_rows: int) -> Iterator[tuple[Callable[[int, int], None] | None, Callable[[str], None] | None]]:
    """(rows written, step) reporters: a progress bar on stderr when a person is watching, where each step
    after the rows gets its own line with a running clock (a bar at 100 % with a frozen clock looked
    hung); one line per step on stderr when the output is not a terminal; nothing for a small store."""
    if total_rows < 50_000:
        yield None, None
        return
    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        started = time.monotonic()

        def say(name: str) -> None:
            click.echo(f"modeldeck demo: {name}… ({time.monotonic() - started:.0f} s)", err=True)

        say(f"writing {total_rows:,} predictions")
        yield None, say
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("generating 30 days of traffic", total=total_rows)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description="writing predictions")

        steps: list[int] = []

        def step(name: str) -> None:
            if steps:  # the previous step is done: its clock stops, the new one's runs
                bar.update(steps[-1], completed=1, total=1)
            else:
                bar.update(task, completed=total_rows, total=total_rows)
            steps.append(bar.add_task(name, total=None))  # no total: a pulsing bar and a running clock

        yield update, step


def _shell_quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))
