"""The demo store: four models, 30 days of traffic, two drift episodes, an incident and its rollback.

``build_demo_store`` is the Python API (the console's tests use it with small sizes and a
fixed ``now_ms``); ``open_demo`` adds what ``modeldeck demo`` needs: reuse a finished demo
store, refuse to overwrite anything that is not one.

A store is built in a side file and renamed into place when complete, so an interrupted
build never leaves a half demo behind; its last audit entry (action ``demo.build``)
marks it as a finished demo store and records what was built.

Shadow traffic: a challenger or shadow version's answer to a live request is its own row
(its own ``request_id``, since uniqueness is per model and request) whose context names the
live request: ``{"shadow_of": "<live request_id>"}``; both rows share entity, features,
trace id and ground truth. Pair them with the (model, request_id) index:
``JOIN predictions c ON c.model = s.model AND c.request_id = json_extract(s.context, '$.shadow_of')``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from pydantic import BaseModel

from app.drift.baselines import compute_baseline
from app.demo.catalogue import (DRIFT_EPISODES, INCIDENT, INJECTED_CONTEXT, INJECTED_ERROR, MODELS, Derived,
                                ModelSpec, Numeric, VersionSpec)
from app.store.gc_pause import gc_paused
from app.models import Stage, Version
from app.store import Store, StoreError
from app.timeutil import now_ms as current_ms

DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 42
MARKER = "demo.build"
BASELINE_ROWS = 20_000  # training-like reference sample per version
HOLDOUT_ROWS = 10_000  # offline evaluation sample per version
_BATCH = 50_000
PREDICTION_FEATURE = "__prediction__"

Progress = Callable[[int, int], None]


class DemoModel(BaseModel):
    name: str
    task: str
    owner: str | None
    champion: str
    versions: dict[str, str]  # version -> stage
    rows: int
    shadow_rows: int


class DemoEpisode(BaseModel):
    model: str
    feature: str
    start_ms: int
    end_ms: int
    description: str


class DemoIncident(BaseModel):
    model: str
    version: str
    start_ms: int
    end_ms: int
    rollback_to: str
    description: str


class DemoSummary(BaseModel):
    path: Path
    seed: int
    now_ms: int
    start_ms: int
    rows: int
    labelled: int
    errors: int
    shadow_rows: int
    models: list[DemoModel]
    drift_episodes: list[DemoEpisode]
    incident: DemoIncident
    baselines: int
    audit_entries: int
    seconds: float
    reused: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def describe(self) -> list[str]:
        """What is in the store, in a few lines for the operator."""
        from app.timeutil import TimeFormat, format_ms

        lines = [
            f"{self.rows:,} predictions over 30 days ending {format_ms(self.now_ms, TimeFormat.MINUTE)} UTC "
            f"({self.labelled:,} with ground truth, {self.errors:,} errors, {self.shadow_rows:,} shadow answers)",
        ]
        for model in self.models:
            others = ", ".join(f"{v} {s}" for v, s in model.versions.items() if v != model.champion)
            lines.append(f"  {model.name:<16} {model.task:<15} champion {model.champion}; {others}")
        for episode in self.drift_episodes:
            lines.append(f"  drift:    {episode.description}")
        # Both ends: the description names the rollback, which happened at the end.
        lines.append(f"  incident: {self.incident.description} "
                     f"({format_ms(self.incident.start_ms, TimeFormat.MINUTE)} to {format_ms(self.incident.end_ms, TimeFormat.CLOCK)} UTC)")
        return lines


def _clock(now: int):
    from app.demo.traffic import Clock

    return Clock(now=now)


def _split(rows: int) -> list[int]:
    counts = [int(rows * spec.traffic_share) for spec in MODELS]
    counts[0] += rows - sum(counts)
    return counts


def _inject_untrusted_text(blocks: list[Any]) -> None:
    """One fraud error message and one ticket's context carry Rich markup and ANSI escapes (recent rows,
    so they are on the logs screen's first page): the console must show them literally."""
    for block in blocks:
        live = np.flatnonzero(block.shadow_of < 0)
        if not len(live):
            continue
        last = live[-1]
        if block.spec.name == "fraud-scorer":
            block.error[last] = INJECTED_ERROR
            block.prediction[last] = None
            block.label[last] = None
            if block.score is not None:
                block.score[last] = np.nan
        elif block.spec.name == "ticket-router":
            block.client[last] = INJECTED_CONTEXT


def _counted(batches: Iterable[list[Any]], total: int, progress: Progress | None,
             after: Callable[[], None] | None = None) -> Iterator[list[Any]]:
    """The batches, counted to ``progress``; ``after`` runs once the last one is taken (the writer then
    rebuilds the indexes)."""
    done = 0
    for batch in batches:
        yield batch
        done += len(batch)
        if progress:
            progress(done, total)
    if after:
        after()


def _reference(spec: ModelSpec, version: VersionSpec, rng: np.random.Generator, n: int):
    """A training-like sample (no drift) and the version's answers to it."""
    from app.demo.traffic import answer_by_version, simulate

    columns, outcome = simulate(spec, rng, n)
    versions = np.full(n, version.version, dtype=object)
    prediction, score = answer_by_version(spec, rng, columns, outcome, rng.standard_normal(n), versions)
    return columns, outcome, prediction, score


def _auc(actual: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC as the Mann-Whitney U statistic, tied scores sharing their average rank."""
    n_pos, n_neg = int(actual.sum()), int((~actual).sum())
    if not (n_pos and n_neg):
        return None
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    return round(float((ranks[actual].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)), 4)


def _offline_metrics(spec: ModelSpec, version: VersionSpec, rng: np.random.Generator) -> dict[str, Any]:
    _, outcome, prediction, score = _reference(spec, version, rng, HOLDOUT_ROWS)
    metrics: dict[str, Any] = {}
    if spec.info.task == "regression":
        error = prediction.astype(float) - outcome.truth.astype(float)
        metrics["mae"] = round(float(np.abs(error).mean()), 1)
        metrics["rmse"] = round(float(np.sqrt((error ** 2).mean())), 1)
    else:
        metrics["accuracy"] = round(float((prediction == outcome.truth).mean()), 4)
        if spec.positive is not None:
            metrics["auc"] = _auc(outcome.truth == spec.positive, score)
    metrics["p95_latency_ms"] = round(version.latency_ms * float(np.exp(1.645 * version.latency_sigma)), 1)
    metrics["throughput_rps"] = version.throughput_rps
    metrics["holdout_rows"] = HOLDOUT_ROWS
    return metrics


def _baselines(store: Store, spec: ModelSpec, version: VersionSpec, rng: np.random.Generator, n: int,
               created_at: int) -> int:
    columns, _, prediction, score = _reference(spec, version, rng, n)
    kinds = {f.name: ("numeric" if isinstance(f, Numeric) or (isinstance(f, Derived) and f.kind == "numeric")
                      else "categorical") for f in spec.features}
    # The prediction's distribution: the score where the model logs one, else the predicted value.
    reference = {**columns, PREDICTION_FEATURE: score if spec.info.task != "regression" else prediction}
    kinds[PREDICTION_FEATURE] = "numeric"
    for feature, values in reference.items():
        store.baselines.put(compute_baseline(values, model=spec.name, version=version.version, feature=feature,
                                             kind=kinds[feature], created_at=created_at))
    return len(reference)


def _registry(store: Store, clock: Any, seed: int, baseline_rows: int) -> tuple[int, dict[tuple[str, str], dict]]:
    from app.demo.cards import card

    baselines = 0
    all_metrics: dict[tuple[str, str], dict] = {}
    for m, spec in enumerate(MODELS):
        oldest = min(clock.at(v.created_days_ago) for v in spec.versions)
        store.registry.upsert_model(spec.info.model_copy(update={"created_at": oldest}))
        for k, version in enumerate(spec.versions):
            created = clock.at(version.created_days_ago)
            metrics = _offline_metrics(spec, version, np.random.default_rng([seed, m, 200 + k]))
            all_metrics[(spec.name, version.version)] = metrics
            store.registry.upsert_version(Version(model=spec.name, version=version.version, stage=version.stage,
                                                  created_at=created, metrics=metrics,
                                                  card=card(spec, version, metrics)))
            if version.stage in (Stage.champion, Stage.challenger, Stage.shadow):
                baselines += _baselines(store, spec, version, np.random.default_rng([seed, m, 100 + k]),
                                        baseline_rows, created)
    return baselines, all_metrics


def _summary_models(blocks: list[Any]) -> list[DemoModel]:
    out = []
    for spec, block in zip(MODELS, blocks):
        out.append(DemoModel(
            name=spec.name, task=spec.info.task, owner=spec.info.owner,
            champion=next(v.version for v in spec.versions if v.stage is Stage.champion),
            versions={v.version: v.stage.value for v in spec.versions},
            rows=len(block), shadow_rows=int((block.shadow_of >= 0).sum())))
    return out


def _generate(rows: int, seed: int, clock: Any) -> list[Any]:
    from app.demo.traffic import customer_weights, generate, minute_weights

    weights, customers = minute_weights(clock), customer_weights()
    blocks, first = [], 0
    for m, (spec, count) in enumerate(zip(MODELS, _split(rows))):
        # One generator per model: a model's traffic does not change when another's code does.
        blocks.append(generate(spec, count, np.random.default_rng([seed, m]), clock, weights, customers,
                               episodes=DRIFT_EPISODES, incident=INCIDENT, first_request=first))
        first += count
    _inject_untrusted_text(blocks)
    return blocks


def _summary(path: Path, seed: int, clock: Any, blocks: list[Any], baselines: int, audit_entries: int) -> DemoSummary:
    return DemoSummary(
        path=path, seed=seed, now_ms=clock.now, start_ms=clock.start, rows=sum(len(b) for b in blocks),
        labelled=sum(int((b.label != None).sum()) for b in blocks),  # noqa: E711 (elementwise)
        errors=sum(int((b.error != None).sum()) for b in blocks),  # noqa: E711
        shadow_rows=sum(int((b.shadow_of >= 0).sum()) for b in blocks),
        models=_summary_models(blocks),
        drift_episodes=[DemoEpisode(model=e.model, feature=e.feature, start_ms=clock.at(e.start_days_ago),
                                    end_ms=clock.at(e.end_days_ago), description=e.description)
                        for e in DRIFT_EPISODES],
        incident=DemoIncident(model=INCIDENT.model, version=INCIDENT.version,
                              start_ms=clock.at(INCIDENT.start_days_ago), end_ms=clock.at(INCIDENT.end_days_ago),
                              rollback_to=INCIDENT.rollback_to, description=INCIDENT.description),
        baselines=baselines, audit_entries=audit_entries, seconds=0.0,
    )


def build_demo_store(path: Path | str, *, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED,
                     now_ms: int | None = None, baseline_rows: int = BASELINE_ROWS,
                     progress: Progress | None = None, phase: Callable[[str], None] | None = None
                     ) -> DemoSummary:
    """Build a demo store at ``path`` (replacing a previous demo store there) and describe it.
    ``progress`` hears (rows written, rows wanted); ``phase`` hears the name of each step after the
    rows (indexes, baselines, story ...), so a watcher never sees a bar sitting at 100 % in silence.

    Deterministic for a given ``seed`` and ``now_ms``. Refuses (StoreError) to replace a file
    that is not a demo store.
    """
    from app.demo.story import alerts, audit, checklist, signoffs
    from app.demo.traffic import merged_batches
    from app.store.files import bulk_load, checkpoint, unsynced
    from app.store.identity import current_actor

    if rows < 0:
        raise ValueError("rows must be >= 0")
    path = Path(path)
    started = time.perf_counter()
    existing_demo(path)  # raises if the file holds something else
    clock = _clock(current_ms() if now_ms is None else now_ms)
    side = path.with_name(path.name + ".building")
    _remove(side)
    with gc_paused():  # millions of short-lived acyclic tuples: nothing for the cyclic GC to find
        blocks = _generate(rows, seed, clock)
        store = Store.open(side)
        try:
            # A side file, renamed into place only when complete: no need to sync every commit.
            unsynced(store)
            step = phase or (lambda name: None)
            bulk_load(store, _counted(merged_batches(blocks, _BATCH), rows, progress,
                                      lambda: step("indexes and full-text search")))
            step("registry and drift baselines")
            baselines, metrics = _registry(store, clock, seed, baseline_rows)
            step("readiness checklists and sign-offs")
            checklist(store, clock, metrics)
            signoffs(store, clock)
            step("alerts and the audit story")
            audit_entries = audit(store, clock, alerts(store, clock))
            summary = _summary(path, seed, clock, blocks, baselines, audit_entries + 1)
            summary.seconds = round(time.perf_counter() - started, 2)
            # Written last: its presence marks a finished demo store and says what it holds.
            store.audit.append(MARKER, None, detail=summary.model_dump(mode="json", exclude={"path", "reused"}),
                               outcome="succeeded", actor=current_actor(), ts=clock.now)
            step("writing the store to disk")
            checkpoint(store)
        except BaseException:
            store.close()
            _remove(side)
            raise
        store.close()
    _remove(path)
    os.replace(side, path)
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def existing_demo(path: Path | str) -> DemoSummary | None:
    """The finished demo store at ``path``, or None when there is none (or an empty store) to reuse.

    Raises StoreError for a file that holds anything else, so a real store is never overwritten.
    """
    from app.store.files import peek

    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        found = peek(path, MARKER)
    except StoreError as exc:
        raise StoreError(f"{exc}; refusing to overwrite it") from None
    if found.marker_detail is not None:
        import orjson

        return DemoSummary.model_validate({**orjson.loads(found.marker_detail), "path": path, "reused": True})
    if found.holds_data or (found.tables and "schema_version" not in found.tables):
        raise StoreError(f"{path}: holds data that is not a modeldeck demo store; refusing to overwrite it "
                         "(choose another --db)")
    return None


def traffic_until(path: Path | str) -> int | None:
    """The newest prediction's time in the store at ``path`` (live demo traffic writes past the build)."""
    from app.store.files import newest_prediction_ts

    return newest_prediction_ts(path)


def open_demo(path: Path | str, *, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, rebuild: bool = False,
              progress: Progress | None = None, phase: Callable[[str], None] | None = None) -> DemoSummary:
    """Reuse the finished demo store at ``path`` unless ``rebuild``; otherwise build one."""
    found = existing_demo(path)
    if found is not None and not rebuild:
        return found
    return build_demo_store(path, rows=rows, seed=seed, progress=progress, phase=phase)


__all__ = ["DemoSummary", "DemoModel", "DemoEpisode", "DemoIncident", "build_demo_store", "existing_demo",
           "open_demo", "DEFAULT_ROWS", "DEFAULT_SEED"]
