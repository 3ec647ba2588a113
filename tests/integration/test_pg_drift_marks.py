"""Drift's high-water mark on a real PostgreSQL with two ingesters whose transactions commit out of id order
(issue 19 items 1 and 3): the rows of the transaction that commits last are never left out of a window."""

from __future__ import annotations

import numpy as np
import pytest

from app.drift.windows import HOUR_MS, SETTLE_MS, stored_points, update
from app.ingest.run import forget_computed_drift
from app.store import Store
from tests.integration.test_drift_windows import DAY0, put_baseline, traffic
from tests.support.drift_rows import rows_for


@pytest.fixture
def rng(monkeypatch: pytest.MonkeyPatch):
    # A wait on another connection's lock fails the test instead of hanging it (the sessions share one thread).
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=20s")
    return np.random.default_rng(19)


def _hour(store: Store, hour: int) -> list[tuple]:
    """The stored results of one hourly window, as comparable tuples (computed_at left out)."""
    return sorted((p.feature, p.version, p.n_current, p.value, p.drifted)
                  for p in stored_points(store, "fraud", window_ms=HOUR_MS, since=DAY0 + hour * HOUR_MS,
                                         until=DAY0 + hour * HOUR_MS + 1))


def _fresh(store: Store, hour: int, now: int) -> list[tuple]:
    """The window computed again from scratch: every stored window and mark forgotten first."""
    store.drift.invalidate("fraud", 0, 2**62)
    update(store, "fraud", now=now)
    return _hour(store, hour)


def _rows(rng, hour: int, n: int, tag: str) -> list:
    return rows_for("fraud", "v1", DAY0 + hour * HOUR_MS + 7, rng.normal(110, 10, n),
                    rng.choice(["red", "green"], n).tolist(), f"v1-{hour}{tag}", spacing=HOUR_MS // (n + 1))


def test_rows_committed_after_a_pass_planned_past_their_ids_land_in_a_never_computed_window(pg_url, rng):
    """Ingester A takes the lower ids for hour 1 and commits last; ingester B's higher ids (another service's
    model) commit first; a pass in between sees hour 1 empty. The next pass must compute hour 1 whole."""
    now = DAY0 + 3 * HOUR_MS + SETTLE_MS
    with Store.open(pg_url) as console, Store.open(pg_url) as a, Store.open(pg_url) as b:
        put_baseline(console, "fraud", "v1", rng)
        traffic(console, "fraud", "v1", 0, rng, n=400)
        assert update(console, "fraud", now=DAY0 + HOUR_MS + SETTLE_MS).windows == 1  # hour 0; a mark is kept
        late = _rows(rng, 1, 300, "a")
        b.predictions.ensure_partitions([DAY0])  # B's first batch of the day would wait for A's partition check
        with a.write():  # ingester A, as `modeldeck ingest` writes a batch
            a.predictions.append(late)
            forget_computed_drift(a, late)
            a_top = a.predictions.latest_id()  # A's own newest id (A sees its rows)
            # Ingester B: another model's batch, ids above A's, committed while A's is still in flight.
            b.predictions.append(rows_for("churn", "v9", DAY0 + 2 * HOUR_MS, [1.0] * 50, ["red"] * 50, "c"))
            assert b.predictions.latest_id() > a_top
            newest, settled = console.windows.newest_and_settled_ids()
            assert newest == b.predictions.latest_id() and settled <= a_top - len(late)  # below all of A's batch
            update(console, "fraud", now=now)  # hour 1 has no visible rows yet: nothing to compute there
            assert _hour(console, 1) == []
        update(console, "fraud", now=now)  # A has committed
        computed = _hour(console, 1)
        assert computed and {n for _, _, n, _, _ in computed} == {300}
        assert computed == _fresh(console, 1, now)


def test_rows_committed_after_a_pass_computed_their_window_are_not_left_out(pg_url, rng):
    """A batch lands in a window whose drift a pass computes while the batch is in flight: ingest's
    invalidation ran before the pass stored the window, so it found nothing to forget. The next pass
    must compute that window again with the batch's rows."""
    now = DAY0 + 3 * HOUR_MS + SETTLE_MS
    with Store.open(pg_url) as console, Store.open(pg_url) as a:
        put_baseline(console, "fraud", "v1", rng)
        traffic(console, "fraud", "v1", 0, rng, n=400)
        assert update(console, "fraud", now=DAY0 + HOUR_MS + SETTLE_MS).windows == 1
        traffic(console, "fraud", "v1", 1, rng, n=200)
        late = _rows(rng, 1, 300, "late")
        with a.write():
            a.predictions.append(late)
            forget_computed_drift(a, late)  # hour 1 not computed yet: nothing to forget
            update(console, "fraud", now=now)  # computes hour 1 from the 200 committed rows
            assert {n for _, _, n, _, _ in _hour(console, 1)} == {200}
        update(console, "fraud", now=now)
        computed = _hour(console, 1)
        assert {n for _, _, n, _, _ in computed} == {500}
        assert computed == _fresh(console, 1, now)
