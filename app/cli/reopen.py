"""``modeldeck reopen MODEL AREA --version V``: undo a waiver or manual pass; the check judges again."""

from __future__ import annotations

import click

from app.cli.main import CliContext, pass_cli
from app.cli.readiness_change import run_change


@click.command()
@click.argument("model")
@click.argument("area")
@click.option("--version", "version", default=None, help="The version (default: the active one).")
@pass_cli
def reopen(cli: CliContext, model: str, area: str, version: str | None) -> None:
    """Reopen AREA of VERSION of MODEL and run its automatic check at once. Audited; refused under
    read-only. (The serving area is judged without a health probe here: run `check` for that.)"""
    from app.checklist import evaluate as checklist

    def change(store) -> str:  # type: ignore[no-untyped-def]
        item = checklist.reopen(store, model, area, recheck=True, settings=cli.settings, version=version)
        return f"{model} {item.version}: {area} reopened by {item.updated_by}, now {item.status.value}: {item.evidence}"

    run_change(cli, change)
