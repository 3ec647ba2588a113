"""The fleet says since when a model's worst feature drifts (issue 15), as the drift screen and
`modeldeck drift --summary` do, on a real store."""

from __future__ import annotations

import numpy as np

from app.config.settings import Settings
from app.drift.windows import HOUR_MS, SETTLE_MS, drifting_since, latest_runs, stored_points, update
from app.views.fleet import fleet_rows
from tests.integration.test_drift_windows import DAY0, put_baseline, traffic


def test_the_fleet_row_names_the_first_window_of_the_current_run(store):
    rng = np.random.default_rng(5)
    put_baseline(store, "fraud", "v1", rng)
    # Drifting at 1 (a blip), normal at 2, then drifting from 3 on; hour 5 has too few rows to be judged
    # (neither breaks nor extends the run).
    for hour, shift, n in ((0, 0, 400), (1, 25, 400), (2, 0, 1500), (3, 25, 400), (4, 25, 400), (5, 0, 20),
                           (6, 25, 400)):
        traffic(store, "fraud", "v1", hour, rng, n=n, shift=shift)
    now = DAY0 + 7 * HOUR_MS + SETTLE_MS
    update(store, "fraud", now=now)
    [row] = fleet_rows(store, Settings(), now, names={"fraud"})
    assert row.drift_feature == "amount"
    assert (row.drift_since, row.drift_windows) == (DAY0 + 3 * HOUR_MS, 3)
    run = drifting_since(stored_points(store, "fraud", window_ms=HOUR_MS), 100)["amount"]
    assert (run.since, run.windows) == (row.drift_since, row.drift_windows)  # the drift screen's words
    # `modeldeck drift --summary` reads the same runs from the store, without every stored point.
    everything = drifting_since(stored_points(store, "fraud", window_ms=HOUR_MS), 100)
    assert {f: (r.since, r.windows, r.latest) for f, r in latest_runs(store, "fraud", 100, window_ms=HOUR_MS).items()} \
        == {f: (r.since, r.windows, r.latest) for f, r in everything.items()}
    since_4 = latest_runs(store, "fraud", 100, window_ms=HOUR_MS, since=DAY0 + 4 * HOUR_MS)["amount"]
    assert (since_4.since, since_4.windows) == (DAY0 + 4 * HOUR_MS, 2)  # --since cuts the run as the range does

    traffic(store, "fraud", "v1", 7, rng, n=1500)  # back to normal: no longer drifting, no since
    update(store, "fraud", now=now + HOUR_MS)
    [row] = fleet_rows(store, Settings(), now + HOUR_MS, names={"fraud"})
    assert row.drift_feature is None and row.drift_since is None
