"""Drift over time: tumbling windows aligned to UTC over the prediction log, computed incrementally.

A window is computed once, when it has closed (and settled: late log lines still land in it), and only if
it is not already in the ``drift`` table, so repeated runs and a TUI worker racing an ingest neither redo
nor skip windows. A result is stored only if no rows landed in the window while it was computed; rows that
land in it later (a back-filled or late log) make ``ingest`` forget it, and the next run computes it again
from the complete data. The reference of a window is the stored baseline of the version that served most of its
traffic; the current side is that version's rows in the window, pulled in one query for all features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import orjson

from app.models import DriftPoint, FeatureBaseline
from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.store import Store
    from app.store.drift_table import DriftMark

HOUR_MS = 3_600_000
# A window is computed once it closed this long ago, so log lines that arrive a little late still count.
SETTLE_MS = 60_000
LOCK_TTL_MS = 300_000


@dataclass(frozen=True)
class WindowPlan:
    start: int
    end: int
    version: str
    rows: int
    total: int = -1  # rows of every version in the window when planned (-1: unknown, not checked)


def align(ts: int, window_ms: int) -> int:
    """The start of the UTC-aligned window holding ``ts`` (epoch multiples: 1d windows are calendar days)."""
    return ts - ts % window_ms


def thresholds_for(settings: "Settings | None", model: str) -> dict[str, float]:
    """Per-feature threshold overrides from ``[models.NAME.drift_thresholds]`` (``"*"`` for every feature)."""
    if settings is None or model not in settings.models:
        return {}
    return dict(settings.models[model].drift_thresholds)


def min_rows_for(settings: "Settings | None", model: str) -> int:
    """Fewest current rows a window needs to be judged: ``[models.NAME] drift_min_rows`` or the default."""
    from app.drift.verdicts import DEFAULT_MIN_ROWS

    if settings is None or model not in settings.models:
        return DEFAULT_MIN_ROWS
    return settings.models[model].drift_min_rows


def verdict_window(points: list[DriftPoint], min_rows: int) -> list[DriftPoint]:
    """The points of the newest window (of those given) with at least ``min_rows`` current rows: the window
    the drift screen, the fleet and the alert rules judge by. Empty when no window has enough rows."""
    by_start: dict[int, list[DriftPoint]] = {}
    for point in points:
        by_start.setdefault(point.window_start, []).append(point)
    from app.drift.verdicts import window_rows

    for start in sorted(by_start, reverse=True):
        if window_rows(by_start[start]) >= min_rows:
            return by_start[start]
    return []


@dataclass(frozen=True)
class FeatureRun:
    """A feature's latest judged window and, when it drifts, since when: the first window of the current run
    of drifting windows (judged windows only; a window with too few rows neither breaks nor extends it)."""

    latest: DriftPoint
    since: int | None  # window_start of the run's first window; None when the latest does not drift
    windows: int  # windows in the run (0 when not drifting)


def drifting_since(points: list[DriftPoint], min_rows: int) -> dict[str, FeatureRun]:
    """Per feature, from stored points (any order, one window size): the latest verdict and its run."""
    from app.drift.verdicts import window_rows

    by_start: dict[int, list[DriftPoint]] = {}
    for point in points:
        by_start.setdefault(point.window_start, []).append(point)
    judged = [start for start in sorted(by_start) if window_rows(by_start[start]) >= min_rows]
    runs: dict[str, FeatureRun] = {}
    for start in judged:  # oldest first: each window extends or restarts each feature's run
        for point in by_start[start]:
            before = runs.get(point.feature)
            if not point.drifted:
                runs[point.feature] = FeatureRun(point, None, 0)
            elif before is not None and before.since is not None:
                runs[point.feature] = FeatureRun(point, before.since, before.windows + 1)
            else:
                runs[point.feature] = FeatureRun(point, point.window_start, 1)
    return runs


def run_since(store: "Store", model: str, point: DriftPoint, min_rows: int, *, since: int = 0) -> FeatureRun:
    """``drifting_since`` for one feature of a window just judged, from the store: reads back only as far
    as the run goes (and not before ``since``), not the whole series (the fleet asks this for the worst
    feature of every model on each refresh)."""
    if not point.drifted:
        return FeatureRun(point, None, 0)
    first, windows = store.drift.run_of(model, point.feature, point.window_end - point.window_start, min_rows,
                                        point.window_start, since=since)
    return FeatureRun(point, first, windows)


def latest_runs(store: "Store", model: str, min_rows: int, *, window_ms: int, since: int | None = None,
                until: int | None = None) -> dict[str, FeatureRun]:
    """``drifting_since`` over the windows starting in [since, until), read from the store: the newest
    judged window's points and each drifting feature's run, instead of every stored point of the range
    (`modeldeck drift --summary` over months of windows). Empty when no window in range is judged."""
    start = store.drift.latest_start_with_rows(model, window_ms, min_rows, since=since or 0,
                                               until=until if until is not None else 2**62)
    if start is None:
        return {}
    return {point.feature: run_since(store, model, point, min_rows, since=since or 0)
            for point in stored_points(store, model, window_ms=window_ms, since=start, until=start + 1)}


def latest_verdict_window(store: "Store", model: str, min_rows: int, *, window_ms: int = HOUR_MS,
                          until: int | None = None) -> list[DriftPoint]:
    """``verdict_window`` straight from the store: the newest ``window_ms`` window with enough rows (ended
    by ``until`` when given: the console's time travel)."""
    # The newest week first (an index range: a pass asks this per model, and 30 days of windows make the
    # unbounded GROUP BY cost 40 ms a model); the whole history only when the week has no judged window.
    newest = store.drift.newest_start(model)
    # Windows that had closed by ``until``: those starting before until - window_ms + 1.
    starts_before = 2**62 if until is None else until - window_ms + 1
    if newest is not None and until is not None:
        newest = min(newest, until - window_ms)
    start = None if newest is None else store.drift.latest_start_with_rows(
        model, window_ms, min_rows, since=newest - 7 * 24 * HOUR_MS, until=starts_before)
    if start is None and newest is not None:
        start = store.drift.latest_start_with_rows(model, window_ms, min_rows, until=starts_before)
    if start is None:
        return []
    return stored_points(store, model, window_ms=window_ms, since=start, until=start + 1)


def pending_windows(store: "Store", model: str, *, window_ms: int = HOUR_MS, since: int | None = None,
                    until: int | None = None, now: int | None = None, settle_ms: int = SETTLE_MS) -> list[WindowPlan]:
    """Closed windows with traffic from a version that has a baseline, not computed yet (oldest first)."""
    plans, _, lower, upper = plan_pending(store, model, window_ms=window_ms, since=since, until=until, now=now,
                                          settle_ms=settle_ms)
    return [plan for plan in plans if lower <= plan.start < upper]


def plan_pending(store: "Store", model: str, *, window_ms: int = HOUR_MS, since: int | None = None,
                 until: int | None = None, now: int | None = None,
                 settle_ms: int = SETTLE_MS) -> tuple[list[WindowPlan], "DriftMark | None", int, int]:
    """The pending windows (oldest first), the high-water mark to store once every one of them is handled
    (None: nothing to store), and the window range asked about [lower, upper).

    With a mark from an earlier pass (app/store/drift_table.DriftMark) only what changed since is read:
    the windows holding rows written after the mark, and the windows that closed since. A pass with
    nothing new reads no prediction rows at all (issue 18: an idle console's cost must not grow with the
    store). Without a usable mark (none yet, another set of baselines, a wider range than it covers, the
    clock before it), the range is planned from the rows, as the first pass does. A window that turns up
    dirty below ``since`` (a late row) is returned too: it is pending, and the mark covers it.
    """
    from app.store.drift_table import DriftMark

    now = now_ms() if now is None else now
    last_closed = align(now - settle_ms, window_ms)  # windows ending at or before this are closed
    upper = last_closed if until is None else min(last_closed, align(until, window_ms) + (
        window_ms if until % window_ms else 0))
    lower = align(since, window_ms) if since is not None else 0
    if upper <= lower:
        return [], None, lower, upper
    with_baseline = sorted(store.baselines.versions_with_baselines(model))
    if not with_baseline:
        return [], None, lower, upper
    key = "\n".join(with_baseline)
    # Read first: a row written during this plan has a larger id, seen next pass. The mark moves only to
    # ``settled``: below it no transaction in flight can still commit a row (on PostgreSQL, ingesters may
    # commit out of id order; app/store/pg/in_flight.py), so a row the plan could not see is newer than it.
    top, settled = store.windows.newest_and_settled_ids()
    mark = store.drift.mark(model, window_ms)
    dirty: list[int] = []
    if (mark is not None and mark.baselines == key and mark.covered_from <= lower and mark.closed_until <= upper
            and mark.last_id <= top):
        # Only what changed: windows with rows newer than the mark (late rows), and those closed since.
        dirty = [] if mark.last_id == top else store.windows.windows_with_rows_after(
            model, window_ms, mark.last_id, mark.covered_from, mark.closed_until)
        ranges = [(start, start + window_ms) for start in sorted(dirty)]
        if mark.closed_until < upper:
            ranges.append((mark.closed_until, upper))
        rows = [row for first, last in _merged(ranges)
                for row in store.windows.versions_per_window(model, window_ms, first, last)]
        new_mark = DriftMark(mark.covered_from, upper, settled, key)
        computed_from = ranges[0][0] if ranges else upper
    else:
        rows = store.windows.versions_per_window(model, window_ms, lower, upper)
        new_mark = DriftMark(lower, upper, settled, key)
        computed_from = lower
    if not rows:
        return [], new_mark, lower, upper
    computed = store.drift.computed_windows(model, since=computed_from, until=upper)  # the range read only
    with_baseline_set = set(with_baseline)
    by_window: dict[int, list[tuple[int, str]]] = {}
    totals: dict[int, int] = {}
    for start, version, count in rows:
        totals[start] = totals.get(start, 0) + count
        if version in with_baseline_set:
            by_window.setdefault(start, []).append((count, version))
    # A computed window with rows newer than the mark is computed again: ingest forgets a window its rows land
    # in, but on PostgreSQL a batch in flight may have looked before a pass stored the window and commit after
    # that pass read it (its rows are newer than that pass's mark, so they show here).
    recheck = set(dirty)
    plans = []
    for start in sorted(by_window):
        end = start + window_ms
        if (start, end) in computed and start not in recheck:
            continue
        count, version = max(by_window[start], key=lambda item: (item[0], item[1]))
        plans.append(WindowPlan(start=start, end=end, version=version, rows=count, total=totals[start]))
    return plans, new_mark, lower, upper


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, overlapping or touching [start, end) ranges joined: one index range read each."""
    out: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _member(features: str | None, name: str) -> Any:
    if not features:
        return None
    try:
        value = orjson.loads(features)
    except orjson.JSONDecodeError:
        return None
    return value.get(name) if isinstance(value, dict) else None


def current_samples(store: "Store", model: str, plan: WindowPlan, baselines: list[FeatureBaseline]) -> dict[str, Any]:
    """The window's values of every baseline feature, as drift Samples, from one query."""
    from app.drift.stats import PREDICTION_FEATURE, Sample, category_key
    from app.store.dialect import json_path_safe
    from app.store.windows import FeatureRead

    reads = []
    for baseline in baselines:
        if baseline.feature == PREDICTION_FEATURE:
            reads.append(FeatureRead("score_or_prediction" if baseline.kind == "numeric" else "prediction"))
        elif not json_path_safe(baseline.feature):
            reads.append(FeatureRead("features", baseline.feature))  # read in Python below: no JSON path names it
        else:
            reads.append(FeatureRead("number" if baseline.kind == "numeric" else "json", baseline.feature))
    rows = store.windows.feature_values(model, plan.version, plan.start, plan.end, reads)
    samples: dict[str, Any] = {}
    for index, baseline in enumerate(baselines):
        column = [row[index] for row in rows]
        if reads[index].kind == "features":
            values = [_member(features, baseline.feature) for features in column]
            samples[baseline.feature] = Sample.of_kind(baseline.kind, values)
            continue
        if baseline.kind == "numeric":
            samples[baseline.feature] = Sample.numeric(column)
        elif baseline.feature == PREDICTION_FEATURE:
            samples[baseline.feature] = Sample.categorical(column)
        else:
            samples[baseline.feature] = Sample.categorical(
                category_key(orjson.loads(value)) if value is not None else None for value in column)
    return samples


def reference_samples(baselines: list[FeatureBaseline]) -> dict[str, Any]:
    """The reference side of every feature with something to compare with (sorted once, reused per window)."""
    from app.drift.stats import Sample

    references = {}
    for baseline in baselines:
        sample = Sample.from_baseline(baseline)
        if sample is not None:
            references[baseline.feature] = sample
    return references


def compute_window(store: "Store", model: str, plan: WindowPlan, baselines: list[FeatureBaseline],
                   thresholds: Mapping[str, float] | None = None,
                   references: Mapping[str, Any] | None = None) -> list[DriftPoint]:
    from app.drift.stats import compare

    references = reference_samples(baselines) if references is None else references
    usable = [b for b in baselines if b.feature in references]
    return _points(model, plan, compare(references, current_samples(store, model, plan, usable), thresholds))


@dataclass
class UpdateResult:
    windows: int = 0
    points: int = 0
    busy_with: str | None = None  # another process holds the model's drift lock


def _sources(baselines: list[FeatureBaseline]) -> list[tuple[str, str, str]]:
    """(feature, kind, source) per baseline: source "score" = the score else the prediction (a numeric
    prediction), "prediction" = the prediction as stored, "feature" = the feature's value in the row."""
    from app.drift.verdicts import PREDICTION_FEATURE

    return [(b.feature, b.kind, ("score" if b.kind == "numeric" else "prediction")
             if b.feature == PREDICTION_FEATURE else "feature") for b in baselines]


def _decoded(texts: list[str | None]) -> list[dict[str, Any]]:
    """Each row's features as a dict (an empty one when missing or not an object)."""
    loads = orjson.loads
    try:
        decoded = [loads(text) for text in texts]  # the usual case: every text a JSON object, no branch a row
    except (ValueError, TypeError):
        return [_decode(text) or _EMPTY for text in texts]
    if all(type(value) is dict for value in decoded):
        return decoded
    return [value if isinstance(value, dict) else _EMPTY for value in decoded]


def _numeric_block(texts: list[str | None], decoded: list[dict[str, Any]] | None, names: list[str]) -> Any:
    """The numeric features ``names`` of every row as floats, one row of the result a feature (missing and
    stray values as NaN, numbers as text read as numbers: what Sample.numeric does with a column).

    The usual case streams: each row's JSON decoded, its values picked in one C call and handed to numpy,
    the dict freed at once (no list of dicts, nothing for the cycle collector). A row that does not fit (a
    key missing, an object or a word for a value, a text that is not a JSON object) makes the whole batch
    take the careful path, column by column."""
    import numpy as np

    from app.drift.stats import _as_float_array

    pick = itemgetter(*names)
    picked = map(pick, decoded if decoded is not None else map(orjson.loads, texts))
    try:
        flat = np.fromiter(chain.from_iterable(picked) if len(names) > 1 else picked, dtype=np.float64,
                           count=len(texts) * len(names))
        return flat.reshape(len(texts), len(names)).T.copy()
    except (KeyError, TypeError, ValueError):
        rows = decoded if decoded is not None else _decoded(texts)
        columns = [tuple(row.get(name) for name in names) for row in rows]
        return np.stack([_as_float_array([row[i] for row in columns]) for i in range(len(names))]) \
            if columns else np.empty((len(names), 0))


def _batch_windows(rows: list[tuple[Any, ...]], windows: list[list[int]],
                   baselines: list[FeatureBaseline], keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Per baseline feature, the values of ``windows`` (each a list of row indexes into ``rows``, rows of
    one version) as one ``stats.Windows``: read column by column over all the rows, so that the statistics
    run once for all the windows. Reads what ``current_samples`` reads with one query per window
    (tests/integration/test_drift_one_pass.py checks the two agree on a real store). ``keys``: each
    feature's key as the rows' features hold it (a coded store's code: the rows are read as stored and
    never decoded); without it, the name."""
    import numpy as np

    from app.drift.stats import Windows, category_key

    picked = [rows[i] for window in windows for i in window]
    sizes = [len(window) for window in windows]
    bounds = np.zeros(len(windows) + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    window_of = np.repeat(np.arange(len(windows)), sizes)
    sources = _sources(baselines)
    texts = [row[4] for row in picked]
    # Decoded into a list only when a categorical feature needs the dicts; numeric ones stream.
    decoded = _decoded(texts) if any(s == "feature" and k != "numeric" for _, k, s in sources) else None
    out: dict[str, Any] = {}
    numeric = [feature for feature, kind, source in sources if source == "feature" and kind == "numeric"]
    if numeric:
        block = _numeric_block(texts, decoded, [keys.get(f, f) for f in numeric] if keys else numeric)
        for feature, column in zip(numeric, Windows.numeric_block(block, bounds)):
            out[feature] = column
    for feature, kind, source in sources:
        if source == "feature":
            if kind != "numeric":
                key = keys.get(feature, feature) if keys else feature
                out[feature] = Windows.categorical([category_key(row.get(key)) for row in decoded or ()],
                                                   window_of, len(windows))
        elif source == "score":
            column = [score if score is not None else prediction for _, _, score, prediction, _ in picked]
            out[feature] = Windows.numeric(column, bounds)
        else:
            out[feature] = Windows.categorical([category_key(row[3]) for row in picked], window_of, len(windows))
    return out


_EMPTY: dict[str, Any] = {}


def _decode(features: str | None) -> dict[str, Any] | None:
    if not features:
        return None
    try:
        value = orjson.loads(features)
    except orjson.JSONDecodeError:
        import json

        try:  # orjson refuses what SQLite's JSON functions accept (an integer past 64 bits)
            value = json.loads(features)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _points(model: str, plan: WindowPlan, results: Any) -> list[DriftPoint]:
    return [
        DriftPoint(model=model, version=plan.version, feature=r.feature, window_start=plan.start,
                   window_end=plan.end, n_reference=r.n_reference, n_current=r.n_current, method=r.method,
                   value=r.value, threshold=r.threshold, drifted=r.drifted, psi=r.psi)
        for r in results
        if r.n_current > 0 and not math.isnan(r.value)
    ]


def _chunk_windows(rows: list[tuple[Any, ...]], by_start: Mapping[int, WindowPlan],
                   window_ms: int) -> list[tuple[WindowPlan, list[int]]]:
    """The planned windows among ``rows`` (in ts order) and the indexes of their version's rows."""
    import numpy as np

    ts = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    starts = ts - ts % window_ms
    cuts = [0, *(np.flatnonzero(np.diff(starts)) + 1).tolist(), len(rows)]
    out = []
    for first, last in zip(cuts[:-1], cuts[1:]):
        plan = by_start.get(int(starts[first]))
        if plan is not None:
            version = plan.version
            out.append((plan, [i for i in range(first, last) if rows[i][1] == version]))
    return out


def _batch_results(model: str, rows: list[tuple[Any, ...]], windows: list[tuple[WindowPlan, list[int]]],
                   prepared: Callable[[str], tuple[list[FeatureBaseline], Mapping[str, Any]]],
                   thresholds: Mapping[str, float] | None,
                   keys: Mapping[str, str] | None = None) -> list[tuple[WindowPlan, list[DriftPoint]]]:
    """The results of a batch of windows, oldest first: each feature's statistics computed for all the
    windows of a version at once (``stats.drift_many``), in the reference's feature order per window."""
    import gc

    from app.drift.stats import drift_many

    thresholds = thresholds or {}
    by_version: dict[str, list[int]] = {}
    for index, (plan, _) in enumerate(windows):
        by_version.setdefault(plan.version, []).append(index)
    results: list[list[Any]] = [[] for _ in windows]
    # The batch makes hundreds of thousands of short-lived tuples and dicts, none in a cycle: the cycle
    # collector walking them again and again cost a fifth of the time. Paused for the batch only.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for version, members in by_version.items():
            baselines, references = prepared(version)
            columns = _batch_windows(rows, [windows[index][1] for index in members], baselines, keys)
            for feature, reference in references.items():
                if feature not in columns:
                    continue
                per_window = drift_many(feature, reference, columns[feature],
                                        threshold=thresholds.get(feature, thresholds.get("*")))
                for index, result in zip(members, per_window):
                    results[index].append(result)
    finally:
        if collecting:
            gc.enable()
    return [(plan, _points(model, plan, found)) for (plan, _), found in zip(windows, results)]


# Rows read before the statistics run over all their windows at once: memory stays bounded (a batch of
# rows, ~12 MB with 20 features a row, not the range) while the cost of each call into numpy is paid once
# a batch (~60 hourly windows of the bench's traffic), not once a window.
BATCH_ROWS = 20_000


def compute_windows(store: "Store", model: str, plans: list[WindowPlan],
                    prepared: Callable[[str], tuple[list[FeatureBaseline], Mapping[str, Any]]],
                    thresholds: Mapping[str, float] | None = None) -> Iterator[tuple[WindowPlan, list[DriftPoint]]]:
    """Each plan's results, computed from ONE ordered pass over the rows of every run of adjacent plans
    (issue 15 item 6: not one query per window), the statistics of every window of a batch of rows
    computed together. ``prepared(version)`` gives the usable baselines and their reference samples.
    Yields window by window, oldest first, so the caller stores each as it comes."""
    for run in _runs(plans):
        by_start = {plan.start: plan for plan in run}
        window_ms = run[0].end - run[0].start
        needs_features = any(source == "feature" for plan in run
                             for _, _, source in _sources(prepared(plan.version)[0]))
        # Rows as stored, their values picked by each feature's stored key: a coded store's rows are never
        # decoded (app/store/json_keys.py).
        keys = store.windows.stored_keys({b.feature for plan in run for b in prepared(plan.version)[0]})
        reader = store.windows.window_rows(model, run[0].start, run[-1].end, features=needs_features,
                                           as_stored=True)
        held: list[tuple[Any, ...]] = []
        while True:
            fetched = list(islice(reader, BATCH_ROWS))
            rows, done = held + fetched, len(fetched) < BATCH_ROWS
            held = []
            if not done:  # the newest window may go on in the next batch: it waits for it
                last = rows[-1][0] - rows[-1][0] % window_ms
                cut = len(rows)
                while cut and rows[cut - 1][0] >= last:
                    cut -= 1
                rows, held = rows[:cut], rows[cut:]
            if rows:
                yield from _batch_results(model, rows, _chunk_windows(rows, by_start, window_ms), prepared,
                                          thresholds, keys)
            if done:
                break


def _runs(plans: list[WindowPlan]) -> list[list[WindowPlan]]:
    """Plans (oldest first) cut into runs of adjacent windows: one ordered read per run, so a dirty
    window weeks back does not make the pass read every row in between."""
    runs: list[list[WindowPlan]] = []
    for plan in plans:
        if runs and runs[-1][-1].end == plan.start:
            runs[-1].append(plan)
        else:
            runs.append([plan])
    return runs


def update(store: "Store", model: str, *, window_ms: int = HOUR_MS, since: int | None = None,
           until: int | None = None, thresholds: Mapping[str, float] | None = None, now: int | None = None,
           settle_ms: int = SETTLE_MS, max_windows: int | None = None,
           cancelled: Callable[[], bool] = lambda: False) -> UpdateResult:
    """Compute every pending window of ``model`` and store it, one transaction a window.

    ``max_windows`` bounds one call (a background monitor keeps each pass short): the newest pending
    windows are computed first, older ones on later calls. When every pending window was handled, the
    model's high-water mark moves on, so the next pass reads only what is new. ``cancelled()`` is asked
    between windows: true stops the call (a screen's worker whose screen is gone).
    """
    from app.store import StoreBusy
    from app.store.locks import LockHeld

    result = UpdateResult()
    # An idle pass (nothing pending, the mark where it stands) writes nothing, not even the lock's row: a console
    # left open on a quiet store only reads. The plan is made before the lock and kept unless another pass moved
    # the mark meanwhile (planning a first pass reads the whole range: not twice).
    seen = store.drift.mark(model, window_ms)
    plans, mark, _, _ = plan_pending(store, model, window_ms=window_ms, since=since, until=until, now=now,
                                     settle_ms=settle_ms)
    if not plans and (mark is None or mark == seen):
        return result
    try:
        lock = store.locks.acquire(f"drift:{model}", ttl_ms=LOCK_TTL_MS)
    except LockHeld as held:
        result.busy_with = held.holder.holder
        return result
    except StoreBusy:  # the write lock stayed taken for the busy timeout
        result.busy_with = "a long write (a bulk ingest?)"
        return result
    try:
        if store.drift.mark(model, window_ms) != seen:  # another process's pass moved on: plan from where it is
            plans, mark, _, _ = plan_pending(store, model, window_ms=window_ms, since=since, until=until, now=now,
                                             settle_ms=settle_ms)
        if max_windows is not None and len(plans) > max_windows:
            plans, mark = (plans[-max_windows:] if max_windows > 0 else []), None  # the rest on later passes
        cache: dict[str, tuple[list[FeatureBaseline], dict[str, Any]]] = {}

        def prepared(version: str) -> tuple[list[FeatureBaseline], dict[str, Any]]:
            if version not in cache:
                baselines = store.baselines.for_version(model, version)
                references = reference_samples(baselines)
                cache[version] = ([b for b in baselines if b.feature in references], references)
            return cache[version]

        held: list[tuple[WindowPlan, list[DriftPoint]]] = []

        def store_held() -> bool:
            try:
                stored = _store_many(store, model, held)
            except StoreBusy:
                result.busy_with = "a long write (a bulk ingest?)"  # what is done is kept; the rest next time
                return False
            finally:
                held.clear()
            result.windows += len(stored)
            result.points += sum(len(points) for _, points in stored)
            return True

        for plan, points in compute_windows(store, model, plans, prepared, thresholds):
            if cancelled():  # the screen that asked is gone: what is computed is stored, the rest waits
                mark = None
                break
            if points:
                held.append((plan, points))
            if len(held) >= STORE_WINDOWS and not store_held():
                mark = None
                break
        if held and not store_held():
            mark = None
        if mark is not None:
            # Every pending window is stored, had nothing to compare, or lost a race with an ingest whose
            # rows are newer than the mark (so the next pass sees its window again).
            try:
                store.drift.set_mark(model, window_ms, mark)
            except StoreBusy:
                pass  # the next pass plans from the rows again: slower, never wrong
    finally:
        store.locks.release(lock)
    return result


# Windows written in one transaction: a from-scratch run of 720 windows pays 12 commits, not 720; a
# reader still sees results arrive as they are computed.
STORE_WINDOWS = 64


def _store_many(store: "Store", model: str,
                computed: list[tuple[WindowPlan, list[DriftPoint]]]) -> list[tuple[WindowPlan, list[DriftPoint]]]:
    """Write each window's results unless rows landed in it since it was planned (an ingest running at the
    same time): then it stays pending and the next pass computes it from the complete data. The checks and
    the writes share one write transaction, so no ingest commit can slip between them; rows that land after
    it make the ingest forget the window (DriftTable.invalidate) and it is computed again. Returns the
    windows written."""
    written = []
    with store.write():
        totals = _totals_now(store, model, [plan for plan, _ in computed])
        for plan, points in computed:
            if plan.total >= 0 and totals(plan) != plan.total:
                continue  # nothing written for it
            store.drift.insert_many(points)
            written.append((plan, points))
    return written


def _totals_now(store: "Store", model: str, plans: list[WindowPlan]) -> Callable[[WindowPlan], int]:
    """Rows of every version in each plan's window now: one aggregate over the range when the windows lie
    close together (a batch from scratch), else a count a window (a late window weeks back and the newest)."""
    if len(plans) < 2:
        return lambda plan: store.windows.rows_in(model, plan.start, plan.end)
    window_ms = plans[0].end - plans[0].start
    first, last = min(plan.start for plan in plans), max(plan.end for plan in plans)
    if (last - first) // window_ms > 2 * len(plans):
        return lambda plan: store.windows.rows_in(model, plan.start, plan.end)
    totals = store.windows.rows_per_window(model, window_ms, first, last)
    return lambda plan: totals.get(plan.start, 0)


def _store_if_unchanged(store: "Store", model: str, plan: WindowPlan, points: list[DriftPoint]) -> bool:
    """``_store_many`` for one window: whether it was written."""
    return bool(_store_many(store, model, [(plan, points)]))


def stored_points(store: "Store", model: str, *, window_ms: int, since: int | None = None,
                  until: int | None = None) -> list[DriftPoint]:
    """Stored results of windows of this size that start in [since, until), oldest window first."""
    return store.drift.stored(model, window_ms, since if since is not None else 0,
                              until if until is not None else 2**62)


@dataclass(frozen=True)
class PredictionWindow:
    """The prediction's distribution in one window: quantiles of a score, or shares of the top classes."""

    start: int
    rows: int
    quantiles: tuple[float, float, float] | None = None  # p10, p50, p90 of a numeric score
    shares: Mapping[str, float] | None = None  # class -> share of the window's predictions


def prediction_windows(store: "Store", model: str, *, window_ms: int, since: int, until: int,
                       cancelled: Callable[[], bool] = lambda: False) -> list[PredictionWindow]:
    """Per UTC-aligned window in [since, until): how the model's predictions were distributed.

    The score is used when the log has one (else a numeric prediction); class predictions give shares.
    One ordered range read, streamed in chunks: memory holds one window's scores and the class counts,
    never the range (48 day windows at 10M rows were 0.5 GB as lists). Stops early, with what it has,
    when ``cancelled()`` turns true (the screen that asked is gone).
    """
    import numpy as np

    numeric_out: list[PredictionWindow] = []
    label_out: list[PredictionWindow] = []
    n_numeric = n_labels = 0
    current: int | None = None
    scores: list[float] = []
    labels: dict[str, int] = {}

    def close(start: int) -> None:
        nonlocal n_numeric, n_labels
        if scores:
            values = np.asarray(scores, dtype=np.float64)
            n_numeric += values.size
            values = values[np.isfinite(values)]
            if values.size:
                p10, p50, p90 = np.percentile(values, (10, 50, 90)).tolist()
                numeric_out.append(PredictionWindow(start, int(values.size), quantiles=(p10, p50, p90)))
        if labels:
            total = sum(labels.values())
            n_labels += total
            label_out.append(PredictionWindow(start, total, shares={name: labels[name] / total
                                                                    for name in sorted(labels)}))

    for chunk in store.windows.scores_in_order(model, align(since, window_ms), until):
        if cancelled():
            break
        for ts, score, prediction in chunk:
            start = ts - ts % window_ms
            if start != current:
                if current is not None:
                    close(current)
                    scores, labels = [], {}
                current = start
            if score is not None:
                scores.append(score)
            elif isinstance(prediction, (int, float)):
                scores.append(float(prediction))
            elif prediction is not None:
                name = _label(prediction)
                labels[name] = labels.get(name, 0) + 1
    if current is not None:
        close(current)
    return numeric_out if n_numeric >= n_labels else label_out


def _label(prediction: Any) -> str:
    # Stored as JSON text: "\"approve\"" -> approve; anything else (objects, lists) keeps its JSON spelling.
    if isinstance(prediction, str):
        try:
            value = orjson.loads(prediction)
        except orjson.JSONDecodeError:
            return prediction
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return prediction
    return str(prediction)
