"""``modeldeck migrate-store SQLITE_FILE postgresql://...``: copy a store to PostgreSQL, resumably."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli.main import CliContext, fail, pass_cli


@click.command(name="migrate-store")
@click.argument("sqlite_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target")
@click.option("--sample", type=click.IntRange(min=0), default=200, show_default=True,
              help="Prediction rows compared field by field after the copy.")
@pass_cli
def migrate_store(cli: CliContext, sqlite_file: Path, target: str, sample: int) -> None:
    """Copy the catalogue, the prediction log, the audit trail and the quarantine of SQLITE_FILE into the
    PostgreSQL store TARGET (created when empty), with a progress bar; run it again to resume. At the end
    the counts and a sample of rows are compared: exit 0 when they agree, 1 when not."""
    from app.store import Store, StoreError
    from app.store.pg.migrate import migrate
    from app.store.pg.url import is_pg_url

    if not is_pg_url(target):
        fail("the target must be a postgresql://user@host/dbname address")
    if not sqlite_file.is_file():
        raise StoreError(f"{sqlite_file}: no such store")
    with cli.open_to_read(sqlite_file) as source, Store.open(target) as dest:
        bar = _bar()
        try:
            report = migrate(source, dest, source_name=str(sqlite_file.resolve()),  # type: ignore[arg-type]
                             progress=bar.update if bar else None, sample=sample)
        finally:
            if bar:
                bar.close()
        where = dest.location  # type: ignore[attr-defined]
    for family, n in report.copied.items():
        click.echo(f"copied {n:,} {family}")
    width = max((len(family) for family in report.counts), default=0)
    for family, (src, dst) in report.counts.items():
        click.echo(f"{family:<{width}} {src:>12,} in {sqlite_file.name}  {dst:>12,} in {where}"
                   + ("" if src == dst else "  DIFFERENT"))
    click.echo(f"sample: {report.sample_checked} rows compared, {len(report.mismatches)} different")
    for line in report.mismatches[:10]:
        click.echo(f"  different: {line}")
    if report.not_copied:
        click.echo("not copied (no PostgreSQL tables yet): " +
                   ", ".join(f"{family} ({n:,})" for family, n in report.not_copied.items()))
    if not report.ok:
        sys.exit(1)


class _Bar:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._progress.start()
        self._tasks: dict[str, int] = {}

    def update(self, family: str, done: int, total: int) -> None:
        if family not in self._tasks:
            self._tasks[family] = self._progress.add_task(family, total=total)
        self._progress.update(self._tasks[family], completed=done)  # type: ignore[arg-type]

    def close(self) -> None:
        self._progress.stop()


def _bar() -> _Bar | None:
    return _Bar() if sys.stderr.isatty() else None
