"""Configuration: ``modeldeck.toml`` and ``MODELDECK_*`` environment variables, validated by pydantic.

Precedence, highest first: command-line flags, environment variables, the config file, defaults.
Unknown keys are refused (``extra="forbid"``) so a typo is reported instead of silently ignored.
The environment is read here by hand (``_from_environment``), not by pydantic-settings: that package cost
more to import than everything a no-op ``modeldeck drift`` does (issue 18).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Re-exported: defined without pydantic, because the console's first paint needs it.
from app.config.source import ConfigError  # noqa: F401

APP_NAME = "modeldeck"
CONFIG_FILENAME = "modeldeck.toml"


class _Section(BaseModel):
    # defer_build: a section's own validator is built only if it is validated alone; loading the settings
    # builds Settings' one (holding every section) once, instead of one per class at import (issue 18).
    model_config = ConfigDict(extra="forbid", defer_build=True)


def _defaults(section: type[_Section]) -> Any:
    """A section's default value, as its ``default_factory``: the section with every field at its default,
    made without validating (defaults are valid by construction). ``default_factory=UIConfig`` validated
    the defaults, which built that section's own deferred validator: six of the seven validators a no-op
    ``modeldeck drift`` built (77 ms together, issue 18)."""
    return lambda: section.model_construct()


class EndpointConfig(_Section):
    """A serving endpoint or model registry that modeldeck polls and, unless read-only, acts on."""

    kind: Literal["mlflow", "mlserver", "torchserve", "http"]
    url: str = Field(description="Base URL, e.g. http://127.0.0.1:8080")
    name: str | None = Field(default=None, description="The model's name on that system (default: modeldeck's name)")
    token_env: str | None = Field(default=None, description="Name of the environment variable holding a bearer token")
    timeout_s: float = Field(default=2.0, gt=0, description="Per-request timeout in seconds")
    poll_interval_s: float = Field(default=5.0, gt=0, description="Seconds between polls")
    alias: str = Field(default="champion", description="MLflow: the alias that marks the active version")
    metrics_url: str | None = Field(default=None, description="Prometheus /metrics URL if not on the main port")
    management_url: str | None = Field(default=None, description="TorchServe: the management API (default: port 8081)")
    repository: Path | None = Field(default=None, description="MLServer: its model repository folder on this host "
                                    "(needed to switch versions; modeldeck renames model-settings.json files)")
    max_body_bytes: int = Field(default=1_000_000, gt=0, description="Largest answer read from it; a bigger "
                                "one is refused (health says so) instead of filling the console's memory")
    # Declared serving facts, judged by the readiness Serving area (app/checklist/serving_facts.py).
    replicas_min: int | None = Field(default=None, ge=0, description="Autoscaling: fewest replicas")
    replicas_max: int | None = Field(default=None, ge=1, description="Autoscaling: most replicas")
    image: str | None = Field(default=None, description="The serving image, pinned as name@sha256:DIGEST")
    manifest: Path | None = Field(default=None, description="A KServe InferenceService, Deployment or "
                                  "HorizontalPodAutoscaler manifest (JSON; YAML with PyYAML installed) to read "
                                  "replicas and image from")

    @model_validator(mode="after")
    def _token_is_a_secret(self) -> "EndpointConfig":
        # The token's value is known from here on: redacted from everything shown or stored (app/text.py).
        if self.token_env:
            import os

            from app.text import add_secret

            add_secret(os.environ.get(self.token_env))
        return self


class AlertRule(_Section):
    """One alert rule of a model: what is watched, when it fires, and who answers it (app/alerts/rules.py)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)  # `for` in the file, for_ in Python

    metric: str = Field(pattern=r"^(feature_drift:.+|prediction_drift|error_rate|p95_latency|traffic_drop|no_traffic|accuracy|mae|"
                        r"quarantine_rate|schedule)$",
                        description="feature_drift:NAME | prediction_drift | error_rate | p95_latency | traffic_drop "
                        "| no_traffic | accuracy | mae (over labelled answers) | quarantine_rate (share of the "
                        "model's log lines ingest refused) | schedule (a notice every `every`)")
    source: str | None = Field(default=None, description="quarantine_rate: a glob of log files (absolute paths, "
                               "as `modeldeck quarantine` lists them) whose bad lines count too, even those too "
                               "broken to name a model")
    compare: Literal["previous", "last_week"] = Field(default="previous", description="traffic_drop: against "
                                                      "the window before, or the same window a week earlier")
    min_labels: int = Field(default=50, ge=1, description="accuracy / mae: labels arrive late; a window with "
                            "fewer labelled answers is not judged yet")
    min_requests: int = Field(default=0, ge=0, description="error_rate / p95_latency / quarantine_rate: a window "
                              "with fewer requests (lines) is not judged (the state is left as it is): one error "
                              "in the 12 requests of a quiet night hour is not an 8% error rate")
    every: str | None = Field(default=None, pattern=r"^\d+\s*(ms|s|m|h|d|w)$",
                              description="schedule: how often, e.g. 30d, counted from the last notice (or from "
                              "the champion version's creation)")
    threshold: float | None = Field(default=None, description="Fires at or above it (drift: the method's own "
                                    "direction; unset = the drift verdict); p95_latency in ms, the rest fractions")
    window: str = Field(default="1h", pattern=r"^\d+\s*(ms|s|m|h|d|w)$",
                        description="Look-back for error_rate, p95_latency and traffic_drop, e.g. 15m")
    severity: Literal["info", "warning", "critical"] = "warning"
    owner: str | None = Field(default=None, description="Who answers it (default: the model's owner; the "
                                "readiness checklist flags a rule left with no owner at all)")
    runbook: str | None = Field(default=None, description="Link to what to do when it fires")
    name: str | None = Field(default=None, description="Rule name shown in alerts (default: the metric)")
    notify: str | None = Field(default=None, description="Where it is delivered (an Alertmanager receiver, a chat "
                               "channel, a webhook URL); the readiness checklist wants one on every rule")
    for_: str | None = Field(default=None, alias="for", pattern=r"^\d+\s*(ms|s|m|h|d|w)$",
                             description="Fire only when the condition has held this long, e.g. 30m (like "
                             "Prometheus's `for`)")
    windows: int = Field(default=1, ge=1, description="Drift rules: fire only when this many consecutive "
                         "drift windows (with enough rows) drift, e.g. 3; the threshold is the minimum effect")

    @model_validator(mode="after")
    def _schedule_needs_every(self) -> "AlertRule":
        if (self.metric == "schedule") != (self.every is not None):
            raise ValueError("`every` goes with metric = \"schedule\" (and a schedule needs it)")
        if self.source is not None and self.metric != "quarantine_rate":
            raise ValueError("`source` goes with metric = \"quarantine_rate\"")
        return self


class CompareConfig(_Section):
    """How champion and challenger/shadow answers to one request are paired and compared (app/compare/pairing.py)."""

    join_key: str = Field(default="request_id", pattern=r"^(request_id|context\.[A-Za-z0-9_\-]+)$",
                          description="request_id, or context.KEY: a row's key is context.KEY where present, "
                          "else its request_id (e.g. context.trace_id, or context.shadow_of on shadow rows)")
    score_tolerance: float = Field(default=0.05, ge=0, description="Scores this close count as agreeing")
    window: str = Field(default="7d", pattern=r"^\d+\s*(ms|s|m|h|d|w)$", description="Default look-back")


class GateConfig(_Section):
    """Promotion gates: every rule set here must hold for a challenger to be promoted (app/compare/gates.py)."""

    window: str | None = Field(default=None, pattern=r"^\d+\s*(ms|s|m|h|d|w)$",
                               description="Traffic the gates judge (default: compare.window)")
    min_paired: int | None = Field(default=None, ge=0, description="At least this many paired requests")
    min_labels: int | None = Field(default=None, ge=0, description="Labelled paired requests the quality rule "
                                      "needs (without max_quality_drop: a rule of its own)")
    max_quality_drop: float | None = Field(default=None, ge=0, description="Challenger accuracy >= champion's "
                                           "- this (regression: MAE <= champion's + this)")
    min_quality_gain: float | None = Field(default=None, ge=0, description="The challenger must beat the "
                                           "champion by this on the labelled paired requests (accuracy; "
                                           "regression: MAE lower by this), judged on its 95% interval's "
                                           "worse end, so a noisy win does not count; 0: at least as good")
    min_agreement: float | None = Field(default=None, ge=0, le=1, description="Agreement rate (scores: within "
                                        "tolerance) at least this")
    max_p95_latency_ratio: float | None = Field(default=None, gt=0, description="Challenger p95 latency <= "
                                                "champion's x this")
    max_error_rate_increase: float | None = Field(default=None, ge=0, description="Challenger error rate <= "
                                                  "champion's + this (0: no worse)")
    require_readiness: bool = Field(default=False, description="Every readiness area of the candidate version "
                                    "passes or is waived")
    quality_source: Literal["traffic", "heldout"] = Field(
        default="traffic", description="What max_quality_drop and min_quality_gain judge: the labelled paired "
        "traffic, or the held-out evaluations (`modeldeck evaluate`) of both versions on the same file")


class SuccessConfig(_Section):
    """What "this model works" means in production, declared per model and judged by `modeldeck quality`
    (app/quality/success.py): quality from late labels and traffic figures over ``window``."""

    window: str = Field(default="7d", pattern=r"^\d+\s*(ms|s|m|h|d|w)$", description="Production traffic judged")
    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_auc: float | None = Field(default=None, ge=0, le=1)
    max_log_loss: float | None = Field(default=None, ge=0)
    max_mae: float | None = Field(default=None, ge=0)
    max_rmse: float | None = Field(default=None, ge=0)
    max_error_rate: float | None = Field(default=None, ge=0, le=1, description="Share of answers with status error")
    max_p95_latency_ms: float | None = Field(default=None, gt=0)


class ModelConfig(_Section):
    endpoint: EndpointConfig | None = Field(default=None, description="Where the model is served")
    registry: EndpointConfig | None = Field(default=None, description="Where its versions are registered")
    read_only: bool = Field(default=False, description="Refuse every write to this model (rollback, disable, "
                            "promote, sign-off, waive, reopen, alert acknowledgement, baseline)")
    owner: str | None = Field(default=None, description="Who is paged for this model's alerts")
    success: SuccessConfig | None = Field(default=None, description="Declared success criteria, judged on "
                                          "production by `modeldeck quality`")
    feature_max_age_s: float | None = Field(default=None, gt=0, description="Feature freshness budget: p95 of "
                                            "ts - context.feature_ts over recent predictions (Feature pipeline area)")
    feature_max_fetch_ms: float | None = Field(default=None, gt=0, description="Feature fetch latency budget: "
                                               "p95 of context.feature_latency_ms (Feature pipeline area)")
    drift_thresholds: dict[str, float] = Field(default_factory=dict, description="Per-feature drift threshold")
    drift_min_rows: int = Field(default=100, ge=1, description="A drift window with fewer current rows is "
                                "reported as too few rows: not judged, no dataset drift, no alerts")
    alerts: list[AlertRule] = Field(default_factory=list, description="Alert rules, evaluated on new data")
    compare: CompareConfig = Field(default_factory=_defaults(CompareConfig), description="Champion/challenger pairing")
    gates: GateConfig | None = Field(default=None, description="Promotion gates for a challenger")


class GovernanceConfig(_Section):
    """How long readiness decisions hold (app/checklist/evaluate.py), and how often a model is reviewed."""

    signoff_days: int = Field(default=90, ge=1, description="A sign-off or a manual pass expires after this many "
                              "days")
    max_waiver_days: int = Field(default=90, ge=1, description="A waiver's --expires may be at most this long")
    review_every_days: int = Field(default=31, ge=1, description="The fleet marks a model whose last health "
                                   "review (modeldeck review) is older than this")
    rollback_proof_days: int = Field(default=90, ge=1, description="The Rollback area needs a real or drill switch "
                                     "(modeldeck drill), timed under 5 minutes, within this many days")


class RetentionConfig(_Section):
    """How long prediction logs are kept (read by the readiness checklist's Logging area)."""

    keep_days: int | None = Field(default=None, ge=1, description="Predictions older than this may be pruned "
                                  "(unset: no retention policy declared, and the Logging area fails)")
    debug_horizon_days: int = Field(default=180, ge=1, description="How far back a complaint must still be "
                                    "debuggable: keep_days must be at least this")
    prune: bool = Field(default=False, description="`modeldeck watch` prunes predictions older than keep_days "
                        "once a day (into archive_dir when set)")
    archive_dir: Path | None = Field(default=None, description="Where pruned predictions are written first, as "
                                     "daily JSON Lines gzip files that `modeldeck ingest` reads back")


class IngestConfig(_Section):
    """How ``ingest --follow`` and ``modeldeck watch`` read the logs they follow (app/ingest/source.py)."""

    allow_swapped_link: bool = Field(default=False, description="Follow a symlinked log to a new target when "
                                     "the link is repointed (a deployment that flips a `current` link). Off: the "
                                     "link is resolved once at start and a swapped target is refused with a "
                                     "warning, so a key file swapped in is never ingested")


class UIConfig(_Section):
    refresh_s: float = Field(default=5.0, gt=0, description="Seconds between live refreshes of the screens")
    keymap: dict[str, str] = Field(default_factory=dict, description="Binding id -> keys, e.g. {'fleet.open' = 'o'}")


class SearchConfig(_Section):
    indexed_features: list[str] = Field(default_factory=list,
                                        description="features.NAME fields that get a generated column and index")


class WatchConfig(_Section):
    """``modeldeck watch``: what it follows, how often it passes, where it serves /healthz and /metrics."""

    follow: list[str] = Field(default_factory=list, description="Globs of JSON Lines logs to follow (like "
                              "ingest --follow, resumable); new files matching a glob are picked up")
    listen: str = Field(default="127.0.0.1:9464", pattern=r"^[^\s:]*:\d{1,5}$",
                        description="HOST:PORT for /healthz and Prometheus /metrics (port 0: any free port)")
    interval_s: float = Field(default=15.0, gt=0, description="Seconds between passes")
    queue_max: int = Field(default=1000, ge=1, description="Undelivered notifications kept; the oldest beyond "
                           "it are dropped (and recorded as dropped)")


class NotifyConfig(_Section):
    """Where alerts go (app/alerts/notify.py). Routing: a target gets an alert when its severity is in
    ``severities`` and its owner in ``owners`` (each unset: any)."""

    kind: Literal["alertmanager", "webhook", "slack"]
    url: str = Field(description="Alertmanager base URL, the webhook URL, or the Slack incoming-webhook URL")
    name: str | None = Field(default=None, description="Shown in deliveries (default: kind:url host)")
    severities: list[Literal["info", "warning", "critical"]] | None = Field(default=None,
                                                                          description="Only these severities")
    owners: list[str] | None = Field(default=None, description="Only alerts owned by one of these")
    models: list[str] | None = Field(default=None, description="Only these models")
    secret_env: str | None = Field(default=None, description="webhook: environment variable holding the HMAC-"
                                   "SHA256 key; the body's signature goes in X-Modeldeck-Signature")
    token_env: str | None = Field(default=None, description="Environment variable holding a bearer token")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers (no secrets: use "
                                    "token_env)")
    wrap: Literal["none", "airflow", "github_dispatch"] = Field(
        default="none", description="webhook: wrap the body for a pipeline's trigger API: airflow = "
        "{dag_run_id, conf: body} (POST /api/v1/dags/ID/dagRuns; a 409 means that run exists: delivered), "
        "github_dispatch = {event_type: modeldeck-EVENT, client_payload: body} (POST /repos/O/R/dispatches)")
    send_resolved: bool = Field(default=True, description="Also tell the target when an alert resolves")
    timeout_s: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, description="Tries before a delivery is recorded as failed")
    backoff_s: float = Field(default=5.0, gt=0, description="Wait before the 2nd try; doubles each try after")
    repeat_s: float = Field(default=60.0, gt=0, description="alertmanager: re-send a firing alert this often "
                            "(it forgets alerts not re-sent; it notifies once per firing itself)")

    @model_validator(mode="after")
    def _secrets_are_secrets(self) -> "NotifyConfig":
        # The bearer token and the HMAC key are known from here on: redacted from everything shown or
        # stored (app/text.py), like an endpoint's token.
        import os

        from app.text import add_secret

        for name in (self.token_env, self.secret_env):
            if name:
                add_secret(os.environ.get(name))
        return self

    @property
    def label(self) -> str:
        from urllib.parse import urlsplit

        return self.name or f"{self.kind}:{urlsplit(self.url).netloc or self.url}"


class Settings(_Section):
    """Everything modeldeck reads from its config file and environment (``load_settings``)."""

    db: Path | None = Field(default=None, description="The store file (default: modeldeck.db in the data dir)")
    read_only: bool = Field(default=False, description="Refuse every action that changes a model")
    ui: UIConfig = Field(default_factory=_defaults(UIConfig))
    search: SearchConfig = Field(default_factory=_defaults(SearchConfig))
    governance: GovernanceConfig = Field(default_factory=_defaults(GovernanceConfig))
    retention: RetentionConfig = Field(default_factory=_defaults(RetentionConfig))
    ingest: IngestConfig = Field(default_factory=_defaults(IngestConfig), description="Following logs")
    models: dict[str, ModelConfig] = Field(default_factory=dict, description="Per-model endpoints and settings")
    watch: WatchConfig = Field(default_factory=_defaults(WatchConfig), description="modeldeck watch")
    notify: list[NotifyConfig] = Field(default_factory=list, description="Where alerts are delivered")

    # Not settings: where this came from, for messages.
    source: Path | None = Field(default=None, exclude=True)


def user_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def user_config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def default_db_path() -> Path:
    return user_data_dir() / "modeldeck.db"


def default_demo_db_path() -> Path:
    return user_data_dir() / "demo.db"


def locate_config(explicit: Path | None) -> Path | None:
    """``--config``, else MODELDECK_CONFIG, else ./modeldeck.toml, else the user config dir."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found")
        return explicit
    from_env = os.environ.get("MODELDECK_CONFIG")
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found (from MODELDECK_CONFIG)")
        return path
    for candidate in (Path.cwd() / CONFIG_FILENAME, user_config_dir() / CONFIG_FILENAME):
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict:
    import tomllib  # only with a config file: its parser compiles regexes at import (issue 18)

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _describe(error: ValidationError, where: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{where}: {key}: {message}")
    return "\n".join(lines)


ENV_PREFIX = "MODELDECK_"
ENV_NESTING = "__"


def load_settings(config_path: Path | None = None, **overrides: object) -> Settings:
    """Read the config file (located as ``locate_config`` says) and the environment.

    ``overrides`` are command-line values; ``None`` means "not given".
    """
    path = locate_config(config_path)
    values = _read_toml(path) if path else {}
    values = _merged(values, _from_environment(os.environ))
    values = _merged(values, {key: value for key, value in overrides.items() if value is not None})
    if _nothing_to_validate(values):
        # No config file, no MODELDECK_ setting, only the command line's typed --db / --read-only: every
        # other field keeps its default, so Settings' validator (the whole tree of sections, ~40 ms to
        # build) is not built at all. A store-only command (a no-op `modeldeck drift`) runs like this.
        return Settings.model_construct(**values, source=path)
    try:
        return Settings.model_validate({**values, "source": path})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(path) if path else "environment")) from None


def _nothing_to_validate(values: Mapping[str, Any]) -> bool:
    """Whether ``values`` hold only what the command line gives already typed: ``db`` as a Path and
    ``read_only`` as a bool (text from the file or the environment always goes through pydantic)."""
    return (values.keys() <= {"db", "read_only"} and isinstance(values.get("db", Path()), Path)
            and isinstance(values.get("read_only", False), bool))


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings named by ``MODELDECK_KEY`` and ``MODELDECK_KEY__SUBKEY...`` variables (names in any case),
    as nested tables: ``MODELDECK_UI__REFRESH_S=2`` is ``{"ui": {"refresh_s": "2"}}`` (pydantic converts the
    text). A value for a table or a list is JSON (``MODELDECK_SEARCH__INDEXED_FEATURES='["amount"]'``); the
    whole-key form is read first and the nested forms on top of it. Other MODELDECK_ variables (ACTOR,
    STATE_DIR, a token named by token_env) are not settings and are left alone."""
    whole: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        keys = name[len(ENV_PREFIX):].lower().split(ENV_NESTING)
        if keys[0] not in Settings.model_fields or keys[0] == "source" or "" in keys:
            continue
        value: Any = environ[name]
        if _holds_table_or_list(keys):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ConfigError(f"environment: {name}: not valid JSON ({exc})") from None
        target = whole if len(keys) == 1 else nested
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(f"environment: {name}: {keys[0]} is not a table")
        target[keys[-1]] = value
    return _merged(whole, nested)


def _holds_table_or_list(keys: list[str]) -> bool:
    """Whether the setting at ``keys`` (field names, and keys of a dict of tables) is a table or a list."""
    annotation: Any = Settings
    for key in keys:
        model = _model_in(annotation)
        if model is not None:
            field = model.model_fields.get(key)
            if field is None:
                return False  # an unknown key: pydantic names it
            annotation = field.annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return False
    return _model_in(annotation) is not None or get_origin(_optional_inner(annotation)) in (dict, list)


def _optional_inner(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, type(int | None)):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return inner[0] if len(inner) == 1 else annotation
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    inner = _optional_inner(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _merged(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, table by table: the environment changes one key of a table, not the table."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def resolve_db_path(settings: Settings) -> Path:
    """``--db`` / MODELDECK_DB / the config file's ``db`` (all folded into settings), else the data dir."""
    return settings.db if settings.db is not None else default_db_path()
