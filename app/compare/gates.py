"""Promotion gates: the rules a challenger must meet on logged traffic before it may be promoted.

Rules come from ``[models.NAME.gates]`` (app.config.settings.GateConfig); each one that is set is
measured on the comparison of the candidate against the champion over the gate window.
A rule that cannot be measured (no labels yet, no latency logged) does not hold: a gate
passes on evidence, never for want of it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.compare.pairing import Comparison, compare, default_pair
from app.config.settings import ConfigError, GateConfig, Settings
from app.timeutil import now_ms, parse_duration_ms


class Rule(BaseModel):
    name: str
    passed: bool
    measured: str  # what was measured, worded for a person
    required: str  # what the rule asks for


class Verdict(BaseModel):
    model: str
    champion: str
    candidate: str
    window: str
    passed: bool
    rules: list[Rule]
    comparison: Comparison

    def failed(self) -> list[Rule]:
        return [rule for rule in self.rules if not rule.passed]

    def summary(self) -> str:
        held = sum(rule.passed for rule in self.rules)
        word = "PASS" if self.passed else "FAIL"
        return f"{word}: {held}/{len(self.rules)} rules hold"


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def gate_config(settings: Settings, model: str) -> GateConfig:
    config = settings.models.get(model)
    if config is None or config.gates is None:
        where = settings.source or "the config"
        raise ConfigError(f"{where}: models.{model}.gates: no promotion gates configured")
    return config.gates


class Inputs(BaseModel):
    """What the gates read besides the traffic: the candidate's readiness and the held-out evaluations."""

    ready: bool | None = None
    readiness: str = ""  # "v3: 6/8 areas pass or are waived"
    heldout_champion: dict[str, Any] | None = None
    heldout_candidate: dict[str, Any] | None = None


def gate_inputs(store: Any, model: str, champion: str, candidate: str, gates: GateConfig) -> Inputs:
    """The candidate version's stored readiness (not the champion's: the candidate is what gets promoted;
    never evaluated means pending, so not ready) and, with ``quality_source = "heldout"``, both versions'
    held-out records."""
    from app.checklist.evaluate import is_ready, readiness_score, stored_items

    inputs = Inputs()
    if gates.require_readiness:
        items = stored_items(store, model, candidate)
        done, total = readiness_score(items)
        inputs.ready, inputs.readiness = is_ready(items), f"{candidate}: {done}/{total} areas pass or are waived"
    if gates.quality_source == "heldout":
        versions = {v.version: v for v in store.registry.versions(model)}
        for name, key in ((champion, "heldout_champion"), (candidate, "heldout_candidate")):
            found = versions.get(name)
            record = (found.metrics or {}).get("heldout") if found is not None else None
            setattr(inputs, key, record if isinstance(record, dict) else None)
    return inputs


# Which held-out metric decides, and whether higher is better.
_HELDOUT_METRICS = (("auc", True), ("accuracy", True), ("mae", False))


def heldout_rules(gates: GateConfig, champion: dict[str, Any] | None, candidate: dict[str, Any] | None
                  ) -> list[Rule]:
    """max_quality_drop / min_quality_gain on the held-out evaluations of both versions: the same file
    (SHA-256), AUC where both have it (else accuracy; regressors MAE), the candidate's 95% interval's
    worse end deciding a gain (``modeldeck evaluate`` stores the intervals)."""
    rules: list[Rule] = []
    if gates.max_quality_drop is None and gates.min_quality_gain is None:
        return rules
    problem = None
    if champion is None or candidate is None:
        missing = "champion" if champion is None else "candidate"
        problem = f"no held-out evaluation of the {missing} (modeldeck evaluate)"
    elif champion.get("sha256") != candidate.get("sha256"):
        problem = f"held-out files differ ({champion.get('file')} vs {candidate.get('file')}): not comparable"
    metric, higher = next(((m, up) for m, up in _HELDOUT_METRICS
                           if champion and candidate and m in champion and m in candidate), ("accuracy", True))
    if problem is not None:
        for name in (["held-out drop"] if gates.max_quality_drop is not None else []) + \
                    (["held-out gain"] if gates.min_quality_gain is not None else []):
            rules.append(Rule(name=name, passed=False, measured=problem, required="both versions on one file"))
        return rules
    assert champion is not None and candidate is not None
    base, value = float(champion[metric]), float(candidate[metric])
    low, high = (candidate.get("intervals") or {}).get(metric, (None, None))
    interval = f" [{_num(low)}, {_num(high)}]" if low is not None else ""
    measured = f"{metric} {_num(value)}{interval} on {candidate.get('n', '?')} held-out rows"
    if gates.max_quality_drop is not None:
        drop = gates.max_quality_drop
        holds = value >= base - drop - 1e-12 if higher else value <= base + drop + 1e-12
        sign = ">=" if higher else "<="
        rules.append(Rule(name=f"held-out {metric}", passed=holds, measured=measured,
                          required=f"{sign} champion {_num(base)} {'-' if higher else '+'} {drop:g}"))
    if gates.min_quality_gain is not None:
        gain = gates.min_quality_gain
        if higher:
            holds = low is not None and low >= base + gain - 1e-12
            required = f"95% interval low end >= champion {_num(base)} + {gain:g}"
        else:
            holds = high is not None and high <= base - gain + 1e-12
            required = f"95% interval high end <= champion {_num(base)} - {gain:g}"
        rules.append(Rule(name=f"held-out {metric} gain", passed=bool(holds), measured=measured, required=required))
    return rules


def rules_for(c: Comparison, gates: GateConfig, *, ready: bool | None, inputs: Inputs | None = None) -> list[Rule]:
    """Each configured rule measured on comparison ``c`` (``ready``: the candidate's readiness verdict;
    ``inputs``: what ``gate_inputs`` read, for the held-out quality source and the readiness wording)."""
    rules: list[Rule] = []
    a, b = c.champion, c.challenger
    if inputs is not None and gates.quality_source == "heldout":
        rules.extend(heldout_rules(gates, inputs.heldout_champion, inputs.heldout_candidate))
        gates = gates.model_copy(update={"max_quality_drop": None, "min_quality_gain": None})
    if gates.min_paired is not None:
        rules.append(Rule(name="paired requests", passed=c.paired >= gates.min_paired,
                          measured=f"{c.paired:,}", required=f">= {gates.min_paired:,}"))
    if gates.max_quality_drop is None and gates.min_quality_gain is None and gates.min_labels is not None:
        rules.append(Rule(name="labelled requests", passed=c.labels >= gates.min_labels,
                          measured=f"{c.labels:,}", required=f">= {gates.min_labels:,}"))
    if gates.max_quality_drop is not None:
        need = gates.min_labels or 0
        drop = gates.max_quality_drop or 0.0
        qa, qb = a.quality, b.quality
        enough = c.labels >= need and c.labels > 0
        if c.quality_metric == "accuracy":
            holds = enough and qa is not None and qb is not None and qb.value >= qa.value - drop - 1e-12
            required = f">= champion {_num(qa.value if qa else None)} - {drop:g} on >= {need:,} labels"
        else:
            holds = enough and qa is not None and qb is not None and qb.value <= qa.value + drop + 1e-12
            required = f"MAE <= champion {_num(qa.value if qa else None)} + {drop:g} on >= {need:,} labels"
        interval = f" [{_num(qb.low)}, {_num(qb.high)}]" if qb else ""
        rules.append(Rule(name=c.quality_metric, passed=holds,
                          measured=f"{_num(qb.value if qb else None)}{interval} on {c.labels:,} labels",
                          required=required))
    if gates.min_quality_gain is not None:
        # The candidate's interval must clear the champion's figure by the gain: its worse end decides,
        # so a win inside the noise of the labels does not pass.
        need = gates.min_labels or 0
        gain = gates.min_quality_gain
        qa, qb = a.quality, b.quality
        enough = c.labels >= need and c.labels > 0 and qa is not None and qb is not None
        if c.quality_metric == "accuracy":
            holds = enough and qb.low is not None and qb.low >= qa.value + gain - 1e-12
            required = f"95% interval low end >= champion {_num(qa.value if qa else None)} + {gain:g}"
        else:
            holds = enough and qb.high is not None and qb.high <= qa.value - gain + 1e-12
            required = f"95% interval high end <= champion MAE {_num(qa.value if qa else None)} - {gain:g}"
        interval = f" [{_num(qb.low)}, {_num(qb.high)}]" if qb else ""
        rules.append(Rule(name=f"{c.quality_metric} gain", passed=bool(holds),
                          measured=f"{_num(qb.value if qb else None)}{interval} on {c.labels:,} labels",
                          required=required + (f" on >= {need:,} labels" if need else "")))
    if gates.min_agreement is not None:
        what = "agreement" if c.agreement_kind == "label" else f"within ±{c.tolerance:g}"
        rules.append(Rule(name=what, passed=c.agreement is not None and c.agreement >= gates.min_agreement,
                          measured=_pct(c.agreement), required=f">= {_pct(gates.min_agreement)}"))
    if gates.max_p95_latency_ratio is not None:
        pa, pb = a.p95_latency_ms, b.p95_latency_ms
        limit = pa * gates.max_p95_latency_ratio if pa is not None else None
        rules.append(Rule(name="p95 latency", passed=limit is not None and pb is not None and pb <= limit,
                          measured=f"{_num(pb, 1)} ms",
                          required=f"<= champion {_num(pa, 1)} ms x {gates.max_p95_latency_ratio:g}"
                                   f" = {_num(limit, 1)} ms"))
    if gates.max_error_rate_increase is not None:
        ea, eb = a.error_rate, b.error_rate
        holds = ea is not None and eb is not None and eb <= ea + gates.max_error_rate_increase + 1e-12
        extra = f" + {_pct(gates.max_error_rate_increase)}" if gates.max_error_rate_increase else ""
        rules.append(Rule(name="error rate", passed=holds, measured=_pct(eb),
                          required=f"<= champion {_pct(ea)}{extra}"))
    if gates.require_readiness:
        rules.append(Rule(name="readiness", passed=bool(ready),
                          measured=(inputs.readiness if inputs is not None and inputs.readiness else
                                    "complete" if ready else "incomplete"),
                          required="every area of the candidate passes or is waived"))
    return rules


def evaluate(store: Any, settings: Settings, model: str, candidate: str, *, champion: str | None = None,
             window: str | None = None, now: int | None = None) -> Verdict:
    """Measure every configured gate of ``model`` for ``candidate`` on the logged traffic.

    Raises ConfigError when the model has no gates or no champion to compare with.
    """
    gates = gate_config(settings, model)
    model_config = settings.models[model]
    if champion is None:
        champion = default_pair(store, model)[0]
    if champion is None:
        raise ConfigError(f"{model}: no champion version in the store to compare {candidate} with")
    if champion == candidate:
        raise ConfigError(f"{model}: {candidate} is already the champion")
    span = window or gates.window or model_config.compare.window
    until = now_ms() if now is None else now
    since = until - parse_duration_ms(span)
    info = store.registry.model(model)
    task = info.task if info is not None else "classification"
    comparison = compare(store, model, champion, candidate, since, until, task=task,
                         config=model_config.compare)
    inputs = gate_inputs(store, model, champion, candidate, gates)
    rules = rules_for(comparison, gates, ready=inputs.ready, inputs=inputs)
    return Verdict(model=model, champion=champion, candidate=candidate, window=span,
                   passed=bool(rules) and all(rule.passed for rule in rules), rules=rules, comparison=comparison)
