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


def rules_for(c: Comparison, gates: GateConfig, *, ready: bool | None) -> list[Rule]:
    """Each configured rule measured on comparison ``c`` (``ready``: the readiness checklist verdict)."""
    rules: list[Rule] = []
    a, b = c.champion, c.challenger
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
                          measured="complete" if ready else "incomplete",
                          required="every area passes or is waived"))
    return rules


def evaluate(store: Any, settings: Settings, model: str, candidate: str, *, champion: str | None = None,
             window: str | None = None, now: int | None = None) -> Verdict:
    """Measure every configured gate of ``model`` for ``candidate`` on the logged traffic.

    Raises ConfigError when the model has no gates or no champion to compare with.
    """
    from app.checklist.evaluate import is_ready, stored_items

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
    ready = is_ready(stored_items(store, model)) if gates.require_readiness else None
    rules = rules_for(comparison, gates, ready=ready)
    return Verdict(model=model, champion=champion, candidate=candidate, window=span,
                   passed=bool(rules) and all(rule.passed for rule in rules), rules=rules, comparison=comparison)
