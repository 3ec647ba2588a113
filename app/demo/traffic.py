"""The demo's prediction log: one model's 30 days of traffic as numpy columns, then store rows.

Everything is drawn vectorised (no per-row validation: the rows are valid by construction);
only the final JSON and text of each row is built per row, chunk by chunk, so a million
rows never sit in memory as Python objects at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Iterator

import numpy as np
import orjson

from app.demo.catalogue import (DAY_MS, MINUTE_MS, REGIONS, Categorical, Columns, Derived, DriftEpisode,
                                IncidentSpec, ModelSpec, Numeric, Outcome, Rng)
from app.store.predictions import PredictionRow

DAYS = 30
CUSTOMERS = 50_000
# Odd multiplier and offset of a bijection on 32-bit numbers: a request id's random-looking tail.
_ID_MULTIPLIER = np.uint64(0x9E3779B1)
_ID_OFFSET = np.uint64(0x5DEECE66)


@dataclass(frozen=True)
class Clock:
    """The demo's time frame: ``days`` ending at ``now`` (epoch ms)."""

    now: int
    days: int = DAYS

    @property
    def start(self) -> int:
        return self.now - self.days * DAY_MS

    def at(self, days_ago: float) -> int:
        """A moment ``days_ago`` before now, on a whole minute (story times read well)."""
        return self.now - int(round(days_ago * DAY_MS / MINUTE_MS)) * MINUTE_MS


def cycle_weights(clock: Clock, ts: np.ndarray) -> np.ndarray:
    """Relative traffic at moments ``ts`` (unnormalised): a daily cycle peaking mid-afternoon UTC, quieter
    weekends, slow growth over the demo's days (continuing past its end, for the live trickle)."""
    ts = np.asarray(ts, dtype=np.int64)
    hour = (ts // 3_600_000) % 24 + (ts // MINUTE_MS % 60) / 60
    daily = 1.0 + 0.75 * np.cos((hour - 14.5) / 24 * 2 * np.pi)
    weekday = (ts // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekly = np.where(weekday >= 5, 0.75, 1.0)
    growth = 1.0 + 0.12 * ((ts - clock.start) // MINUTE_MS) / (clock.days * 1440)
    return daily * weekly * growth


def minute_weights(clock: Clock) -> np.ndarray:
    """Share of the demo's traffic in each of its minutes (sums to 1)."""
    weights = cycle_weights(clock, clock.start + np.arange(clock.days * 1440) * MINUTE_MS)
    return weights / weights.sum()


def sample_times(rng: Rng, n: int, clock: Clock, weights: np.ndarray) -> np.ndarray:
    minute = rng.choice(len(weights), size=n, p=weights)
    return np.sort(clock.start + minute.astype(np.int64) * MINUTE_MS + rng.integers(0, MINUTE_MS, n))


# PredictionRow(*fields) runs a Python-level __new__ per row; tuple.__new__ on the class
# makes the same namedtuple from a zipped tuple at C speed (a fifth of the cost).
_as_row = partial(tuple.__new__, PredictionRow)
CUSTOMER_IDS = np.array([f"cust-{k}" for k in range(1, CUSTOMERS + 1)], dtype=object)


def customer_weights() -> np.ndarray:
    # A long tail: a few customers appear hundreds of times, most a handful.
    weights = 1.0 / (np.arange(CUSTOMERS) + 25.0) ** 1.1
    return weights / weights.sum()


@dataclass
class Block:
    """One model's rows as columns, in timestamp order."""

    spec: ModelSpec
    ts: np.ndarray
    version: np.ndarray
    entity: np.ndarray  # customer number
    features: Columns
    prediction: np.ndarray  # object: None on errors
    score: np.ndarray | None  # float, NaN on errors
    label: np.ndarray  # object: None until ground truth arrived
    latency: np.ndarray
    error: np.ndarray  # object: None when ok
    region: np.ndarray
    client: np.ndarray
    trace: np.ndarray  # uint64
    shadow_of: np.ndarray  # row index (in this block) of the live request a shadow answer copies, else -1
    first_request: int  # request numbers are first_request + row index

    def __len__(self) -> int:
        return len(self.ts)


def request_ids(ts: np.ndarray, numbers: np.ndarray) -> list[str]:
    """Time-ordered ids (like ULIDs or UUIDv7): the millisecond, then the scrambled row number.

    Unique because row numbers are (below 2**32); time-ordered, so the store's unique
    (model, request_id) index grows at its end instead of being written all over.
    """
    tails = (numbers.astype(np.uint64) * _ID_MULTIPLIER + _ID_OFFSET) & np.uint64(0xFFFFFFFF)
    return [f"{t:012x}-{x:08x}" for t, x in zip(ts.tolist(), tails.tolist())]


def draw_features(spec: ModelSpec, rng: Rng, n: int) -> Columns:
    columns: Columns = {}
    for feature in spec.features:
        if isinstance(feature, (Numeric, Categorical)):
            columns[feature.name] = feature.draw(rng, n)
    return columns


def apply_drift(spec: ModelSpec, rng: Rng, columns: Columns, ts: np.ndarray, clock: Clock,
                episodes: tuple[DriftEpisode, ...]) -> None:
    for episode in episodes:
        if episode.model != spec.name:
            continue
        mask = (ts >= clock.at(episode.start_days_ago)) & (ts < clock.at(episode.end_days_ago))
        if episode.end_days_ago == 0:
            mask = ts >= clock.at(episode.start_days_ago)
        if not mask.any():
            continue
        feature = next(f for f in spec.features if f.name == episode.feature)
        if episode.scale is not None:
            columns[feature.name][mask] = columns[feature.name][mask] * episode.scale
        elif isinstance(feature, Categorical):
            columns[feature.name][mask] = feature.draw(rng, int(mask.sum()), episode.weights)


def round_features(spec: ModelSpec, columns: Columns) -> None:
    """Round numeric features as a serving system would log them (integers as integers)."""
    for feature in spec.features:
        if (isinstance(feature, Categorical) or (isinstance(feature, Derived) and feature.kind != "numeric")
                or feature.name not in columns):
            continue
        values = columns[feature.name]
        columns[feature.name] = (np.round(values).astype(np.int64) if feature.decimals == 0
                                 else np.round(values.astype(float), feature.decimals))


def simulate(spec: ModelSpec, rng: Rng, n: int, *, ts: np.ndarray | None = None, clock: Clock | None = None,
             episodes: tuple[DriftEpisode, ...] = ()) -> tuple[Columns, Outcome]:
    """Requests and what really happened to them; drift episodes apply when ``ts`` is given."""
    columns = draw_features(spec, rng, n)
    if ts is not None and clock is not None:
        apply_drift(spec, rng, columns, ts, clock, episodes)
    for feature in spec.features:  # the world sees logged (rounded) values
        if isinstance(feature, Numeric):
            columns[feature.name] = columns[feature.name].astype(float)
    round_features(spec, columns)
    outcome = spec.outcome(rng, columns)
    round_features(spec, columns)  # derived features appear in `outcome`
    ordered = {f.name: columns[f.name] for f in spec.features}
    return ordered, outcome


def answer_by_version(spec: ModelSpec, rng: Rng, columns: Columns, outcome: Outcome, shared: np.ndarray,
                      versions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each request answered by the version that served it."""
    n = len(versions)
    prediction = np.empty(n, dtype=object)
    score = np.full(n, np.nan)
    for name in sorted(set(versions.tolist())):
        mask = versions == name
        sub = {key: values[mask] for key, values in columns.items()}
        sub_outcome = Outcome(latent=outcome.latent[mask], truth=outcome.truth[mask])
        values, scores = spec.answer(rng, sub, sub_outcome, shared[mask], spec.version(name))
        prediction[mask] = values.astype(object)
        if scores is not None:
            score[mask] = np.round(scores, 4)
    return prediction, score


def serve(spec: ModelSpec, rng: Rng, ts: np.ndarray, versions: np.ndarray, clock: Clock,
          incident: IncidentSpec | None) -> tuple[np.ndarray, np.ndarray]:
    """Latency (lognormal per version) and errors, with the incident's spike where it applies."""
    n = len(ts)
    median = np.empty(n)
    sigma = np.empty(n)
    error_rate = np.empty(n)
    for name in sorted(set(versions.tolist())):
        mask = versions == name
        version = spec.version(name)
        median[mask], sigma[mask], error_rate[mask] = version.latency_ms, version.latency_sigma, version.error_rate
    latency = median * np.exp(sigma * rng.standard_normal(n))
    messages = np.array(spec.errors, dtype=object)[rng.integers(0, len(spec.errors), n)]
    if incident is not None and incident.model == spec.name:
        hit = ((versions == incident.version) & (ts >= clock.at(incident.start_days_ago))
               & (ts < clock.at(incident.end_days_ago)))
        latency[hit] *= incident.latency_factor
        error_rate[hit] = incident.error_share
        messages[hit] = np.array(incident.errors, dtype=object)[rng.integers(0, len(incident.errors), hit.sum())]
    failed = rng.random(n) < error_rate
    latency[failed] *= 2.5  # failures are mostly timeouts
    error = np.where(failed, messages, None)
    return np.round(latency, 2), error


def ground_truth(spec: ModelSpec, rng: Rng, ts: np.ndarray, truth: np.ndarray, failed: np.ndarray,
                 clock: Clock) -> np.ndarray:
    """Labels arrive with a delay: the older a prediction, the likelier its ground truth is known."""
    age = (clock.now - ts) / DAY_MS
    known = rng.random(len(ts)) < spec.label_share * (1.0 - np.exp(-age / spec.label_delay_days))
    return np.where(known & ~failed, truth.astype(object), None)


def live_versions(spec: ModelSpec, ts: np.ndarray, clock: Clock) -> np.ndarray:
    starts = np.array([clock.at(days_ago) for days_ago, _ in spec.live])
    names = np.array([name for _, name in spec.live], dtype=object)
    return names[np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, None)]


def generate(spec: ModelSpec, n: int, rng: Rng, clock: Clock, weights: np.ndarray, customers: np.ndarray, *,
             episodes: tuple[DriftEpisode, ...], incident: IncidentSpec | None, first_request: int) -> Block:
    """Exactly ``n`` rows for one model: live requests plus the shadow version's answers to part of them."""
    since = clock.at(spec.shadow.since_days_ago)
    eligible_share = float(weights[(clock.start + np.arange(len(weights)) * MINUTE_MS) >= since].sum())
    q = spec.shadow.share * eligible_share
    n_shadow = int(round(n * q / (1 + q)))
    ts = sample_times(rng, n - n_shadow, clock, weights)
    eligible = np.flatnonzero(ts >= since)
    if len(eligible) < n_shadow:  # tiny stores: fewer shadows, more live requests, same total
        ts = np.sort(np.concatenate([ts, sample_times(rng, n_shadow - len(eligible), clock, weights)]))
        n_shadow = len(eligible)
        eligible = np.flatnonzero(ts >= since)
    copied = np.sort(rng.choice(eligible, size=n_shadow, replace=False))
    return assemble(spec, rng, ts, live_versions(spec, ts, clock), copied, spec.shadow.version, clock, customers,
                    episodes=episodes, incident=incident, first_request=first_request)


def assemble(spec: ModelSpec, rng: Rng, ts: np.ndarray, versions: np.ndarray, copied: np.ndarray,
             shadow_version: str, clock: Clock, customers: np.ndarray, *, episodes: tuple[DriftEpisode, ...], incident: IncidentSpec | None,
             first_request: int) -> Block:
    """The rows of live requests at ``ts`` (sorted) served by ``versions``, plus ``shadow_version``'s answers to
    the requests at positions ``copied``: features, answers, latency, errors, ground truth known by ``clock.now``."""
    n_shadow = len(copied)
    n_live = len(ts)

    columns, outcome = simulate(spec, rng, n_live, ts=ts, clock=clock, episodes=episodes)
    shared = rng.standard_normal(n_live)  # the error every version of this model shares on a request
    prediction, score = answer_by_version(spec, rng, columns, outcome, shared, versions)
    latency, error = serve(spec, rng, ts, versions, clock, incident)
    label = ground_truth(spec, rng, ts, outcome.truth, error != None, clock)  # noqa: E711 (elementwise)

    # The shadow version answers the same requests a few milliseconds later.
    s_columns = {key: values[copied] for key, values in columns.items()}
    s_outcome = Outcome(latent=outcome.latent[copied], truth=outcome.truth[copied])
    s_versions = np.full(n_shadow, shadow_version, dtype=object)
    s_ts = np.minimum(ts[copied] + rng.integers(2, 40, n_shadow), clock.now - 1)
    s_prediction, s_score = answer_by_version(spec, rng, s_columns, s_outcome, shared[copied], s_versions)
    s_latency, s_error = serve(spec, rng, s_ts, s_versions, clock, incident)
    s_label = np.where(s_error == None, label[copied], None)  # noqa: E711

    entity = rng.choice(CUSTOMERS, size=n_live, p=customers)
    region = Categorical("region", REGIONS).draw(rng, n_live)
    client = Categorical("client", spec.clients).draw(rng, n_live)
    trace = rng.integers(0, 2**63, n_live, dtype=np.int64).astype(np.uint64)

    all_ts = np.concatenate([ts, s_ts])
    order = np.argsort(all_ts, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    shadow_of = np.concatenate([np.full(n_live, -1), position[copied]])

    def both(live: np.ndarray, shadow: np.ndarray) -> np.ndarray:
        return np.concatenate([live, shadow])[order]

    def repeated(values: np.ndarray) -> np.ndarray:  # the request's own attributes, shared by its shadow
        return np.concatenate([values, values[copied]])[order]

    has_score = not np.isnan(score).all() if n_live else False
    failed = both(error, s_error) != None  # noqa: E711
    prediction_all = both(prediction, s_prediction)
    prediction_all[failed] = None
    score_all = both(score, s_score)
    score_all[failed] = np.nan
    return Block(
        spec=spec, ts=all_ts[order], version=both(versions, s_versions), entity=repeated(entity),
        features={key: repeated(values) for key, values in columns.items()},
        prediction=prediction_all, score=score_all if has_score else None,
        label=both(label, s_label), latency=both(latency, s_latency), error=both(error, s_error),
        region=repeated(region), client=repeated(client), trace=repeated(trace),
        shadow_of=shadow_of[order],
        first_request=first_request,
    )


def block_rows(block: Block, lo: int, hi: int) -> list[PredictionRow]:
    """Rows ``lo`` to ``hi`` of a block, ready for the store.

    ``fts_text`` holds the text values of features and context (numbers would double the
    full-text index for no search value). A shadow answer's context names the live
    request it copies: ``{"shadow_of": "<request_id>"}``.
    """
    part = slice(lo, hi)
    n = hi - lo
    numbers = np.arange(lo, hi)
    ids = request_ids(block.ts[part], numbers + block.first_request)
    shadow_of = block.shadow_of[part]
    copied = np.flatnonzero(shadow_of >= 0)
    shadow_ctx, shadow_fts = [""] * n, [""] * n
    live = shadow_of[copied]
    for i, rid in zip(copied.tolist(), request_ids(block.ts[live], live + block.first_request)):
        shadow_ctx[i], shadow_fts[i] = f',"shadow_of":"{rid}"', f" {rid}"

    names = list(block.features)
    columns = [block.features[name][part].tolist() for name in names]
    features = [orjson.dumps(dict(zip(names, values))).decode() for values in zip(*columns)]
    texts = [block.features[name][part].tolist() for name in names if block.features[name].dtype == object]
    text = [" ".join(values) for values in zip(*texts)] if texts else [""] * n

    region, client = block.region[part].tolist(), block.client[part].tolist()
    as_json = {value: orjson.dumps(value).decode() for value in set(region) | set(client)}
    traces = [f"{t:016x}" for t in block.trace[part].tolist()]
    context = [f'{{"region":{as_json[r]},"client":{as_json[c]},"trace_id":"{t}"{s}}}'
               for r, c, t, s in zip(region, client, traces, shadow_ctx)]
    fts_text = [f"{x} {r} {c} {t}{s}" for x, r, c, t, s in zip(text, region, client, traces, shadow_fts)]

    error = block.error[part]
    scores = ([None if s != s else s for s in block.score[part].tolist()] if block.score is not None
              else [None] * n)
    return list(map(_as_row, zip(block.ts[part].tolist(), repeat(block.spec.name, n), block.version[part].tolist(),
                                 ids, CUSTOMER_IDS[block.entity[part]].tolist(), block.prediction[part].tolist(),
                                 scores, block.label[part].tolist(), block.latency[part].tolist(),
                                 np.where(error == None, "ok", "error").tolist(), error.tolist(),  # noqa: E711
                                 features, context, fts_text)))


def merged_batches(blocks: list[Block], size: int = 50_000) -> Iterator[list[PredictionRow]]:
    """Every block's rows in timestamp order, a batch at a time (ids follow time, as in a real log)."""
    lengths = [len(block) for block in blocks]
    which = np.repeat(np.arange(len(blocks)), lengths)
    # Stable: each block is already in time order, so its k-th row in the merge is its row k.
    sequence = which[np.argsort(np.concatenate([block.ts for block in blocks]), kind="stable")]
    cursors = [0] * len(blocks)
    for start in range(0, len(sequence), size):
        seq = sequence[start:start + size]
        takers = []
        for b, count in enumerate(np.bincount(seq, minlength=len(blocks)).tolist()):
            takers.append(iter(block_rows(blocks[b], cursors[b], cursors[b] + count)).__next__)
            cursors[b] += count
        yield [takers[b]() for b in seq.tolist()]
