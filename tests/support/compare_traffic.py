"""Generated champion/challenger traffic for the comparison and gate tests, kept beside its truth.

``make_traffic`` draws requests answered by a champion (``v1``) and, for most of them, a
challenger (``v2``), plus requests only one of them answered, errors, missing latencies and
ground truth for part of them. It returns the rows to store and the list of true pairs, from
which the tests compute every statistic by brute force.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from app.models import ModelInfo, Stage, Version
from app.store.backend import StoreBackend
from app.store.predictions import PredictionRow

T0 = 1_790_000_000_000
MINUTE = 60_000


@dataclass
class Answer:
    ts: int
    prediction: Any
    score: float | None
    label: Any
    latency: float | None
    error: bool


@dataclass
class Pair:
    ts: int  # the challenger's
    a: Answer
    b: Answer

    @property
    def label(self) -> Any:
        return self.a.label if self.a.label is not None else self.b.label


def row(model: str, version: str, request_id: str, ans: Answer, *, context: dict | None = None) -> PredictionRow:
    return PredictionRow(ans.ts, model, version, request_id, None, None if ans.error else ans.prediction,
                         None if ans.error else ans.score, ans.label, ans.latency, "error" if ans.error else "ok",
                         "boom" if ans.error else None, None, orjson.dumps(context).decode() if context else None, "")


def make_traffic(n: int, *, seed: int = 1, regression: bool = False, classes: tuple = (0, 1),
                 span_ms: int = 600 * MINUTE, unpaired_a: int = 0, unpaired_b: int = 0,
                 key: str = "request_id") -> tuple[list[PredictionRow], list[Pair]]:
    """``n`` paired requests (+ unpaired ones). ``key``: request_id (same id on both rows) or a
    context key name (the challenger gets its own request_id and carries the shared key)."""
    rng = np.random.default_rng(seed)
    rows: list[PredictionRow] = []
    pairs: list[Pair] = []

    def answer(ts: int, truth: Any, noise: float, latency_median: float) -> Answer:
        err = bool(rng.random() < 0.03)
        latency = None if rng.random() < 0.02 else round(float(latency_median * np.exp(0.4 * rng.standard_normal())), 2)
        if regression:
            value = int(round(float(truth) * float(np.exp(noise * rng.standard_normal())) / 10)) * 10
            return Answer(ts, value, None, None, latency, err)
        score = round(float(1 / (1 + np.exp(-(2 * (classes.index(truth) - 0.5) * 2 + noise * rng.standard_normal())))), 3)
        prediction = truth if rng.random() > noise / 3 else classes[int(rng.integers(len(classes)))]
        return Answer(ts, prediction, score, None, latency, err)

    total = n + unpaired_a + unpaired_b
    kinds = np.array(["pair"] * n + ["a"] * unpaired_a + ["b"] * unpaired_b)
    rng.shuffle(kinds)  # unpaired requests spread over the whole span
    for i in range(total):
        ts = T0 + i * span_ms // total
        truth: Any = (float(rng.integers(100, 5000)) if regression else classes[int(rng.integers(len(classes)))])
        labelled = rng.random() < 0.6
        a = answer(ts, truth, 0.6, 20.0)
        b = answer(ts + int(rng.integers(1, 30)), truth, 0.5, 18.0)
        label = (int(truth) if regression else truth) if labelled else None
        rid = f"r{i:06d}"
        kind = str(kinds[i])
        # Ground truth lands on the champion's row, or on the challenger's, or both (as a log would have it).
        where = int(rng.integers(3))
        a.label = label if where in (0, 2) and not a.error else None
        b.label = label if where in (1, 2) and not b.error else None
        if kind in ("pair", "a"):
            rows.append(row("m", "v1", rid, a, context={key: rid} if key != "request_id" else None))
        if kind in ("pair", "b"):
            b_id = rid if key == "request_id" else f"s{i:06d}"
            rows.append(row("m", "v2", b_id, b, context={key: rid} if key != "request_id" else None))
        if kind == "pair":
            pairs.append(Pair(b.ts, a, b))
    return rows, pairs


def seed_store(store: StoreBackend, rows: list[PredictionRow], *, task: str = "classification") -> None:
    """The model, its champion v1 and challenger v2, and ``rows`` appended to the log (either backend)."""
    store.registry.upsert_model(ModelInfo(name="m", task=task, created_at=T0))
    store.registry.upsert_version(Version(model="m", version="v1", stage=Stage.champion, created_at=T0))
    store.registry.upsert_version(Version(model="m", version="v2", stage=Stage.challenger, created_at=T0 + 1))
    store.predictions.append(rows)
