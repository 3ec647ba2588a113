"""``modeldeck review MODEL --note ...``: record the monthly health review of a model."""

from __future__ import annotations

import click

from app.cli.main import CliContext, pass_cli
from app.cli.readiness_change import run_change


@click.command()
@click.argument("model")
@click.option("--note", required=True, help="What was looked at and what was found.")
@pass_cli
def review(cli: CliContext, model: str, note: str) -> None:
    """Record MODEL's health review under your identity; the fleet marks a model whose last review is
    older than governance.review_every_days (default 31). Audited; refused under read-only."""
    from app.checklist.evaluate import record_review
    from app.timeutil import TimeFormat, format_ms

    def change(store) -> str:  # type: ignore[no-untyped-def]
        done = record_review(store, model, note, settings=cli.settings)
        return (f"{model}: health review recorded by {done.reviewed_by} at "
                f"{format_ms(done.reviewed_at, TimeFormat.MINUTE)} (version {done.version or 'none'})")

    run_change(cli, change)
