"""``modeldeck watch [--once] [--listen HOST:PORT] [--interval SECONDS]``: monitoring without a console."""

from __future__ import annotations

import signal
import sys
import threading

import click

from app.cli.main import CliContext, pass_cli


@click.command()
@click.option("--once", is_flag=True, help="One pass (follow, poll, drift, rules, delivery), then exit; no server.")
@click.option("--listen", metavar="HOST:PORT", default=None,
              help="Serve /healthz and /metrics here (default: [watch] listen, 127.0.0.1:9464; port 0: any free).")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.05), default=None,
              help="Seconds between passes (default: [watch] interval_s, 15).")
@pass_cli
def watch(cli: CliContext, once: bool, listen: str | None, interval_s: float | None) -> None:
    """Follow the configured logs, poll the endpoints, compute drift windows as they close, evaluate every
    alert rule and deliver alerts to the [[notify]] targets, pass after pass, until SIGTERM or Ctrl-C.

    One line per pass outcome goes to stderr (journald reads it). A kill -9 loses and repeats nothing:
    followed offsets commit with the rows, and each notification is recorded in the store.
    Exit status: 0 when stopped by a signal (or --once finished cleanly), 1 when --once had a failing step,
    2 for a config, store or address problem.
    """
    from app.watch.loop import Watcher

    import re

    settings = cli.settings
    interval = interval_s or settings.watch.interval_s
    if listen is not None and not re.fullmatch(r"[^\s:]*:\d{1,5}", listen):
        raise click.BadParameter(f"{listen!r} is not HOST:PORT (e.g. 127.0.0.1:9464)", param_hint="--listen")

    def note(message: str) -> None:
        click.echo(f"modeldeck watch: {message}", err=True)

    stop = threading.Event()
    watcher = Watcher(settings, cli.db_path, note=note)
    server = None
    try:
        if not once:
            from app.watch.exposition import ExpositionServer

            address = listen or settings.watch.listen
            try:
                server = ExpositionServer(address, lambda: watcher.snapshot, interval).start()
            except (OSError, ValueError) as exc:
                click.echo(f"modeldeck: error: cannot listen on {address}: {exc}", err=True)
                sys.exit(2)
            note(f"serving /metrics and /healthz on http://{server.host}:{server.port}; a pass every {interval:g}s")
        _stop_on_signals(stop, note)
        while True:
            report = watcher.run_pass()
            for line in (*report.transitions, *report.deliveries):
                note(line)
            for line in report.errors:
                note(f"error: {line}")
            if once:
                note(f"pass done in {report.seconds:.2f}s: {report.lines} lines, {report.windows} drift windows, "
                     f"{len(report.transitions)} alert changes, {len(report.deliveries)} deliveries")
                if report.errors:
                    sys.exit(1)
                return
            if stop.wait(interval):
                note("stopped")
                return
    finally:
        if server is not None:
            server.stop()
        watcher.close()


def _stop_on_signals(stop: threading.Event, note) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM / Ctrl-C: finish the current pass (its writes are transactions anyway), then exit 0."""

    def handler(signum: int, frame: object) -> None:
        if not stop.is_set():
            note("stopping after this pass")
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
