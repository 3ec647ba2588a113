"""One pass of the console's background monitor: new drift windows and alert rules, for every model.

The console runs ``monitor_once`` in a thread worker every ``ui.refresh_s`` seconds, so drift windows
are computed as predictions arrive and alert rules are evaluated with each new window or metric sample,
whichever screen is open. Each pass is bounded (``MAX_WINDOWS_PER_PASS`` per model, newest first): a
store with weeks of uncomputed history catches up over several passes instead of holding a core.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.alerts.rules import Transition
    from app.config.settings import Settings
    from app.store import Store

LOOKBACK_WINDOWS = 48  # the drift screen's series: what the monitor keeps computed
MAX_WINDOWS_PER_PASS = 6


@dataclass
class MonitorPass:
    windows: int = 0
    transitions: list["Transition"] = field(default_factory=list)
    read_only: bool = False  # the store could not be written: nothing was computed


def monitor_once(db_path: Path, settings: "Settings", now: int, *,
                 max_windows: int = MAX_WINDOWS_PER_PASS) -> MonitorPass:
    from app.store import Store

    result = MonitorPass()
    try:
        with Store.open(db_path, create=False) as store:
            _one_pass(store, settings, now, max_windows, result)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc).replace(" ", ""):
            raise
        result.read_only = True  # a store this user may only read: nothing to compute into, not an error
    return result


def _one_pass(store: "Store", settings: "Settings", now: int, max_windows: int, result: MonitorPass) -> None:
    from app.alerts.rules import evaluate_model
    from app.drift.windows import HOUR_MS, thresholds_for, update

    with_baselines = [row[0] for row in store.db.execute("SELECT DISTINCT model FROM baselines").fetchall()]
    for model in with_baselines:
        outcome = update(store, model, window_ms=HOUR_MS, since=now - LOOKBACK_WINDOWS * HOUR_MS,
                         thresholds=thresholds_for(settings, model), now=now, max_windows=max_windows)
        result.windows += outcome.windows
    for model, config in settings.models.items():
        if config.alerts:
            result.transitions += evaluate_model(store, settings, model, now=now)
