"""Pydantic records that cross a boundary: files, the store, endpoints, the screens, JSON output."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.timeutil import parse_timestamp

JsonValue = Any


class _Record(BaseModel):
    # defer_build: a record's validator is built when first used, not at import: a command that reads two of
    # these shapes does not pay for building all of them (issue 18: a no-op `modeldeck drift`).
    model_config = ConfigDict(defer_build=True)


class Stage(StrEnum):
    champion = "champion"
    challenger = "challenger"
    shadow = "shadow"
    candidate = "candidate"
    archived = "archived"


class CheckStatus(StrEnum):
    passed = "pass"
    failed = "fail"
    pending = "pending"
    waived = "waived"


class Outcome(_Record):
    """A business outcome (KPI) record: a line of the same JSON Lines log with ``"kind": "outcome"``, keyed by
    the request it follows (``request_id``) or, when the business only knows the customer, ``entity_id``.
    Stored apart from predictions (app/store/quality.py) and correlated with the score per window."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["outcome"]
    ts: int = Field(description="When the outcome happened (same formats as a prediction's ts)")
    model: str = Field(min_length=1)
    request_id: str | None = Field(default=None, description="The request whose answer led to this outcome")
    entity_id: str | None = Field(default=None, description="Else the entity: paired with its latest answer")
    name: str = Field(min_length=1, description="The KPI, e.g. chargeback_usd, converted")
    value: float = Field(allow_inf_nan=False, description="Its value (a number; 0/1 for yes/no)")

    @field_validator("ts", mode="before")
    @classmethod
    def _parse_ts(cls, value: object) -> int:
        return parse_timestamp(value)

    @field_validator("model", "request_id", "entity_id", mode="before")
    @classmethod
    def _ids_are_text(cls, value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _keyed(self) -> "Outcome":
        if not self.request_id and not self.entity_id:
            raise ValueError("an outcome needs a request_id or an entity_id")
        return self


class Prediction(_Record):
    """One logged prediction: one line of a JSON Lines prediction log.

    Unknown top-level keys are kept under ``context`` so nothing a serving system logs is lost.
    """

    model_config = ConfigDict(extra="allow", frozen=False, str_strip_whitespace=False)

    ts: int = Field(description="ISO-8601 with an offset, or epoch seconds / ms / us / ns (told apart by size), "
                    "1970-2200; stored as UTC epoch ms")
    model: str = Field(min_length=1, description="Model name")
    version: str = Field(min_length=1, description="Model version that answered")
    request_id: str = Field(min_length=1, description="Unique per model and version: re-ingesting the same record adds nothing")
    entity_id: str | None = Field(default=None, description="Customer / account / item the prediction was about")
    features: dict[str, JsonValue] | None = Field(default=None, description="Model inputs")
    prediction: JsonValue = Field(default=None, description="Model output: a number, a label or an object")
    score: float | None = Field(default=None, description="Numeric score or probability, if any")
    label: JsonValue = Field(default=None, description="Ground truth, when known (may arrive later)")
    latency_ms: float | None = Field(default=None, ge=0, description="Serving latency in milliseconds")
    status: str = Field(default="ok", pattern="^(ok|error)$",
                        description="'ok' or 'error'; when absent, 'error' if the record has an error message")
    error: str | None = Field(default=None, description="Error message when status is 'error'")
    context: dict[str, JsonValue] | None = Field(default=None, description="Anything else worth keeping for debugging")

    @field_validator("ts", mode="before")
    @classmethod
    def _parse_ts(cls, value: object) -> int:
        return parse_timestamp(value)

    @field_validator("model", "version", "request_id", "entity_id", mode="before")
    @classmethod
    def _ids_are_text(cls, value: object) -> object:
        # Numeric ids are common in logs; keep them, as text, rather than reject the line.
        if isinstance(value, bool):
            raise ValueError("must be a string, not a boolean")
        if isinstance(value, (int, float)):
            return str(value)
        return value

    @model_validator(mode="after")
    def _an_error_without_status_is_an_error(self) -> "Prediction":
        # Many services log only the error message; counting such a record "ok" would hide a failing model
        # from the error rate. An explicit status always wins.
        if "status" not in self.model_fields_set and self.error not in (None, ""):
            self.status = "error"
        return self

    @model_validator(mode="after")
    def _extras_into_context(self) -> "Prediction":
        extra = self.__pydantic_extra__
        if extra:
            merged = dict(extra)
            if self.context:
                merged.update(self.context)
            self.context = merged
            self.__pydantic_extra__ = {}
        return self

    @classmethod
    def json_schema_for_docs(cls) -> dict[str, Any]:
        schema = cls.model_json_schema(mode="validation")
        schema["properties"]["ts"] = {
            "description": cls.model_fields["ts"].description,
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
        }
        schema["title"] = "modeldeck prediction record"
        schema["additionalProperties"] = True
        return schema


class ModelInfo(_Record):
    name: str
    description: str = ""
    owner: str | None = None
    task: str = Field(default="classification", description="classification | regression")
    flags: dict[str, JsonValue] = Field(default_factory=dict, description="e.g. {'legal_review': true}")
    created_at: int | None = None


class Version(_Record):
    model: str
    version: str
    stage: Stage = Stage.candidate
    created_at: int
    metrics: dict[str, JsonValue] = Field(default_factory=dict, description="Offline metrics and benchmarks")
    card: dict[str, JsonValue] | None = Field(default=None, description="Model card: section name -> Markdown text")
    first_seen: int | None = Field(default=None, description="Oldest prediction of this version in the log (ms)")
    last_seen: int | None = Field(default=None, description="Newest prediction of this version in the log (ms)")
    logged_rows: int = Field(default=0, description="Predictions of this version in the log")


class CheckItem(_Record):
    model: str
    area: str
    # The version the item judges ('' when the model has no version); waivers and manual passes hold
    # for this version only.
    version: str = ""
    status: CheckStatus = CheckStatus.pending
    evidence: str = ""
    auto: bool = False
    owner: str | None = None
    note: str | None = None
    updated_by: str | None = None
    updated_at: int | None = None
    expires_at: int | None = Field(default=None, description="A waiver or manual pass stops holding then")


class SignOff(_Record):
    model: str
    version: str
    role: str = Field(description="engineering | product | data | legal | fairness | retention")
    signed_by: str
    signed_at: int
    note: str | None = None
    expires_at: int | None = Field(default=None, description="The sign-off stops counting then (None: never)")

    def live(self, now: int) -> bool:
        return self.expires_at is None or self.expires_at > now


class Review(_Record):
    """A recorded review of a model: the monthly health review (kind ``health``)."""

    model: str
    kind: str = "health"
    version: str | None = None
    reviewed_by: str
    reviewed_at: int
    note: str = ""


class FeatureBaseline(_Record):
    """Training-time distribution of one feature (or of the prediction, feature ``__prediction__``)."""

    model: str
    version: str
    feature: str
    kind: str = Field(pattern="^(numeric|categorical)$")
    n: int
    mean: float | None = None
    std: float | None = None
    edges: list[float] | None = Field(default=None, description="Bin edges (numeric): reference deciles")
    counts: list[int] | None = Field(default=None, description="Reference counts per bin (numeric)")
    categories: dict[str, int] | None = Field(default=None, description="Reference counts per category")
    sample: list[float] | None = Field(default=None, description="Reference values (numeric), up to 100,000")
    created_at: int | None = None


class DriftPoint(_Record):
    model: str
    version: str | None = None
    feature: str
    window_start: int
    window_end: int
    n_reference: int
    n_current: int
    method: str
    value: float
    threshold: float
    drifted: bool
    psi: float | None = None


class AuditEntry(_Record):
    id: int | None = None
    ts: int
    actor: str
    action: str
    model: str | None = None
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    outcome: str | None = None


@dataclass(slots=True)
class QuarantinedLine:
    """A line that could not be ingested: THE bad-line record, from the parser to the quarantine table.

    The parser knows the line (``line_no``, ``raw``, ``error``); the run fills in ``source`` and
    ``ingested_at`` before storing it; ``id`` is the store's. A slotted dataclass, not a pydantic
    model: parser processes pickle one per bad line.
    """

    line_no: int
    raw: str
    error: str
    source: str = ""
    ingested_at: int = 0
    id: int | None = None
    model: str | None = None  # the model the line was for, when its JSON got far enough to name one


class Alert(_Record):
    id: int | None = None
    rule: str
    model: str
    severity: str = "warning"
    owner: str | None = None
    state: str = Field(default="firing", pattern="^(firing|resolved)$")
    value: float | None = None
    threshold: float | None = None
    fired_at: int
    resolved_at: int | None = None
    acked_by: str | None = None
    acked_at: int | None = None
    runbook: str | None = None


class HealthState(StrEnum):
    up = "up"
    degraded = "degraded"
    down = "down"
    unknown = "unknown"


class Health(_Record):
    state: HealthState = HealthState.unknown
    reason: str = ""
    checked_at: int | None = None
    last_ok_at: int | None = None
    # Workers (replicas) answering for the serving version, where the endpoint reports them (TorchServe's
    # management API does); None when it cannot tell (MLServer, MLflow, the http protocol).
    workers: int | None = None
