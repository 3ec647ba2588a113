"""``modeldeck baseline MODEL --version V FILE`` (or ``--from-logs``): store a version's reference distributions."""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path
from typing import Any, Iterator

import click

from app.cli.main import CliContext, pass_cli

PREDICTION_FEATURE = "__prediction__"


class InputError(click.ClickException):
    exit_code = 2


def _clean(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8", newline="") if path.suffix == ".gz" else \
        path.open(encoding="utf-8", newline="")


def _csv_columns(path: Path) -> dict[str, list[Any]]:
    """CSV text cells: empty means missing; a column whose every present cell is a number becomes numbers."""
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}: empty file") from None
        columns: dict[str, list[Any]] = {name: [] for name in header}
        names = list(columns)
        for line_no, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise InputError(f"{path}:{line_no}: {len(row)} cells, the header has {len(header)}")
            for name, cell in zip(names, row):
                columns[name].append(cell if cell != "" else None)
    return columns  # text; numbers are recognised once the --categorical overrides are known


def _numbers_if_all_numbers(cells: list[Any]) -> list[Any]:
    out = []
    for cell in cells:
        if cell is None:
            out.append(None)
            continue
        try:
            out.append(float(cell))
        except ValueError:
            return cells
    return out


def _rows_to_columns(rows: Iterator[dict[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {}
    count = 0
    for row in rows:
        for name in row.keys() - columns.keys():
            columns[name] = [None] * count
        for name, column in columns.items():
            column.append(row.get(name))
        count += 1
    return columns


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Flat objects, or prediction records (``features`` plus ``score``/``prediction`` as the prediction)."""
    import orjson

    with _open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line_no}: expected a JSON object")
            if isinstance(record.get("features"), dict):
                row = dict(record["features"])
                predicted = record.get("score")
                if predicted is None and not isinstance(record.get("prediction"), (dict, list)):
                    predicted = record.get("prediction")
                if predicted is not None:
                    row[PREDICTION_FEATURE] = predicted
                yield row
            else:
                yield {k: v for k, v in record.items() if not isinstance(v, (dict, list))}


def _parquet_columns(path: Path) -> dict[str, list[Any]]:
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise InputError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    return parquet.read_table(path).to_pydict()


def read_columns(path: Path) -> dict[str, list[Any]]:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return _csv_columns(path)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return _rows_to_columns(_jsonl_rows(path))
    if name.endswith(".parquet"):
        return _parquet_columns(path)
    raise InputError(f"{path}: unknown format (use .csv, .jsonl or .parquet, optionally .gz)")


def log_columns(store, model: str, version: str, since: int, until: int) -> dict[str, list[Any]]:
    """Features and the prediction of a version's logged traffic in [since, until)."""
    import orjson

    cursor = store.serving.version_rows(model, version, since, until)

    def rows() -> Iterator[dict[str, Any]]:
        for features, score, prediction in cursor:
            row = orjson.loads(features) if features else {}
            row = {k: v for k, v in row.items() if not isinstance(v, (dict, list))} if isinstance(row, dict) else {}
            predicted = score if score is not None else prediction
            if predicted is not None:
                row[PREDICTION_FEATURE] = predicted
            yield row

    return _rows_to_columns(rows())


@click.command("baseline")
@click.argument("model")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The model version this is the reference for.")
@click.option("--from-logs", is_flag=True, help="Use the version's logged traffic instead of a file.")
@click.option("--since", help="With --from-logs: start (a duration back from now, e.g. 7d, or an ISO time).")
@click.option("--until", help="With --from-logs: end (default: now).")
@click.option("--categorical", multiple=True, metavar="NAME", help="Treat NAME as categorical (repeatable).")
@click.option("--numeric", multiple=True, metavar="NAME", help="Treat NAME as numeric (repeatable).")
@click.option("--prediction", "prediction_column", metavar="NAME",
              help="The file's column holding the model's score/prediction (stored as the prediction baseline).")
@click.option("--exclude", multiple=True, metavar="NAME", help="Skip this column (ids, labels...; repeatable).")
@pass_cli
def baseline(cli: CliContext, model: str, file: Path | None, version: str, from_logs: bool, since: str | None,
             until: str | None, categorical: tuple[str, ...], numeric: tuple[str, ...],
             prediction_column: str | None, exclude: tuple[str, ...]) -> None:
    """Store MODEL VERSION's baseline from FILE (CSV, JSON Lines, Parquet) or from its logged traffic.

    Per feature: kind (inferred: numeric when every value is a number; override with --categorical or
    --numeric), count, decile edges and counts, category frequencies and up to 100,000 reference values.
    """
    from app.drift.baselines import compute_baseline
    from app.timeutil import ms_to_iso, now_ms, parse_time_ref

    if (file is None) == (not from_logs):
        raise click.UsageError("give either FILE or --from-logs")
    if not from_logs and (since or until):
        raise click.UsageError("--since and --until go with --from-logs")
    clash = set(categorical) & set(numeric)
    if clash:
        raise click.UsageError(f"both --categorical and --numeric: {', '.join(sorted(clash))}")
    try:
        start = parse_time_ref(since) if since else 0
        end = parse_time_ref(until) if until else now_ms() + 1
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

    with cli.open_store() as store:
        from app.guard import refuse_if_read_only

        refuse_if_read_only(store, cli.settings, "baseline.create", model, detail={"version": version})
        if from_logs:  # reading the log: the model must be one the store knows (a file may be a new model's)
            model = cli.resolve_model(model, store)
            columns = log_columns(store, model, version, start, end)
            source = f"logs {ms_to_iso(start)}..{ms_to_iso(end)}"  # read as times in the Activity tab and audit
            if not columns:
                raise InputError(f"no logged predictions of {_clean(model)} version {_clean(version)} in that range")
        else:
            assert file is not None
            columns = read_columns(file)
            source = str(file)
            if file.name.lower().removesuffix(".gz").endswith(".csv"):
                columns = {name: values if name in categorical else _numbers_if_all_numbers(values)
                           for name, values in columns.items()}
            if prediction_column:
                if prediction_column not in columns:
                    raise InputError(f"{file}: no column {prediction_column!r}")
                columns[PREDICTION_FEATURE] = columns.pop(prediction_column)
        for name in exclude:
            columns.pop(name, None)
        missing = [n for n in (*categorical, *numeric) if n not in columns]
        if missing:
            raise InputError(f"no such feature: {', '.join(map(_clean, missing))}")

        created_at = now_ms()
        stored = []
        for name, values in columns.items():
            kind = "categorical" if name in categorical else "numeric" if name in numeric else None
            if kind == "numeric":
                values = [_to_float(v) for v in values]
            try:
                item = compute_baseline(values, model=model, version=version, feature=name, kind=kind,
                                        created_at=created_at)
            except (TypeError, ValueError) as exc:
                raise InputError(f"feature {_clean(name)}: {exc}") from None
            if item.n == 0:
                click.echo(f"skipped {_clean(name)}: no values", err=True)
                continue
            store.baselines.put(item)
            stored.append(item)
        store.audit.append("baseline.create", model, outcome="stored",
                           detail={"version": version, "source": source, "features": [b.feature for b in stored]})

    click.echo(f"{'FEATURE':<24} {'KIND':<12} {'N':>8} {'MEAN':>10} {'STD':>10} {'CATEGORIES':>10}")
    for item in stored:
        mean = "-" if item.mean is None else f"{item.mean:.4g}"
        std = "-" if item.std is None else f"{item.std:.4g}"
        cats = "-" if item.categories is None else str(len(item.categories))
        click.echo(f"{_clean(item.feature)[:24]:<24} {item.kind:<12} {item.n:>8} {mean:>10} {std:>10} {cats:>10}")
    click.echo(f"baseline of {_clean(model)} version {_clean(version)}: {len(stored)} feature(s)", err=True)
    if not stored:
        sys.exit(1)


def _to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # text in a column forced numeric: missing, like Evidently's coercion
