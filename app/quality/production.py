"""A model's quality in production from late labels, per window (``modeldeck quality``, the model
screen's Quality tab).

Classifiers (the catalogue's task): accuracy (the prediction equals the label; a row without a prediction
counts score >= 0.5 as the positive class) with Wilson's interval, and where the label is binary and a
score was logged, ROC AUC and log loss with bootstrap intervals, and over the whole range the expected
calibration error with its reliability bins. Regressors: MAE and RMSE with bootstrap intervals.
Business outcomes (``kind: "outcome"`` records, README "Outcome records") are paired with the model's
answers by request id, else entity id, and correlated per window with the score (Pearson, Fisher's z).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.quality import stats

if TYPE_CHECKING:
    from app.quality.success import Criterion
    from app.store import Store

_TRUE = {1, 1.0, True, "1", "true", "True", "yes"}
_FALSE = {0, 0.0, False, "0", "false", "False", "no"}


@dataclass(frozen=True)
class WindowQuality:
    start: int
    end: int
    labelled: int
    metrics: dict[str, stats.Estimate]
    outcomes: dict[str, stats.Estimate] = field(default_factory=dict)  # outcome name -> r(score, value)
    outcome_pairs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityReport:
    model: str
    version: str | None
    task: str
    since: int
    until: int
    window_ms: int
    windows: list[WindowQuality]
    overall: WindowQuality
    ece: float | None
    reliability: list[stats.CalibrationBin]
    # The declared success criteria judged over their own window (app/quality/success.py), when asked for.
    success: "list[Criterion] | None" = None
    success_window: str | None = None

    @property
    def metric_names(self) -> list[str]:
        return (["mae", "rmse"] if self.task == "regression" else ["accuracy", "auc", "log_loss"])

    def outcomes_named(self) -> list[str]:
        """Every outcome name that pairs with an answer in some window, sorted."""
        return sorted({name for w in self.windows for name in w.outcomes})


def _binary(value: Any) -> int | None:
    """A binary label or prediction as 0/1 (1, "1", true, "true", ...), None for anything else."""
    if isinstance(value, (bool, int, float, str)):
        if value in _TRUE:
            return 1
        if value in _FALSE:
            return 0
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _judge(task: str, rows: list[tuple], seed: int, resamples: int = stats.RESAMPLES) -> dict[str, stats.Estimate]:
    import numpy as np

    found: dict[str, stats.Estimate] = {}
    if task == "regression":
        pairs = [(_number(p if p is not None else s), _number(y)) for _, _, s, p, y in rows]
        pairs = [(p, y) for p, y in pairs if p is not None and y is not None]
        if pairs:
            predicted, actual = np.array([p for p, _ in pairs]), np.array([y for _, y in pairs])
            for name, metric in (("mae", stats.mae), ("rmse", stats.rmse)):
                got = stats.bootstrap(metric, predicted, actual, seed=seed, resamples=resamples)
                if got is not None:
                    found[name] = got
        return found
    hits = 0
    for _, _, score, prediction, label in rows:
        if prediction is not None:
            hits += prediction == label or (_binary(prediction) is not None and _binary(prediction) == _binary(label))
        elif score is not None and _binary(label) is not None:
            hits += int(score >= 0.5) == _binary(label)
    accuracy = stats.wilson(hits, len(rows))
    if accuracy is not None:
        found["accuracy"] = accuracy
    scored = [(s, _binary(y)) for _, _, s, _, y in rows if s is not None and _binary(y) is not None]
    if scored:
        scores, labels = np.array([s for s, _ in scored], dtype=float), np.array([y for _, y in scored])
        area = stats.bootstrap(stats.auc, scores, labels, seed=seed, resamples=resamples)
        if area is not None:
            found["auc"] = area
        if float(scores.min()) >= 0.0 and float(scores.max()) <= 1.0:  # a probability, not a raw margin
            loss = stats.bootstrap(stats.log_loss, scores, labels, seed=seed, resamples=resamples)
            if loss is not None:
                found["log_loss"] = loss
    return found


def quality_report(store: "Store", model: str, since: int, until: int, window_ms: int, *,
                   version: str | None = None, per_window: bool = True,
                   resamples: int = stats.RESAMPLES) -> QualityReport:
    """The model's labelled answers in [since, until), judged per window of ``window_ms`` (aligned to the
    epoch, so windows are the same from one call to the next) and over the whole range. ``per_window=False``
    and ``resamples=0`` (the readiness check's success criteria: a verdict on the whole range's point values)
    skip the per-window figures and the bootstrap intervals, most of the cost on a busy model."""
    import numpy as np

    from app.store import quality as stored

    task = stored.task(store, model) or "classification"
    rows = stored.labelled(store, model, since, until, version)
    outcome_rows = stored.outcome_pairs(store, model, since, until, version)
    first = since - since % window_ms
    windows: list[WindowQuality] = []
    start, i, j = first, 0, 0
    while per_window and start < until:
        end = start + window_ms
        chunk: list[tuple] = []
        while i < len(rows) and rows[i][0] < end:
            chunk.append(rows[i])
            i += 1
        paired: list[tuple] = []
        while j < len(outcome_rows) and outcome_rows[j][0] < end:
            paired.append(outcome_rows[j])
            j += 1
        windows.append(_window(task, start, end, chunk, paired, seed=start // window_ms, resamples=resamples))
        start = end
    overall = _window(task, since, until, rows, outcome_rows, seed=0, resamples=resamples)
    ece, reliability = None, []
    if task != "regression":
        scored = [(s, _binary(y)) for _, _, s, _, y in rows if s is not None and _binary(y) is not None]
        if scored and all(0.0 <= s <= 1.0 for s, _ in scored):
            ece, reliability = stats.calibration(np.array([s for s, _ in scored], dtype=float),
                                                 np.array([y for _, y in scored], dtype=float))
    return QualityReport(model, version, task, since, until, window_ms, windows, overall, ece, reliability)


def _window(task: str, start: int, end: int, rows: list[tuple], paired: list[tuple], *, seed: int,
            resamples: int = stats.RESAMPLES) -> WindowQuality:
    import numpy as np

    by_name: dict[str, list[tuple[float, float]]] = {}
    for _, name, score, value in paired:
        if score is not None and value is not None:
            by_name.setdefault(name, []).append((float(score), float(value)))
    outcomes: dict[str, stats.Estimate] = {}
    for name, pairs in by_name.items():
        r = stats.pearson(np.array([s for s, _ in pairs]), np.array([v for _, v in pairs]))
        if r is not None:
            outcomes[name] = r
    return WindowQuality(start, end, len(rows), _judge(task, rows, seed, resamples) if rows else {}, outcomes,
                         {name: len(pairs) for name, pairs in by_name.items()})
