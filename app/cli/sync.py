"""``modeldeck sync [MODEL] [--json]``: read each configured registry and endpoint and store what it says
(versions, the active one, and from MLflow descriptions as cards, tags, aliases, stage, run metrics).

Exit status: 0 when every source answered, 1 when one could not be read (what it gave before stays,
marked with its age), 2 for a usage, store or config problem (no source configured).
"""

from __future__ import annotations

import sys

import click

from app.cli.main import CliContext, fail, pass_cli


@click.command()
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per (model, source).")
@pass_cli
def sync(cli: CliContext, model: str | None, as_json: bool) -> None:
    """Sync MODEL (else every configured model) from its registry and endpoint."""
    from app.rollback.actions import read_only_reason
    from app.sync.run import sources, sync as run_sync
    from app.text import terminal_line
    from app.timeutil import age_text

    if model is not None:
        model = cli.resolve_model(model)
    if not sources(cli.settings, model):
        fail(f"no registry or endpoint configured{' for ' + model if model else ''} "
             "(models.NAME.registry / models.NAME.endpoint in the config)")
    if cli.settings.read_only:
        fail(f"refused: {read_only_reason(cli.settings, model or '')}")
    with cli.open_store() as store:
        results = run_sync(store, cli.settings, model)
    for result in results:
        if as_json:
            click.echo(result.model_dump_json())
            continue
        where = f"{terminal_line(result.model)} from {terminal_line(result.source)}"
        if result.ok:
            extra = [f"active {terminal_line(result.active)}" if result.active else "no active version"]
            if result.cards:
                extra.append(f"card for {', '.join(terminal_line(v) for v in result.cards)}")
            if result.metrics:
                extra.append(f"metrics for {', '.join(terminal_line(v) for v in result.metrics)}")
            click.echo(f"{where}: {len(result.versions)} versions; {'; '.join(extra)}")
        else:
            age = (f"keeping what was synced {age_text(result.age_ms)} ago" if result.age_ms is not None
                   else "nothing synced from it yet")
            click.echo(f"{where}: cannot read it ({terminal_line(result.error)}); {age}", err=True)
    sys.exit(0 if all(r.ok for r in results) else 1)
