"""Held-out evaluation (issue 17, item 3): metrics of one version from a held-out file, stored on the
version with the file's SHA-256 and who ran it, so the Benchmarks area judges a quality figure that
can be traced to its data. The file is read here (CSV or JSON Lines; Parquet when pyarrow is installed);
the numbers are computed without numpy, so they can be checked against scipy in the tests.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path
from typing import Any, Iterator

import orjson

from app.checklist.evaluate import ChecklistError, _context, guard
from app.store.identity import current_actor


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        value = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise ChecklistError(f"{path}:{number}: not a JSON object") from None
                    if not isinstance(value, dict):
                        raise ChecklistError(f"{path}:{number}: not a JSON object")
                    yield value
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq  # optional: only for Parquet files
        except ImportError:
            raise ChecklistError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
        yield from pq.read_table(path).to_pylist()
    else:
        raise ChecklistError(f"{path}: use a .csv, .jsonl or .parquet file")


def _float(value: Any, what: str, number: int) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ChecklistError(f"row {number}: {what} {value!r} is not a number") from None
    if not math.isfinite(result):
        raise ChecklistError(f"row {number}: {what} is not finite")
    return result


def auc(scores: list[float], labels: list[int]) -> float | None:
    """ROC AUC as the Mann-Whitney statistic with midranks for ties (None without both classes)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum = sum(r for r, y in zip(ranks, labels) if y == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def classification_metrics(scores: list[float], labels: list[int]) -> dict[str, float]:
    eps = 1e-15
    n = len(labels)
    metrics = {
        "accuracy": sum((s >= 0.5) == bool(y) for s, y in zip(scores, labels)) / n,
        "log_loss": -sum(y * math.log(min(max(s, eps), 1 - eps)) + (1 - y) * math.log(1 - min(max(s, eps), 1 - eps))
                         for s, y in zip(scores, labels)) / n,
    }
    value = auc(scores, labels)
    if value is not None:
        metrics["auc"] = value
    return metrics


def regression_metrics(predictions: list[float], labels: list[float]) -> dict[str, float]:
    n = len(labels)
    errors = [p - y for p, y in zip(predictions, labels)]
    return {"mae": sum(abs(e) for e in errors) / n, "rmse": math.sqrt(sum(e * e for e in errors) / n)}


def intervals(scores: list[float], labels: list[float], regression: bool) -> dict[str, list[float]]:
    """95% intervals of the held-out metrics (accuracy: Wilson; the others: a seeded percentile bootstrap), so
    a promotion gate's ``min_quality_gain`` on held-out data is decided by the candidate's worse end."""
    import numpy as np

    from app.quality import stats

    s, y = np.array(scores, dtype=float), np.array(labels, dtype=float)
    found: dict[str, stats.Estimate | None] = {}
    if regression:
        found["mae"] = stats.bootstrap(stats.mae, s, y)
        found["rmse"] = stats.bootstrap(stats.rmse, s, y)
    else:
        found["accuracy"] = stats.wilson(int(((s >= 0.5) == (y == 1)).sum()), len(y))
        found["auc"] = stats.bootstrap(stats.auc, s, y)
        found["log_loss"] = stats.bootstrap(stats.log_loss, s, y)
    return {name: [round(e.low, 6), round(e.high, 6)] for name, e in found.items()
            if e is not None and e.low is not None and e.high is not None}


def evaluate_file(store: Any, model: str, version: str, path: Path, *, score_column: str = "score",
                  label_column: str = "label", settings: Any = None, actor: str | None = None,
                  now: int | None = None) -> dict[str, Any]:
    """Compute the held-out metrics of ``version`` from ``path`` and store them on the version under
    ``heldout`` (with n, the file's SHA-256, who ran it and when); audited ``evaluate``, refused under
    read-only. Classifiers: a score (probability of the positive class) and a 0/1 label; regressors: a
    prediction and a numeric label (``score_column`` names either)."""
    ctx = _context(store, model, now=now, version=version)
    who = actor or current_actor()
    if not path.is_file():
        raise ChecklistError(f"{path}: no such file")
    digest = file_sha256(path)
    guard(store, settings, model, "evaluate", actor=who, detail={"version": version, "sha256": digest})
    regression = ctx.info.task == "regression"
    scores: list[float] = []
    labels: list[float] = []
    for number, row in enumerate(read_rows(path), 1):
        if score_column not in row or label_column not in row:
            raise ChecklistError(f"row {number}: needs columns {score_column!r} and {label_column!r}")
        scores.append(_float(row[score_column], score_column, number))
        label = _float(row[label_column], label_column, number)
        if not regression and label not in (0.0, 1.0):
            raise ChecklistError(f"row {number}: a classifier's label must be 0 or 1, not {row[label_column]!r}")
        labels.append(label)
    if not labels:
        raise ChecklistError(f"{path}: no rows")
    metrics = regression_metrics(scores, labels) if regression else classification_metrics(
        scores, [int(y) for y in labels])
    record = {**{k: round(v, 6) for k, v in metrics.items()}, "n": len(labels), "file": path.name,
              "intervals": intervals(scores, labels, regression),
              "sha256": digest, "run_by": who, "run_at": ctx.now}
    with store.write():  # the version's metrics and the audit row, together
        target = ctx.version.model_copy(update={"metrics": {**(ctx.version.metrics or {}), "heldout": record}})
        store.registry.upsert_version(target)
        store.audit.append("evaluate", model, actor=who, ts=ctx.now, outcome="stored",
                           detail={"version": version, **record})
    return record
