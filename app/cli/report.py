"""``modeldeck report MODEL [--output FILE]``: a Markdown readiness report (checks evaluated now)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from app.cli.main import CliContext, pass_cli


def _write_atomically(path: Path, text: str) -> None:
    # A reader (a CI artifact upload, a browser) never sees half a report.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@click.command()
@click.argument("model")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE (default: standard output).")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Check the endpoint's health now (else the serving area stays pending).")
@pass_cli
def report(cli: CliContext, model: str, output: Path | None, probe: bool) -> None:
    """Write MODEL's readiness report as Markdown: score, the 8 areas, evidence, sign-offs, audit."""
    from app.checklist.evaluate import UnknownModel, evaluate
    from app.checklist.report import gather_report, render_markdown, terminal_text
    from app.cli.check import probe_health
    from app.timeutil import now_ms

    if not cli.store_exists():
        # Checking a model must not create an empty store at a mistyped path.
        from app.store import StoreError

        raise StoreError(f"{cli.db_path}: no such store")
    with cli.open_store() as store:
        model = cli.resolve_model(model, store)
        health = probe_health(cli.settings, model) if probe else None
        now = now_ms()
        try:
            items = evaluate(store, model, settings=cli.settings, now=now, health=health)
        except UnknownModel as exc:
            click.echo(f"modeldeck: error: {terminal_text(exc)}", err=True)
            sys.exit(2)
        text = render_markdown(gather_report(store, model, items, generated_at=now))
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_atomically(output, text)
        click.echo(f"wrote {output}", err=True)
