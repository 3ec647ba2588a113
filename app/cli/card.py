"""``modeldeck card MODEL --version V FILE.md``: set a version's model card (Markdown, stored as untrusted
text by section), audited; refused read-only. Prints which required sections are still missing."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.main import CliContext, fail, pass_cli


@click.command()
@click.argument("model")
@click.option("--version", "version", required=True, help="The version the card describes.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def card(cli: CliContext, model: str, version: str, file: Path) -> None:
    """Set VERSION's model card from FILE (Markdown; '-' reads standard input)."""
    from app.checklist.evaluate import ChecklistError
    from app.checklist.inputs import set_card
    from app.rollback.actions import read_only_reason
    from app.text import terminal_line

    try:
        text = click.get_text_stream("stdin").read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read the card ({exc.__class__.__name__}: {exc})")
    with cli.open_store() as store:
        model = cli.resolve_model(model, store)
        version = cli.resolve_version(store, model, version)
        try:
            missing = set_card(store, model, version, text, read_only=read_only_reason(cli.settings, model))
        except ChecklistError as exc:
            fail(str(exc))
    click.echo(f"set the card of {terminal_line(model)} {terminal_line(version)}"
               + (f"; missing: {', '.join(missing).lower()}" if missing else "; all required sections present"))
