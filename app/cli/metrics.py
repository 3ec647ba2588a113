"""``modeldeck metrics MODEL --version V --set accuracy=0.93 p95_latency_ms=41 ...`` (or ``--from FILE.json``):
store a version's offline metrics and benchmarks, audited with who and when; refused read-only."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.main import CliContext, fail, pass_cli


@click.command()
@click.argument("model")
@click.option("--version", "version", required=True, help="The version measured.")
@click.option("--set", "set_flag", is_flag=True, help="Figures follow as NAME=NUMBER words.")
@click.option("--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A JSON object of NAME: NUMBER.")
@click.argument("figures", nargs=-1)
@pass_cli
def metrics(cli: CliContext, model: str, version: str, set_flag: bool, from_file: Path | None,
            figures: tuple[str, ...]) -> None:
    """Record VERSION's offline metrics (quality, p95_latency_ms, throughput_rps, ...); a name given again
    replaces its figure."""
    import orjson

    from app.checklist.evaluate import ChecklistError
    from app.checklist.inputs import check_figures, parse_figures, set_metrics
    from app.rollback.actions import read_only_reason
    from app.text import terminal_line

    if not figures and from_file is None:
        fail("give figures: --set NAME=NUMBER ... or --from FILE.json")
    try:
        given = parse_figures(list(figures)) if figures else {}
        if from_file is not None:
            try:
                loaded = orjson.loads(from_file.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                fail(f"{from_file}: cannot read the metrics ({exc})")
            given = {**check_figures(loaded), **given}
    except ChecklistError as exc:
        fail(str(exc))
    with cli.open_store() as store:
        model = cli.resolve_model(model, store)
        version = cli.resolve_version(store, model, version)
        try:
            stored = set_metrics(store, model, version, given, read_only=read_only_reason(cli.settings, model))
        except ChecklistError as exc:
            fail(str(exc))
    shown = ", ".join(f"{terminal_line(k)}={v:g}" for k, v in stored.items() if isinstance(v, (int, float)))
    click.echo(f"{terminal_line(model)} {terminal_line(version)}: {shown}")
