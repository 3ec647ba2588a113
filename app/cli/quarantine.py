"""``modeldeck quarantine [--since T] [--source FILE] [--format table|jsonl]``: the lines ingest could not take."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from app.cli.main import CliContext, pass_cli

if TYPE_CHECKING:
    from app.models import QuarantinedLine

PAGE = 1000


@click.command()
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store file (overrides modeldeck --db and the config).")
@click.option("--since", metavar="T", help="Only lines quarantined since T (15m, 2h, 7d or an ISO time).")
@click.option("--source", "source", metavar="FILE", help="Only the lines of this ingested file (- for stdin).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True)
@click.option("--limit", "-n", type=click.IntRange(min=0), default=None,
              help="At most N lines, newest first (default: 50 for table, all for jsonl; 0 = all).")
@pass_cli
def quarantine(cli: CliContext, db_path: Path | None, since: str | None, source: str | None, fmt: str,
               limit: int | None) -> None:
    """List the lines ingest quarantined: file, line number, reason and the raw text (escaped).

    Ingesting the same file again does not quarantine its bad lines twice.
    """
    from app.ingest.source import source_name
    from app.timeutil import parse_time_ref

    since_ms = None
    if since is not None:
        try:
            since_ms = parse_time_ref(since)
        except ValueError:
            raise click.BadParameter("use 15m, 2h, 7d or an ISO time", param_hint="--since") from None
    path = db_path or cli.db_path
    wanted = source_name(source) if source is not None else None
    if limit is None:
        limit = 50 if fmt == "table" else 0
    with cli.open_to_read(path) as store:
        written, after = 0, None
        out = sys.stdout.buffer
        while not limit or written < limit:
            size = PAGE if not limit else min(PAGE, limit - written)
            lines = store.quarantine.lines(wanted, since=since_ms, limit=size, after_id=after)
            if not lines:
                break
            for line in lines:
                out.write(_jsonl(line) if fmt == "jsonl" else _row(line, _width(out)))
            out.flush()
            written += len(lines)
            after = lines[-1].id
            if len(lines) < size:
                break
    if not written:
        where = f" from {wanted}" if wanted else ""
        when = f" since {since}" if since else ""
        click.echo(f"modeldeck: no quarantined lines{where}{when}", err=True)


def _width(out: IO[bytes]) -> int | None:
    import shutil

    return shutil.get_terminal_size().columns if out.isatty() else None


def _jsonl(line: "QuarantinedLine") -> bytes:
    import orjson

    from app.timeutil import ms_to_iso

    # orjson writes control characters as \u escapes: the raw text is data, never a terminal escape.
    return orjson.dumps({"ingested_at": ms_to_iso(line.ingested_at), "source": line.source,
                         "line_no": line.line_no, "model": line.model, "error": line.error, "raw": line.raw}) + b"\n"


def _row(line: "QuarantinedLine", width: int | None) -> bytes:
    """``ISO-TIME  FILE:LINE  reason  raw``; on a terminal cut to its width, in a pipe whole."""
    from app.text import terminal_line, truncate
    from app.timeutil import ms_to_iso

    text = "  ".join((ms_to_iso(line.ingested_at), terminal_line(f"{line.source}:{line.line_no}"),
                      terminal_line(line.error), terminal_line(line.raw)))
    return (truncate(text, width) + "\n").encode()
