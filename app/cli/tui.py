"""``modeldeck tui`` (and plain ``modeldeck``): open the console on the configured store."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.cli.main import CliContext, pass_cli
from app.config.source import SettingsSource

if TYPE_CHECKING:
    from app.config.settings import Settings

SSH_ESCDELAY_MS = "300"


def run_console(settings: Settings | SettingsSource, db_path: Path | None = None, *, demo: bool = False,
                at_ms: int | None = None) -> None:
    """Run the console until the operator quits (``modeldeck demo`` calls this too).

    ``settings`` are either already read (the demo, which also names its store) or a
    ``SettingsSource``: the console then paints first and reads them, and opens the store they
    name, in a worker. A bad config or store ends the run with one line on stderr and exit 2,
    as it does for every other command.
    """
    if "ESCDELAY" not in os.environ and os.environ.get("SSH_CONNECTION"):
        # Over a slow SSH link an arrow key's escape sequence can arrive in pieces; Textual then
        # reads a lone ESC (back) plus junk. Waiting a little longer for the rest avoids that.
        # Textual reads ESCDELAY when imported, so this must happen before app.console.app is imported.
        os.environ["ESCDELAY"] = SSH_ESCDELAY_MS
    from app.console.app import ModeldeckApp

    console = ModeldeckApp(db_path, settings, demo=demo, at_ms=at_ms)
    console.run()
    if console.startup_error:
        for line in console.startup_error.splitlines():
            click.echo(f"modeldeck: error: {line}", err=True)
        sys.exit(2)
    if console.crash:
        click.echo(f"modeldeck: error: {console.crash}", err=True)
        sys.exit(2)


@click.command("tui")
@pass_cli
def tui(cli: CliContext) -> None:
    """Open the console: fleet, model readiness, card and activity. Press ? for the keys."""
    run_console(cli.source, at_ms=cli.at_ms)
