"""What the Compare tab shows, read in one blocking call (from a thread worker).

The model screen calls ``compare_view`` in a thread worker and hands the result to its Compare
panel (widgets never open the store themselves). It picks the champion and the current challenger
(else shadow), compares them over the configured window with a timeline for the charts, and
measures the promotion gates when the model has any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.compare.pairing import Comparison, compare, default_pair, disagreement_search
from app.config.settings import CompareConfig, Settings
from app.compare.gates import Verdict
from app.timeutil import now_ms, parse_duration_ms

if TYPE_CHECKING:
    from app.store.location import StoreLocation

TIMELINE_BUCKETS = 24


@dataclass(frozen=True)
class CompareView:
    model: str
    champion: str | None
    challenger: str | None
    window: str
    comparison: Comparison | None = None
    verdict: Verdict | None = None
    problem: str | None = None  # why there is nothing to compare
    gates_problem: str | None = None  # why there is no gate verdict

    @property
    def disagreement_query(self) -> str | None:
        c = self.comparison
        if c is None:
            return None
        return disagreement_search(c.model, c.champion.version, c.challenger.version, c.since, c.until,
                                   join_key=c.join_key)


def compare_view(location: "StoreLocation", settings: Settings, model: str, now: int | None = None, *,
                 challenger: str | None = None) -> CompareView:
    """Champion vs ``challenger`` (None: the store's current challenger, else its shadow version) over the
    configured window, with the gate verdict when the model has gates."""
    from app.compare.gates import gate_inputs, rules_for

    until = now_ms() if now is None else now
    model_config = settings.models.get(model)
    config = model_config.compare if model_config else CompareConfig()
    gates = model_config.gates if model_config else None
    with location.open() as store:
        champion, paired = default_pair(store, model)
        challenger = challenger or paired
        if champion is None or challenger is None:
            missing = "champion" if champion is None else "challenger or shadow version"
            return CompareView(model, champion, challenger, config.window,
                               problem=f"no {missing} in the store to compare")
        info = store.registry.model(model)
        task = info.task if info else "classification"
        since = until - parse_duration_ms(config.window)
        comparison = compare(store, model, champion, challenger, since, until, task=task,
                             config=config, buckets=TIMELINE_BUCKETS)
        verdict, gates_problem = None, None
        if gates is None:
            gates_problem = f"no promotion gates configured (models.{model}.gates)"
        else:
            window = gates.window or config.window
            judged = comparison
            if window != config.window:  # the gates judge their own window
                judged = compare(store, model, champion, challenger,
                                 until - parse_duration_ms(window), until, task=task, config=config)
            inputs = gate_inputs(store, model, champion, challenger, gates)
            rules = rules_for(judged, gates, ready=inputs.ready, inputs=inputs)
            verdict = Verdict(model=model, champion=champion, candidate=challenger, window=window,
                              passed=bool(rules) and all(r.passed for r in rules), rules=rules,
                              comparison=judged)
    return CompareView(model, champion, challenger, config.window, comparison, verdict,
                       gates_problem=gates_problem)
