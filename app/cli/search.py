"""``modeldeck search QUERY``: prediction-log search for the shell, streamed page by page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any, Iterable

import click

from app.cli.main import CliContext, pass_cli

# What a table row shows, in order; everything is in the jsonl/csv output.
_TABLE = ("ts", "model", "version", "request_id", "entity_id", "status", "score", "prediction", "latency_ms",
          "error")
# On a terminal too narrow for every whole value, columns give way in this order, down to these widths
# (the error text first: it is last on the line and the longest).
_SHRINK = (("error", 12), ("prediction", 10), ("entity_id", 12), ("request_id", 14), ("model", 12),
           ("version", 8), ("ts", 20))
# Still too wide at those widths (80 columns): these columns go, in this order; the rest is cut.
_DROP = ("latency_ms", "score", "prediction", "entity_id")
_PLAN_ROWS = 200  # widths come from the first rows (the rest stream with them)


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store file (overrides modeldeck --db and the config).")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=None,
              help="At most N results, newest first (default: 50 for table, all for jsonl/csv; 0 = all).")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table", show_default=True,
              help="jsonl is the ingest format: `modeldeck ingest` takes it back unchanged.")
@pass_cli
def search(cli: CliContext, query: tuple[str, ...], db_path: Path | None, limit: int | None, fmt: str) -> None:
    """Search the prediction log, newest first.

    \b
    Examples:
      modeldeck search request:7f3a9c
      modeldeck search 'model:fraud since:2h status:error'
      modeldeck search 'status:error (model:fraud* OR model:churn-predictor) TimeoutError'
      modeldeck search 'entity:cust-42 since:2026-11-20 until:2026-11-21'
      modeldeck search 'features.amount>1000 score>=0.9 -"test merchant"' --format jsonl > hits.jsonl

    Terms are ANDed; OR and (parentheses) give alternatives; -term negates; quote values with
    spaces. Fields: request: entity: model: version: status:ok|error label: since: until: score
    latency_ms prediction features.NAME context.NAME with = != > >= < <= (":" means "=").
    model: and version: take a name, a unique prefix (model:fraud) or a glob (model:fraud*).
    Free text matches words (TimeoutError, bureau), "an exact phrase", or a prefix*.
    An empty result says why on stderr (exit 0); a bad query or a likely typo exits 2.
    """
    from app.search.searcher import COUNT_CAP, Searcher, SearchError, UnknownName, count_text
    from app.store import StoreInterrupted

    text = " ".join(query)
    path = db_path or cli.db_path
    store = cli.open_to_read(path)
    try:
        store = _with_feature_indexes(store, path, cli)
        searcher = Searcher(store)
        try:
            parsed = searcher.parse(text)
        except SearchError as exc:
            click.echo(f"modeldeck: error: {exc.message}: {exc.token!r} at column {exc.column}", err=True)
            click.echo(f"  {text}", err=True)
            click.echo("  " + " " * (exc.column - 1) + "^" * max(1, len(exc.token)), err=True)
            sys.exit(2)
        try:
            resolution = searcher.resolve(parsed)
        except UnknownName as exc:
            click.echo(f"modeldeck: error: {exc}", err=True)
            sys.exit(2)
        parsed = resolution.query
        for notice in resolution.notices:
            click.echo(f"modeldeck: {notice}", err=True)
        if limit is None:
            limit = 50 if fmt == "table" else 0
        rows = searcher.iter_rows(parsed, limit=limit or None, page_size=min(limit or 1000, 1000))
        out = sys.stdout.buffer
        progress = _Progress() if sys.stderr.isatty() else None
        searcher.watch(progress)
        if progress:
            rows = progress.clearing(rows)
        try:
            if fmt == "table":
                shown = _write_table(rows, out)
                if shown and (out.isatty() or sys.stderr.isatty()):
                    count = searcher.count(parsed, cap=COUNT_CAP)
                    if progress:
                        progress.clear()
                    click.echo(count_text(1, shown, count), err=True)
            else:
                from app.search.export import write_rows

                # Flush often: `| head` and `| jq` see results while later pages are still read.
                shown = write_rows(rows, out, fmt, every=100)  # type: ignore[arg-type]
        except (KeyboardInterrupt, StoreInterrupted):
            # ctrl-c stops the statement at once (the progress handler raises inside SQLite's loop).
            if progress:
                progress.clear()
            click.echo("modeldeck: search cancelled", err=True)
            sys.exit(130)
        if progress:
            progress.clear()
        if not shown:
            # A valid query with nothing to show says why (stderr: stdout stays data), exit 0.
            click.echo(f"modeldeck: {searcher.why_empty(parsed)}", err=True)
    finally:
        store.close()


class _Progress:
    """A long read, told on one stderr line of a terminal (app.views.logs.progress_text), four times a
    second: "modeldeck: searching 2.1 s: 120,000 of 1,000,000 rows, back to 2026-11-20 14:00; ctrl-c stops"."""

    def __init__(self) -> None:
        from app.views.logs import Throttled

        self.shown = False
        self.tell = Throttled(self._show)

    def __call__(self, p: Any) -> None:
        self.tell(p)

    def _show(self, p: Any) -> None:
        from app.views.logs import progress_text

        sys.stderr.write("\r\x1b[Kmodeldeck: " + progress_text(p) + "; ctrl-c stops")
        sys.stderr.flush()
        self.shown = True

    def clearing(self, rows: Iterable[Any]) -> Iterable[Any]:
        """``rows``, clearing the progress line before each is handed on (results print on that line)."""
        for row in rows:
            self.clear()
            yield row

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False
        self.tell = type(self.tell)(self._show)  # the next read starts its own clock


def _with_feature_indexes(store: Any, path: Path, cli: CliContext) -> Any:
    """Create the configured feature indexes once (needs a writable store); else search without them."""
    from app.store.search import ensure_feature_indexes, generated_columns
    from app.store.search_sql import feature_column
    from app.store.zonemap import summarised_features
    from app.store import Store

    names = cli.settings.search.indexed_features
    if not names or cli.settings.read_only or getattr(store, "kind", "sqlite") != "sqlite":
        return store
    have = generated_columns(store)
    summarised = summarised_features(store.conn)
    if all(feature_column(name) in have and name in summarised for name in names):
        return store
    store.close()
    store = Store.open(path)
    click.echo(f"modeldeck: indexing features {', '.join(names)} (once)", err=True)
    try:
        ensure_feature_indexes(store, names)
    except ValueError as exc:
        click.echo(f"modeldeck: warning: {exc}", err=True)
    return store


def _cell(text: str, cut: int | None, width: int) -> str:
    """``text`` cut to ``cut`` terminal cells (never, for a pipe: None), padded to ``width``."""
    from rich.cells import cell_len

    from app.text import truncate

    text = truncate(text, cut)
    return text + " " * max(0, width - cell_len(text))


def column_widths(rows: list[dict[str, str]], terminal: int | None) -> dict[str, int]:
    """Each column as wide as its widest value (whole ids, versions and names); on a terminal of
    ``terminal`` cells, narrowed in _SHRINK's order until the line fits. None: a pipe, no limit."""
    from rich.cells import cell_len

    widths = {name: max([len(name), *(cell_len(row[name]) for row in rows)]) for name in _TABLE}
    if terminal is None:
        return widths
    def over() -> int:
        return sum(widths.values()) + len(widths) - 1 - terminal

    for name, floor in _SHRINK:
        if over() <= 0:
            return widths
        widths[name] = max(min(widths[name], floor), widths[name] - over())
    for name in _DROP:
        if over() <= 0:
            return widths
        del widths[name]
    if over() > 0:  # a very narrow terminal: the error column takes what is left, if anything
        widths["error"] = max(0, widths["error"] - over())
    return widths


def _write_table(rows: Iterable[dict[str, Any]], out: IO[bytes]) -> int:
    """People get a table fitted to their terminal; a pipe gets every value whole."""
    import itertools
    import shutil

    from app.text import terminal_line
    from app.timeutil import ms_to_iso

    terminal = shutil.get_terminal_size().columns if out.isatty() else None
    stream = iter(rows)
    # app.text: a log's escape sequences and newlines print as visible text, never move the cursor.
    cells = lambda row: {**{name: "" if row.get(name) is None else terminal_line(row[name])  # noqa: E731
                            for name in _TABLE}, "ts": ms_to_iso(row["ts"])}
    planned = [cells(row) for row in itertools.islice(stream, _PLAN_ROWS)]
    widths = column_widths(planned, terminal)
    limit = widths if terminal is not None else dict.fromkeys(_TABLE)
    shown_columns = [name for name in _TABLE if name in widths]

    def line(values: dict[str, str]) -> bytes:
        parts = [_cell(values[name], limit[name], widths[name]) for name in shown_columns]
        return (" ".join(parts).rstrip() + "\n").encode()

    out.write(line({name: name for name in _TABLE}))
    shown = 0
    for values in itertools.chain(planned, (cells(row) for row in stream)):
        out.write(line(values))
        out.flush()  # one line at a time: the table is for people and `| head`
        shown += 1
    return shown
