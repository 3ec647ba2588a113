"""The monitor: refresh a model's drift windows, then judge its alert rules; and one pass over every model.

``refresh_model`` is the ONE place that flow lives: the console's background monitor (``monitor_once``),
the drift screen's read and ``modeldeck drift`` all call it, so new windows are computed the same way and
the alert rules always see them at once.

The console runs ``monitor_once`` in a thread worker right after its first paint, then every
``ui.refresh_s`` seconds, so drift windows are computed as predictions arrive and alert rules are evaluated
with each new window or metric sample, whichever screen is open. Each pass is bounded (``MAX_WINDOWS_PER_PASS`` per model, newest first): a
store with weeks of uncomputed history catches up over several passes instead of holding a core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from app.drift.windows import HOUR_MS
from app.store import StoreReadOnly

if TYPE_CHECKING:
    from app.alerts.rules import Transition
    from app.config.settings import Settings
    from app.store import Store

LOOKBACK_WINDOWS = 48  # the drift screen's series: what the monitor keeps computed
MAX_WINDOWS_PER_PASS = 6


@dataclass
class MonitorPass:
    """What one refresh (of a model, or of every model) did."""

    windows: int = 0  # drift windows computed and stored
    transitions: list["Transition"] = field(default_factory=list)  # alerts that started firing or resolved
    read_only: bool = False  # the store could not be written: nothing was computed
    busy_with: str | None = None  # who held a model's drift lock (or a long write): its windows wait

    def add(self, other: "MonitorPass") -> None:
        self.windows += other.windows
        self.transitions += other.transitions
        self.read_only = self.read_only or other.read_only
        self.busy_with = self.busy_with or other.busy_with


def refresh_model(store: "Store", settings: "Settings", model: str, *, now: int, window_ms: int = HOUR_MS,
                  since: int | None = None, until: int | None = None,
                  max_windows: int | None = None, cancelled: "Callable[[], bool] | None" = None) -> MonitorPass:
    """Compute ``model``'s closed drift windows in [since, until) that are not computed yet (the newest
    ``max_windows`` of them when given; thresholds from the config), then evaluate its alert rules, which
    see the new windows at once. A model without a baseline has no windows: only its rules are judged.

    A store this user may only read is not an error: nothing is computed and ``read_only`` says so.
    ``cancelled()`` stops the computing between windows (a screen's worker whose screen is gone).
    """
    from app.alerts.rules import evaluate_model
    from app.drift.windows import thresholds_for, update

    result = MonitorPass()
    try:
        if store.baselines.versions_with_baselines(model):
            outcome = update(store, model, window_ms=window_ms, since=since, until=until,
                             thresholds=thresholds_for(settings, model), now=now, max_windows=max_windows,
                             **({"cancelled": cancelled} if cancelled is not None else {}))
            result.windows, result.busy_with = outcome.windows, outcome.busy_with
        result.transitions = evaluate_model(store, settings, model, now=now)
    except StoreReadOnly:
        result.read_only = True
    return result


def monitor_once(db_path: Path, settings: "Settings", now: int, *,
                 max_windows: int = MAX_WINDOWS_PER_PASS) -> MonitorPass:
    """One pass over every model with a baseline or with alert rules (the last ``LOOKBACK_WINDOWS`` hours)."""
    from app.store import Store

    try:
        with Store.open(db_path, create=False) as store:
            return monitor_store(store, settings, now, max_windows=max_windows)
    except StoreReadOnly:
        return MonitorPass(read_only=True)  # a store this user may only read: nothing to compute into, not an error


def monitor_store(store: "Store", settings: "Settings", now: int, *,
                  max_windows: int = MAX_WINDOWS_PER_PASS) -> MonitorPass:
    """``monitor_once`` on a store already open (``modeldeck watch`` keeps one for its lifetime)."""
    result = MonitorPass()
    try:
        with_rules = [model for model, config in settings.models.items() if config.alerts]
        for model in dict.fromkeys([*store.baselines.models(), *with_rules]):
            result.add(refresh_model(store, settings, model, now=now, window_ms=HOUR_MS,
                                     since=now - LOOKBACK_WINDOWS * HOUR_MS, max_windows=max_windows))
            if result.read_only:
                break  # nothing can be written: the other models would say the same
    except StoreReadOnly:
        result.read_only = True
    return result
