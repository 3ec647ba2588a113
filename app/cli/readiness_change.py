"""What ``signoff``, ``waive``, ``reopen`` and ``review`` share: open the store (never creating one), make
the change through app/checklist/evaluate.py (the functions the console's s/w/o keys call, which
refuse under read-only and audit under the caller's identity), and turn a refusal into one line, exit 2."""

from __future__ import annotations

import sys
from typing import Any, Callable

import click

from app.cli.main import CliContext

EXIT_ERROR = 2


def run_change(cli: CliContext, change: Callable[[Any], str]) -> None:
    """Run ``change(store)`` (returns the line to print); a refused or impossible change is one line on
    stderr with exit status 2, and nothing but the refusal's audit row is written."""
    from app.checklist.evaluate import ChecklistError
    from app.checklist.report import terminal_text
    from app.store import StoreError

    if not cli.store_exists():
        raise StoreError(f"{cli.db_path}: no such store")  # a typo must not create an empty store
    with cli.open_store() as store:
        try:
            line = change(store)
        except ChecklistError as exc:
            click.echo(f"modeldeck: error: {terminal_text(str(exc))}", err=True)
            sys.exit(EXIT_ERROR)
    click.echo(terminal_text(line))
