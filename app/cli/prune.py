"""``modeldeck prune --older-than 400d [--archive DIR]``: archive, delete and give back the space of old
prediction logs (app/checklist/retention.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.main import CliContext, fail, pass_cli
from app.text import terminal_line

CONFIRM_WORD = "prune"


@click.command()
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Delete predictions logged longer ago than this (e.g. 400d).")
@click.option("--archive", "archive", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="First write the pruned rows to DIR/predictions-YYYY-MM-DD.jsonl.gz (modeldeck ingest reads "
                   "them back). Default: [retention] archive_dir; without either, the rows are gone for good.")
@click.option("--yes", is_flag=True, help="Do not ask for the typed confirmation (scripts, CI).")
@click.option("--no-vacuum", is_flag=True, help="Do not VACUUM after deleting (freed pages are reused by new rows).")
@click.option("--below-horizon", is_flag=True,
              help="Allow an age under [retention] debug_horizon_days (refused otherwise).")
@pass_cli
def prune(cli: CliContext, older_than: str, archive: Path | None, yes: bool, no_vacuum: bool,
          below_horizon: bool) -> None:
    """Delete predictions older than AGE, after archiving them; audited, refused under read-only."""
    from app.checklist.retention import PruneRefused, plan, prune as run_prune
    from app.guard import read_only_reason
    from app.store import StoreError
    from app.timeutil import parse_duration_ms

    try:
        older_than_ms = parse_duration_ms(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    if not cli.store_exists():
        raise StoreError(f"{cli.db_path}: no such store")  # a typo must not create an empty store
    archive = archive if archive is not None else cli.settings.retention.archive_dir
    with cli.open_store() as store:
        try:
            chosen = plan(store, older_than_ms, archive, settings=cli.settings, below_horizon=below_horizon)
        except PruneRefused as exc:
            fail(str(exc))
        for line in chosen.describe():
            click.echo(terminal_line(line))
        if not chosen.rows:
            return
        if read_only_reason(cli.settings) is None and not yes:
            try:
                typed = click.prompt(f"Type '{CONFIRM_WORD}' to delete {chosen.rows:,} predictions", default="",
                                     show_default=False, err=True)
            except click.Abort:  # no answer (a script without a terminal, ctrl-c)
                typed = ""
            if typed.strip() != CONFIRM_WORD:
                click.echo("modeldeck: not confirmed (scripts pass --yes); nothing was deleted", err=True)
                sys.exit(1)
        if not no_vacuum:
            click.echo("then VACUUM: rewrites the store to give the space back (needs free disk about the store's "
                       "size; writers wait, readers carry on)", err=True)
        done = run_prune(store, cli.settings, chosen, vacuum=not no_vacuum)  # read-only: refused and audited
    for path in done.files:
        click.echo(terminal_line(f"archived  {path}"))
    by_model = ", ".join(f"{model} {count:,}" for model, count in sorted(done.by_model.items()))
    click.echo(terminal_line(f"deleted   {done.rows:,} predictions ({by_model})"))
    if done.vacuum_error is not None:
        click.echo(terminal_line(f"modeldeck: warning: space not given back ({done.vacuum_error}); "
                                 "the freed pages are reused by new rows"), err=True)
    elif done.bytes_before is not None and done.bytes_after is not None:
        click.echo(f"store     {_mb(done.bytes_before)} -> {_mb(done.bytes_after)}")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
