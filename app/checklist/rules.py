"""The automatic readiness checks: one rule per area, each turning store and config facts into a finding.

A rule returns ``pass`` when the facts show the area is ready, ``fail`` when they show it is not
(a hard failure: it overrides a manual pass), and ``pending`` when a fact the rule needs is not
there yet (no health check has run, no predictions logged for the version yet, sign-offs awaited).
Evidence is one short sentence with the measured figures, built from trusted words plus untrusted
names (features, card headings) that are cleaned and shortened first.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import orjson

from app.text import clean_name
from app.models import CheckStatus, Health, HealthState, ModelInfo, Version
from app.checklist.model_card import REQUIRED_SECTIONS, parse_card
from app.timeutil import TimeFormat, age_text, format_ms, ms_to_iso

HOUR_MS = 3_600_000
# Features: compare the newest predictions of the active version with its baseline. The inner
# LIMIT bounds the rows read on the (model, ts) index when the version serves a small share.
FEATURE_SAMPLE = 500
FEATURE_SCAN = 5_000
# Logging: at least this share of last hour's predictions must carry features.
LOGGING_MIN_FEATURE_SHARE = 0.95
# Serving: a health result older than this is not evidence of anything.
HEALTH_MAX_AGE_MS = 10 * 60_000
# Who signs a version off. fairness and retention are reviews rather than departments: the bias/fairness
# review and the data-retention compliance review, each signed by the person who made it.
SIGNOFF_ROLES = ("engineering", "product", "data", "legal", "fairness", "retention")
ROLE_TITLES = {"fairness": "bias/fairness review", "retention": "data-retention review"}
PREDICTION_BASELINE = "__prediction__"



@dataclass(frozen=True)
class Finding:
    status: CheckStatus
    evidence: str


def passed(evidence: str) -> Finding:
    return Finding(CheckStatus.passed, evidence)


def failed(evidence: str) -> Finding:
    return Finding(CheckStatus.failed, evidence)


def pending(evidence: str) -> Finding:
    return Finding(CheckStatus.pending, evidence)


def name_list(names: list[str], limit: int = 5) -> str:
    shown = [clean_name(n) for n in names[:limit]]
    more = len(names) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def display_url(url: str) -> str:
    """An endpoint URL as evidence may show it: without any user:password@ part, cleaned."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{parts.port}" if parts.port else host
        url = urlunsplit(parts._replace(netloc=netloc))
    return clean_name(url, 80)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _figure(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


@dataclass
class CheckContext:
    """Everything the rules look at, fetched lazily so a rule only pays for the facts it uses."""

    store: Any  # app.store.Store
    info: ModelInfo
    version: Version | None  # the active version
    versions: list[Version]
    settings: Any = None  # app.config.settings.Settings | None
    now: int = 0
    health: Health | None = None
    # True when no champion is named and ``version`` is the one the prediction log saw last.
    version_from_logs: bool = False

    @property
    def model(self) -> str:
        return self.info.name

    @property
    def model_config(self) -> Any:  # app.config.settings.ModelConfig | None
        models = getattr(self.settings, "models", None) or {}
        return models.get(self.model)

    @property
    def owner(self) -> str | None:
        config_owner = getattr(self.model_config, "owner", None)
        return self.info.owner or config_owner

    @cached_property
    def baselines(self) -> list[str]:
        """Features (and ``__prediction__``) with a stored baseline for the active version."""
        if self.version is None:
            return []
        rows = self.store.baselines.for_version(self.model, self.version.version, with_sample=False)
        return [b.feature for b in rows]

    @cached_property
    def categories(self) -> dict[str, set[str]]:
        """Categorical baseline features of the active version -> the categories seen in training."""
        if self.version is None:
            return {}
        rows = self.store.baselines.for_version(self.model, self.version.version, with_sample=False)
        return {b.feature: set(b.categories or {}) for b in rows if b.kind == "categorical"}

    @property
    def baseline_features(self) -> list[str]:
        return [f for f in self.baselines if f != PREDICTION_BASELINE]

    @property
    def has_baseline(self) -> bool:
        return bool(self.baselines)


def _need_version(ctx: CheckContext) -> Finding | None:
    if ctx.version is None:
        return failed(f"{clean_name(ctx.model)} has no active (champion) version")
    return None


def check_model_card(ctx: CheckContext) -> Finding:
    if (missing := _need_version(ctx)) is not None:
        return missing
    v = clean_name(ctx.version.version)
    if not ctx.version.card:
        return failed(f"{v} has no model card")
    card = parse_card(ctx.version.card)
    total = len(REQUIRED_SECTIONS)
    if card.complete:
        return passed(f"{v}'s card has all {total} required sections")
    titles = [REQUIRED_SECTIONS[sid].lower() for sid in card.missing]
    empty = [REQUIRED_SECTIONS[sid].lower() for sid in card.empty]
    text = f"{v}'s card is missing {', '.join(titles)} ({len(card.present)} of {total} present"
    if empty:
        text += f"; empty: {', '.join(empty)}"
    return failed(text + ")")


def _flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _metric_words(key: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]


QUALITY_WORDS = {"accuracy", "acc", "auc", "auroc", "roc", "f1", "mae", "rmse"}
THROUGHPUT_WORDS = {"throughput", "rps", "qps", "tps"}


def benchmark_kind(key: str) -> str | None:
    """Which required benchmark a metric key records: quality, p95 latency or throughput."""
    words = _metric_words(key)
    if any(w in THROUGHPUT_WORDS or w.startswith("throughput") for w in words):
        return "throughput"
    if any(w == "p95" or w.startswith("p95") for w in words) or ("latency" in words and "95" in words):
        return "p95 latency"
    if any(w in QUALITY_WORDS or w.startswith("f1") for w in words):
        return "quality"
    return None


PEAK_WINDOW_MS = 7 * 24 * HOUR_MS


def check_benchmarks(ctx: CheckContext) -> Finding:
    """The benchmarks (below), then the model's declared success criteria ([models.NAME.success]) judged on
    production over their window: a criterion missed fails the area (production is not what "works" was
    declared to mean); one not measured yet (no labels) is shown and decides nothing."""
    found = _check_benchmarks(ctx)
    success = getattr(ctx.model_config, "success", None)
    if success is None or ctx.version is None:
        return found
    from app.quality.success import judge_window, verdict

    # Point values (no bootstrap): the fleet evaluates every model's checklist on each refresh.
    criteria = judge_window(ctx.store, success, ctx.model, ctx.now, version=ctx.version.version, intervals=False)
    if not criteria:
        return found
    line = f"success criteria ({clean_name(success.window)}): {clean_name(verdict(criteria), 300)}"
    if any(c.met is False for c in criteria):
        return failed(f"{found.evidence}; {line}")
    return Finding(found.status, f"{found.evidence}; {line}")


def _check_benchmarks(ctx: CheckContext) -> Finding:
    """Offline quality, p95 latency and throughput recorded for the version, and production within them:
    the busiest hour of the last 7 days (as logged) under the benchmarked throughput, and the p95
    latency in that hour under the benchmarked p95."""
    if (missing := _need_version(ctx)) is not None:
        return missing
    v = clean_name(ctx.version.version)
    found: dict[str, str] = {}
    values: dict[str, float] = {}
    metrics = dict(ctx.version.metrics or {})
    heldout = metrics.get("heldout") if isinstance(metrics.get("heldout"), dict) else None
    # A held-out evaluation (modeldeck evaluate) is the quality figure to cite first: it names its data.
    ordered = {**({"heldout": heldout} if heldout else {}), **metrics}
    for key, value in _flatten(ordered).items():
        number = _number(value)
        kind = benchmark_kind(key)
        if number is not None and kind is not None and kind not in found:
            found[kind] = f"{clean_name(key)} {_figure(number)}"
            values[kind] = number
    wanted = ("quality", "p95 latency", "throughput")
    absent = [k for k in wanted if k not in found]
    recorded = ", ".join(found[k] for k in wanted if k in found)
    if heldout and str(found.get("quality", "")).startswith("heldout."):
        by = clean_name(heldout.get("run_by") or "?")
        at = heldout.get("run_at")
        age = f", {age_text(max(0, ctx.now - at))} ago" if isinstance(at, int) else ""
        found["quality"] += (f" (held-out, {heldout.get('n', '?')} rows, sha256 "
                             f"{clean_name(str(heldout.get('sha256', ''))[:12])}, by {by}{age})")
        recorded = ", ".join(found[k] for k in wanted if k in found)
    if absent:
        label = {"quality": "quality metric (accuracy/auc/f1 or mae/rmse)"}
        text = f"{v} has no {', no '.join(label.get(k, k) for k in absent)} recorded"
        return failed(text + (f" (has {recorded})" if recorded else ""))
    peak = ctx.store.serving.peak_hour(ctx.model, ctx.version.version, ctx.now - PEAK_WINDOW_MS, ctx.now)
    if peak is None:
        return pending(f"{v}: {recorded}; no production traffic of {v} logged in the last 7d to hold them to")
    start, requests, p95 = peak
    rate = requests / 3600
    when = f"{format_ms(start, TimeFormat.MINUTE)} UTC, {age_text(max(0, ctx.now - start))} ago"
    production = f"peak hour {when}: {_figure(rate)} req/s, p95 {_figure(p95) if p95 is not None else '-'} ms"
    problems = []
    if rate > values["throughput"]:
        problems.append(f"peak {_figure(rate)} req/s is over the benchmarked {_figure(values['throughput'])}")
    if p95 is not None and p95 > values["p95 latency"]:
        problems.append(f"p95 {_figure(p95)} ms at the peak is over the benchmarked {_figure(values['p95 latency'])}")
    if problems:
        return failed(f"{v}: {'; '.join(problems)} ({production}; benchmarked {recorded})")
    return passed(f"{v}: {recorded}; {production}, within both")


def check_serving(ctx: CheckContext) -> Finding:
    endpoint = getattr(ctx.model_config, "endpoint", None)
    if endpoint is None:
        # Unknown, not a failure (issue 13): `check` stores what the console shows, and nothing was judged. It
        # stays pending, so the model is not ready until an endpoint is configured or the area is waived.
        return pending(f"not configured: no endpoint configured (models.{clean_name(ctx.model)}.endpoint); "
                       "waive the area for a batch-only model")
    where = f"{endpoint.kind} endpoint {display_url(endpoint.url)}"
    health = ctx.health
    if health is None or health.checked_at is None:
        return pending(f"{where} configured, health not checked yet")
    age = ctx.now - health.checked_at
    if age > HEALTH_MAX_AGE_MS:
        return pending(f"{where}: last health check {age_text(age)} ago is too old to count")
    reason = f" ({clean_name(health.reason, 80)})" if health.reason else ""
    checked = f"checked {age_text(age)} ago"
    if health.state is HealthState.up:
        from app.checklist.serving_facts import ManifestError, declared, judge, seen

        try:
            facts = declared(endpoint)
        except ManifestError as exc:
            return failed(f"{where} answers its health check: up, {checked}; {clean_name(str(exc), 200)}")
        if facts is None:
            return passed(f"{where} answers its health check: up, {checked}; {seen(endpoint.kind, health.workers)}")
        shown, problems = judge(facts, kind=endpoint.kind, workers=health.workers)
        if problems:
            return failed(f"{where} up, {checked}; {clean_name('; '.join(problems), 300)}")
        return passed(f"{where} answers its health check: up, {checked}; {clean_name(shown, 300)}")
    if health.state is HealthState.unknown:
        return pending(f"{where}: health unknown{reason}, {checked}")
    return failed(f"{where} health check: {health.state.value}{reason}, {checked}")


def _recent_feature_rows(ctx: CheckContext) -> list[str | None]:
    return ctx.store.serving.recent_features(ctx.model, ctx.version.version, scan=FEATURE_SCAN,
                                             sample=FEATURE_SAMPLE)


# Feature pipeline: a feature missing (absent or null) from more than this share of the recent
# predictions fails the area, and so does a categorical feature whose values are outside its baseline's
# categories on more than this share.
FEATURE_MAX_MISSING = 0.05
FEATURE_MAX_UNSEEN = 0.05


def _feature_values(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and value else None


def _category(value: Any) -> str | None:
    """A logged value as the baseline counts categories (None: missing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shares(shares: dict[str, float], limit: int = 4) -> str:
    worst = sorted(shares, key=lambda name: (-shares[name], name))
    return name_list([f"{clean_name(n)} {shares[n]:.0%}" for n in worst], limit)


def check_features(ctx: CheckContext) -> Finding:
    """The newest predictions of the version against its baseline: every baseline feature logged, none
    unexpected, per feature the missing rate (absent or null) and, for categorical features, the share
    of values outside the baseline's categories."""
    if (missing := _need_version(ctx)) is not None:
        return missing
    v = clean_name(ctx.version.version)
    expected = set(ctx.baseline_features)
    if not expected:
        return pending(f"no feature baseline for {v} to compare the logs with")
    rows = _recent_feature_rows(ctx)
    if not rows:
        return pending(f"no recent predictions of {v} logged to compare with its baseline")
    seen: dict[str, int] = {}
    present: dict[str, int] = {name: 0 for name in expected}
    unseen: dict[str, int] = {name: 0 for name in ctx.categories if name in expected}
    unseen_values: dict[str, dict[str, int]] = {name: {} for name in unseen}
    with_features = 0
    for text in rows:
        values = _feature_values(text)
        if values is None:
            continue
        with_features += 1
        for name, value in values.items():
            seen[name] = seen.get(name, 0) + 1
            if name in present and value is not None:
                present[name] += 1
                if name in unseen:
                    category = _category(value)
                    if category not in ctx.categories[name]:
                        unseen[name] += 1
                        unseen_values[name][category] = unseen_values[name].get(category, 0) + 1
    sample = f"last {len(rows)} predictions of {v} vs its baseline of {len(expected)} features"
    if not with_features:
        return failed(f"none of the {sample} carry features")
    absent = sorted(expected - seen.keys())
    unexpected = sorted(seen.keys() - expected)
    missing_rate = {n: (with_features - present[n]) / with_features for n in expected if n in seen}
    unseen_rate = {n: count / present[n] for n, count in unseen.items() if present.get(n)}
    too_missing = {n: r for n, r in missing_rate.items() if r > FEATURE_MAX_MISSING}
    too_unseen = {n: r for n, r in unseen_rate.items() if r > FEATURE_MAX_UNSEEN}
    parts = []
    if absent:
        parts.append(f"missing from logs: {name_list(absent)}")
    if unexpected:
        parts.append(f"not in baseline: {name_list(unexpected)}")
    if too_missing:
        parts.append(f"missing rate over {FEATURE_MAX_MISSING:.0%}: {_shares(too_missing)}")
    if too_unseen:
        examples = {n: sorted(unseen_values[n], key=lambda c: -unseen_values[n][c])[:2] for n in too_unseen}
        parts.append("categories not in the baseline: " + "; ".join(
            f"{clean_name(n)} {too_unseen[n]:.0%} (e.g. {name_list(examples[n], 2)})"
            for n in sorted(too_unseen, key=lambda n: -too_unseen[n])[:3]))
    timing, timing_problems = _feature_timing(ctx)
    parts.extend(timing_problems)
    if parts:
        return failed(f"{'; '.join(parts)} ({sample})")
    worst_missing = max(missing_rate.values(), default=0.0)
    worst_unseen = max(unseen_rate.values(), default=0.0)
    return passed(f"{sample}: all {len(expected)} match; worst missing rate {worst_missing:.0%}"
                  + (f", worst unseen-category share {worst_unseen:.0%}" if unseen_rate else "")
                  + (f"; {timing}" if timing else ""))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _feature_timing(ctx: CheckContext) -> tuple[str, list[str]]:
    """Freshness (ts - context.feature_ts) and fetch latency (context.feature_latency_ms), p95 over the recent
    rows that log them, against the model's declared budgets: (what was measured, what breaks a budget)."""
    from app.store.quality import feature_timing
    from app.timeutil import parse_timestamp

    config = ctx.model_config
    max_age_s = getattr(config, "feature_max_age_s", None)
    max_fetch_ms = getattr(config, "feature_max_fetch_ms", None)
    rows = feature_timing(ctx.store, ctx.model, ctx.version.version, scan=FEATURE_SCAN, sample=FEATURE_SAMPLE)
    ages, fetches = [], []
    for ts, feature_ts, fetch_ms in rows:
        if feature_ts is not None:
            try:
                ages.append((ts - parse_timestamp(feature_ts)) / 1000)
            except (TypeError, ValueError):
                pass
        if isinstance(fetch_ms, (int, float)) and not isinstance(fetch_ms, bool):
            fetches.append(float(fetch_ms))
    measured, problems = [], []
    name = clean_name(ctx.model)
    for label, values, budget, unit, key, field in (
            ("freshness", ages, max_age_s, "s", "feature_ts", "feature_max_age_s"),
            ("fetch latency", fetches, max_fetch_ms, " ms", "feature_latency_ms", "feature_max_fetch_ms")):
        if values:
            p95 = _p95(values)
            text = f"{label} p95 {p95:.1f}{unit} over {len(values)} rows"
            if budget is not None and p95 > budget:
                problems.append(f"{text}, over the {budget:g}{unit} budget (models.{name}.{field})")
            else:
                measured.append(text + (f" (budget {budget:g}{unit})" if budget is not None else " (no budget declared)"))
        elif budget is not None:
            problems.append(f"a {label} budget is declared (models.{name}.{field}) but no recent row logs "
                            f"context.{key}")
    return "; ".join(measured), problems


def alert_rules(ctx: CheckContext) -> list[Any]:
    """Alert rules for this model from config, wherever they live once the alerts issue lands:
    ``models.<m>.alerts`` or a top-level ``alerts`` list whose rules name a model."""
    rules = list(getattr(ctx.model_config, "alerts", None) or [])
    for rule in getattr(ctx.settings, "alerts", None) or []:
        if _rule_field(rule, "model") in (ctx.model, None, "*"):
            rules.append(rule)
    return rules


def _rule_field(rule: Any, name: str) -> Any:
    return rule.get(name) if isinstance(rule, dict) else getattr(rule, name, None)


def _rule_name(rule: Any, index: int) -> str:
    for key in ("name", "rule", "id", "metric"):
        value = _rule_field(rule, key)
        if value:
            return clean_name(value)
    return f"rule #{index + 1}"


# The three levels a model is monitored at (the seed's checklist), by the alert rule's metric.
MONITORING_LEVELS = ("infrastructure", "data", "model")
# Names a delivery target may go by on a rule (``notify`` in app/config/settings.AlertRule; the others
# are read too, so a rule written for the alert-delivery work counts as well).
DELIVERY_FIELDS = ("notify", "deliver_to", "receiver", "channel", "webhook")


def monitoring_level(metric: str) -> str | None:
    """infrastructure (error rate, latency, traffic), data (feature drift) or model (prediction drift,
    quality)."""
    if metric in ("error_rate", "p95_latency", "traffic_drop", "no_traffic"):
        return "infrastructure"
    if metric.startswith("feature_drift"):
        return "data"
    if metric in ("prediction_drift", "accuracy", "auc", "log_loss", "mae", "rmse", "calibration"):
        return "model"
    return None


def _delivery(rule: Any) -> str:
    for name in DELIVERY_FIELDS:
        value = str(_rule_field(rule, name) or "").strip()
        if value:
            return value
    return ""


def check_monitoring(ctx: CheckContext) -> Finding:
    """Alert rules at each of the three levels, each rule with an owner (its own or the model's) and a
    delivery target; data-level rules need the version's drift baseline to have anything to compare."""
    if (missing := _need_version(ctx)) is not None:
        return missing
    v = clean_name(ctx.version.version)
    rules = alert_rules(ctx)
    inherit = str(ctx.owner or "").strip()
    by_level: dict[str, list[str]] = {level: [] for level in MONITORING_LEVELS}
    ownerless, undelivered = [], []
    for index, rule in enumerate(rules):
        name = _rule_name(rule, index)
        level = monitoring_level(str(_rule_field(rule, "metric") or ""))
        if level is not None:
            by_level[level].append(name)
        # A rule without an owner of its own pages the model's owner (app/alerts/rules.py, rule_owner).
        if not (str(_rule_field(rule, "owner") or "").strip() or inherit):
            ownerless.append(name)
        if not (_delivery(rule) or _routed(ctx, rule)):  # a rule's notify, or a [[notify]] target routing it
            undelivered.append(name)
    problems = []
    absent = [level for level in MONITORING_LEVELS if not by_level[level]]
    if absent:
        problems.append(f"no alert rule at the {', '.join(absent)} level{'s' if len(absent) > 1 else ''}")
    if ownerless:
        problems.append(f"alert rules without an owner (none on the rule or the model): {name_list(ownerless)}")
    if undelivered:
        problems.append(f"alert rules without a delivery target (notify): {name_list(undelivered)}")
    if by_level["data"] and not ctx.has_baseline:
        problems.append(f"data-level rules but no drift baseline for {v}")
    levels = "; ".join(f"{level}: {name_list(names, 3)}" for level, names in by_level.items() if names)
    if problems:
        return failed("; ".join(problems) + (f" (have {levels})" if levels else " (no alert rules configured)")
                      + _retraining(ctx))
    return passed(f"{len(rules)} alert rules with owners and delivery targets: {levels}{_retraining(ctx)}")


def _routed(ctx: CheckContext, rule: Any) -> bool:
    """Whether a ``[[notify]]`` target of ``modeldeck watch`` takes this rule's alerts (issue 15)."""
    from app.alerts.notify import routes
    from app.alerts.rules import rule_key, rule_owner
    from app.config.settings import AlertRule, Settings
    from app.models import Alert

    if not isinstance(ctx.settings, Settings) or not isinstance(rule, AlertRule) or not ctx.settings.notify:
        return False
    probe = Alert(rule=rule_key(rule), model=ctx.model, severity=rule.severity,
                  owner=rule_owner(rule, ctx.owner), fired_at=0)
    return any(routes(target, probe) for target in ctx.settings.notify)


def _retraining(ctx: CheckContext) -> str:
    """"; retraining trigger: RULE -> TARGET" when a schedule or drift rule posts to a pipeline's webhook
    (issue 15), else nothing: told, not required."""
    from app.alerts.notify import retraining_triggers
    from app.config.settings import Settings

    if not isinstance(ctx.settings, Settings):
        return ""
    triggers = retraining_triggers(ctx.settings, ctx.model, ctx.owner)
    return f"; retraining trigger: {name_list(triggers, 2)}" if triggers else ""


def check_rollback(ctx: CheckContext) -> Finding:
    from app.rollback.history import way_back

    if (missing := _need_version(ctx)) is not None:
        return missing
    # A way back is a previous champion (archived, or seen serving as the active version): a
    # challenger that never took the traffic is not one (app/rollback/history.py decides).
    back = way_back(ctx.store, ctx.model, [(x.version, x.stage.value, x.created_at) for x in ctx.versions],
                    ctx.version.version)
    config = ctx.model_config
    # The endpoint first, then the registry: the order app/rollback/actions.py acts in.
    targets = [(label, target) for label, target in (("endpoint", getattr(config, "endpoint", None)),
                                                     ("registry", getattr(config, "registry", None)))
               if target is not None]
    problems = []
    if back is None:
        problems.append(f"no previous champion to return to (active: {clean_name(ctx.version.version)}; "
                        "a challenger that never served does not count)")
    if not targets:
        problems.append(f"no rollback target: models.{clean_name(ctx.model)} has no endpoint or registry")
    elif getattr(config, "read_only", False):
        problems.append(f"rollback target is read-only (models.{clean_name(ctx.model)}.read_only)")
    else:
        targets = [(label, t) for label, t in targets if not getattr(t, "read_only", False)]
        if not targets:
            problems.append("every configured endpoint and registry is read-only")
    if problems or back is None:
        return failed("; ".join(problems))
    label, target = targets[0]
    why = [back.stage or "unknown stage"]
    if back.last_active_at is not None:
        why.append(f"last served {age_text(max(0, ctx.now - back.last_active_at))} ago")
    if back.rolled_back_from_at is not None:
        why.append(f"rolled back from on {ms_to_iso(back.rolled_back_from_at)[5:10]}")
    way = (f"can return to {clean_name(back.version)} ({', '.join(why)}) through the {target.kind} "
           f"{label} at {display_url(target.url)}")
    # A way back on paper is not a switch that worked: the last real or drill switch, timed from the command
    # to the verified read-back, must be recent and under 5 minutes.
    governance = getattr(ctx.settings, "governance", None)
    proof_days = int(getattr(governance, "rollback_proof_days", 90) or 90)
    switch = ctx.store.audit.last_timed_switch(ctx.model)
    if switch is None or ctx.now - switch.ts > proof_days * DAY_MS:
        seen = "" if switch is None else f" (the last, {age_text(max(0, ctx.now - switch.ts))} ago, is too old)"
        return pending(f"{way}; no switch timed in the last {proof_days}d{seen}: run modeldeck drill "
                       f"{clean_name(ctx.model)}")
    ts, elapsed = switch.ts, switch.elapsed_ms
    timed = (f"last switch ({'drill' if switch.drill else switch.action}) {age_text(max(0, ctx.now - ts))} ago "
             f"took {elapsed / 1000:.1f} s")
    if elapsed > ROLLBACK_MAX_MS:
        return failed(f"{way}; {timed}, over the {ROLLBACK_MAX_MS // 60_000} min a rollback may take")
    return passed(f"{way}; {timed}")


ROLLBACK_MAX_MS = 5 * 60_000


DAY_MS = 86_400_000


def _retention(ctx: CheckContext) -> tuple[int | None, int]:
    retention = getattr(ctx.settings, "retention", None)
    return getattr(retention, "keep_days", None), int(getattr(retention, "debug_horizon_days", 180) or 180)


def check_logging(ctx: CheckContext) -> Finding:
    """Coverage over the last hour (request id, entity id, features), and the retention a complaint
    needs: a declared ``[retention] keep_days`` of at least the debugging horizon (180 days by default),
    proven by the oldest kept record being at least that old."""
    count, with_features, with_entity, with_request = ctx.store.serving.logging_counts(
        ctx.model, ctx.now - HOUR_MS, ctx.now)
    if not count:
        last = ctx.store.serving.newest_ts_until(ctx.model, ctx.now)
        when = f"last one {age_text(ctx.now - last)} ago" if last is not None else "none ever"
        return failed(f"no predictions logged in the last hour ({when})")
    feature_share, entity_share = with_features / count, with_entity / count
    figures = (f"{count:,} predictions in the last hour: {with_request / count:.0%} with request id, "
               f"{feature_share:.0%} with features, {entity_share:.0%} with entity id")
    if with_request < count or min(feature_share, entity_share) < LOGGING_MIN_FEATURE_SHARE:
        return failed(f"{figures} (need request ids and >= {LOGGING_MIN_FEATURE_SHARE:.0%} with features and "
                      "entity ids)")
    keep_days, horizon = _retention(ctx)
    if keep_days is None:
        return failed(f"{figures}; no retention policy declared ([retention] keep_days, at least the "
                      f"{horizon}d debugging horizon)")
    if keep_days < horizon:
        return failed(f"{figures}; retention keep_days {keep_days}d is under the {horizon}d debugging horizon")
    oldest = ctx.store.serving.oldest_ts(ctx.model)
    kept = max(0, ctx.now - oldest) if oldest is not None else 0
    proof = f"retention {keep_days}d; oldest kept record {age_text(kept)} old"
    if kept < horizon * DAY_MS:
        # Young logs cannot prove a horizon yet (a new model, or records pruned too early).
        return pending(f"{figures}; {proof}, short of the {horizon}d horizon it must prove")
    return passed(f"{figures}; {proof} (horizon {horizon}d)")


def required_roles(info: ModelInfo) -> list[str]:
    roles = ["engineering", "product", "data"]
    if info.flags.get("legal_review"):
        roles.append("legal")
    return roles + ["fairness", "retention"]


def check_signoff(ctx: CheckContext) -> Finding:
    """Every required role signed THIS version, by a named identity, and the signature has not expired.
    The evidence names who signed, how long ago, and the soonest expiry."""
    if (missing := _need_version(ctx)) is not None:
        return missing
    v = clean_name(ctx.version.version)
    signed = {s.role: s for s in ctx.store.checklist.signoffs(ctx.model, ctx.version.version)}
    roles = required_roles(ctx.info)
    live = {r: s for r, s in signed.items() if s.live(ctx.now)}
    expired = [r for r in roles if r in signed and r not in live]
    absent = [r for r in roles if r not in signed]
    done = ", ".join(f"{ROLE_TITLES.get(r, r)} ({clean_name(signed[r].signed_by)}, "
                     f"{age_text(max(0, ctx.now - signed[r].signed_at))} ago)" for r in roles if r in live)
    if absent or expired:
        parts = []
        if absent:
            parts.append(f"{v} awaits sign-off from {', '.join(ROLE_TITLES.get(r, r) for r in absent)}")
        if expired:
            parts.append("expired: " + ", ".join(
                f"{ROLE_TITLES.get(r, r)} ({clean_name(signed[r].signed_by)}, "
                f"{age_text(max(0, ctx.now - (signed[r].expires_at or 0)))} ago)" for r in expired))
        return pending("; ".join(parts) + (f"; signed: {done}" if done else ""))
    expiries = [s.expires_at for r, s in live.items() if r in roles and s.expires_at is not None]
    soonest = f"; first expiry in {age_text(min(expiries) - ctx.now)}" if expiries else ""
    return passed(f"{v} signed off by {done}{soonest}")


RULES: dict[str, Callable[[CheckContext], Finding]] = {
    "model_card": check_model_card,
    "benchmarks": check_benchmarks,
    "serving": check_serving,
    "features": check_features,
    "monitoring": check_monitoring,
    "rollback": check_rollback,
    "logging": check_logging,
    "signoff": check_signoff,
}
