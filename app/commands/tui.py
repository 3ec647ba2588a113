"""``modeldeck tui`` (and plain ``modeldeck``): open the console on the configured store."""

from __future__ import annotations

import os
from pathlib import Path

import click

from app.cli import CliContext, pass_cli
from app.config import Settings


def check_store(db_path: Path) -> None:
    """Open (creating or migrating) the store once, before the screen is taken over.

    A bad file then fails as the usual one-line ``StoreError`` on stderr instead of inside
    the console. Only the plain sqlite3 layer is used here: sqlite-utils stays off the
    startup path, and nothing is counted.
    """
    from app.store.connection import connect, migrate

    conn = connect(db_path)
    try:
        migrate(conn, db_path)
    finally:
        conn.close()


SSH_ESCDELAY_MS = "300"


def run_console(db_path: Path, settings: Settings, *, demo: bool = False) -> None:
    """Run the console until the operator quits (``modeldeck demo`` calls this too)."""
    check_store(db_path)
    if "ESCDELAY" not in os.environ and os.environ.get("SSH_CONNECTION"):
        # Over a slow SSH link an arrow key's escape sequence can arrive in pieces; Textual then
        # reads a lone ESC (back) plus junk. Waiting a little longer for the rest avoids that.
        # Textual reads ESCDELAY when imported, so this must happen before app.tui is imported.
        os.environ["ESCDELAY"] = SSH_ESCDELAY_MS
    from app.tui import ModeldeckApp

    ModeldeckApp(db_path, settings, demo=demo).run()


@click.command("tui")
@pass_cli
def tui(cli: CliContext) -> None:
    """Open the console: fleet, model readiness, card and activity. Press ? for the keys."""
    run_console(cli.db_path, cli.settings)
