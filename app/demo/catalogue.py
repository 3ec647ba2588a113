"""The demo's four models: their features, how the world behaves, how each version answers.

Each model is described as data (features, versions, traffic timeline) plus two small
functions: ``outcome`` (what really happens for a request: the truth the models try to
predict) and ``answer`` (what one version predicts). The traffic generator in
``app.demo.traffic`` drives them, vectorised with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.models import ModelInfo, Stage

Rng = np.random.Generator
Columns = dict[str, np.ndarray]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Numeric:
    name: str
    draw: Callable[[Rng, int], np.ndarray]
    decimals: int = 2  # 0: logged as an integer


@dataclass(frozen=True)
class Categorical:
    name: str
    weights: dict[str, float]

    def draw(self, rng: Rng, n: int, weights: dict[str, float] | None = None) -> np.ndarray:
        weights = weights or self.weights
        values = np.array(list(weights), dtype=object)
        p = np.array(list(weights.values()), dtype=float)
        return values[rng.choice(len(values), size=n, p=p / p.sum())]


@dataclass(frozen=True)
class Derived:
    """A feature that ``outcome`` fills from the truth (e.g. a ticket's subject from its queue)."""

    name: str
    kind: str  # numeric | categorical
    decimals: int = 2


Feature = Numeric | Categorical | Derived


@dataclass(frozen=True)
class VersionSpec:
    version: str
    stage: Stage
    created_days_ago: float
    # How wrong this version is: the spread of its own error on the latent scale (binary,
    # regression) or its share of misrouted tickets (multiclass). Lower is better.
    noise: float
    latency_ms: float  # median serving latency
    latency_sigma: float = 0.35
    error_rate: float = 0.002
    throughput_rps: float = 1000.0
    bias: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class ShadowSpec:
    """A version answering a copy of part of the live traffic (its answers are logged, not served)."""

    version: str
    share: float
    since_days_ago: float


@dataclass(frozen=True)
class Outcome:
    latent: np.ndarray  # what the models approximate: a logit, an expected value, a class index
    truth: np.ndarray  # the realised ground truth, as logged in `label`


@dataclass(frozen=True)
class ModelSpec:
    info: ModelInfo
    traffic_share: float
    features: tuple[Feature, ...]
    versions: tuple[VersionSpec, ...]
    live: tuple[tuple[float, str], ...]  # (days ago, version serving live traffic from then on), oldest first
    shadow: ShadowSpec
    outcome: Callable[[Rng, Columns], Outcome]
    answer: Callable[[Rng, Columns, Outcome, np.ndarray, VersionSpec], tuple[np.ndarray, np.ndarray | None]]
    label_delay_days: float  # mean delay before ground truth arrives
    label_share: float  # share of requests that ever get ground truth
    errors: tuple[str, ...]
    clients: dict[str, float]
    positive: object = None  # binary classifiers: the label value of the class the score is about

    @property
    def name(self) -> str:
        return self.info.name

    def version(self, name: str) -> VersionSpec:
        return next(v for v in self.versions if v.version == name)


@dataclass(frozen=True)
class DriftEpisode:
    model: str
    feature: str
    start_days_ago: float
    end_days_ago: float  # 0: still going on
    description: str
    scale: float | None = None  # numeric: values multiplied by this
    weights: dict[str, float] | None = None  # categorical: the category mix during the episode


@dataclass(frozen=True)
class IncidentSpec:
    model: str
    version: str
    start_days_ago: float
    hours: float
    rollback_to: str
    error_share: float
    latency_factor: float
    errors: tuple[str, ...]
    description: str

    @property
    def end_days_ago(self) -> float:
        return self.start_days_ago - self.hours / 24


REGIONS = {"eu-west-1": 0.55, "us-east-1": 0.3, "ap-southeast-2": 0.15}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _binary_answer(positive: object, negative: object, threshold: float):
    """A scoring classifier: latent logit plus a shared and an own error, thresholded."""

    def answer(rng: Rng, features: Columns, outcome: Outcome, shared: np.ndarray, version: VersionSpec):
        latent = outcome.latent + 0.45 * shared + version.noise * rng.standard_normal(len(shared)) + version.bias
        score = sigmoid(latent)
        prediction = np.where(score >= threshold, positive, negative)
        return prediction, score

    return answer


def _binary_truth(rng: Rng, logit: np.ndarray, positive: object, negative: object) -> Outcome:
    happened = rng.random(len(logit)) < sigmoid(logit)
    return Outcome(latent=logit, truth=np.where(happened, positive, negative))


# --- fraud-scorer: card-payment fraud, a scoring binary classifier -------------------------

def _fraud_outcome(rng: Rng, f: Columns) -> Outcome:
    logit = (-6.0 + 0.8 * np.log(f["amount"] / 42.0)
             + 1.2 * np.isin(f["channel"], ("online", "moto"))
             + 1.0 * np.isin(f["merchant_category"], ("electronics", "digital_goods", "gaming"))
             + 0.35 * np.log1p(f["distance_from_home_km"])
             - 0.0009 * f["account_age_days"]
             + 0.2 * f["txn_count_24h"]
             - 3.0 * (f["device_trust_score"] - 0.75))
    return _binary_truth(rng, logit, 1, 0)


FRAUD = ModelSpec(
    info=ModelInfo(
        name="fraud-scorer", owner="payments-risk", task="classification",
        description="Scores card payments for fraud at authorisation time; 1 = hold for review.",
        flags={"alert_owner": "payments-risk-oncall", "pager": "pagerduty:payments-risk",
               "runbook": "https://runbooks.example.com/ml/fraud-scorer", "legal_review": True, "tier": 1},
    ),
    traffic_share=0.36,
    features=(
        Numeric("amount", lambda rng, n: rng.lognormal(np.log(42.0), 1.05, n), 2),
        Categorical("merchant_category", {"grocery": 0.28, "restaurants": 0.16, "fuel": 0.10, "fashion": 0.12,
                                          "travel": 0.07, "electronics": 0.10, "digital_goods": 0.10,
                                          "gaming": 0.07}),
        Categorical("channel", {"card_present": 0.45, "online": 0.38, "in_app": 0.14, "moto": 0.03}),
        Categorical("country", {"GB": 0.42, "IE": 0.08, "DE": 0.14, "FR": 0.12, "ES": 0.09, "NL": 0.07,
                                "US": 0.08}),
        Numeric("account_age_days", lambda rng, n: rng.gamma(1.6, 520.0, n), 0),
        Numeric("txn_count_24h", lambda rng, n: rng.poisson(2.2, n), 0),
        Numeric("distance_from_home_km", lambda rng, n: rng.lognormal(np.log(6.0), 1.4, n), 1),
        Numeric("device_trust_score", lambda rng, n: rng.beta(6.0, 2.0, n), 3),
    ),
    versions=(
        VersionSpec("v2.1.0", Stage.archived, 132, noise=1.30, latency_ms=16, throughput_rps=1800),
        VersionSpec("v2.2.0", Stage.archived, 81, noise=1.05, latency_ms=14, throughput_rps=2100),
        VersionSpec("v2.3.1", Stage.champion, 44, noise=0.80, latency_ms=11, throughput_rps=2400,
                    error_rate=0.0015),
        VersionSpec("v2.4.0-rc1", Stage.challenger, 9, noise=0.62, latency_ms=10.5, throughput_rps=2600,
                    error_rate=0.0012, note="gradient-boosted trees retrained on 13 months incl. the 3DS2 rollout"),
    ),
    live=((60, "v2.3.1"),),
    shadow=ShadowSpec("v2.4.0-rc1", share=0.25, since_days_ago=8),
    outcome=_fraud_outcome,
    answer=_binary_answer(1, 0, threshold=0.5),
    positive=1,
    label_delay_days=6.0,
    label_share=0.85,
    errors=(
        "feature store timeout: GET /online-features/card after 250 ms",
        "upstream 503 from device-intel service",
        "ValueError: Input contains NaN (feature 'distance_from_home_km')",
        "worker restarted: request dropped after OOM kill",
    ),
    clients={"ios-7.4.1": 0.24, "android-7.4.0": 0.27, "web-2025.11.2": 0.19, "pos-gateway-3.2": 0.30},
)


# --- churn-predictor: will a subscriber leave within 60 days ------------------------------

def _churn_outcome(rng: Rng, f: Columns) -> Outcome:
    logit = (-1.9 - 0.035 * f["tenure_months"] + 0.45 * f["support_tickets_90d"]
             + 0.07 * f["days_since_last_login"] - 0.18 * (f["nps_score"] - 7)
             + 0.5 * (f["plan"] == "basic") - 0.4 * (f["plan"] == "family")
             + 0.6 * (f["payment_method"] == "invoice") - 0.04 * f["discount_pct"]
             + 0.004 * (f["monthly_spend"] - 36))
    return _binary_truth(rng, logit, "churn", "stay")


CHURN = ModelSpec(
    info=ModelInfo(
        name="churn-predictor", owner="growth-data-science", task="classification",
        description="Probability that a subscriber cancels within 60 days; drives retention offers.",
        flags={"alert_owner": "growth-ds-oncall", "pager": "slack:#growth-ml-alerts",
               "runbook": "https://runbooks.example.com/ml/churn-predictor", "tier": 2},
    ),
    traffic_share=0.22,
    features=(
        Numeric("tenure_months", lambda rng, n: 1 + rng.gamma(1.8, 14.0, n), 0),
        Numeric("monthly_spend", lambda rng, n: rng.lognormal(np.log(36.0), 0.55, n), 2),
        Categorical("plan", {"basic": 0.35, "standard": 0.38, "premium": 0.17, "family": 0.10}),
        Numeric("support_tickets_90d", lambda rng, n: rng.poisson(0.7, n), 0),
        Numeric("days_since_last_login", lambda rng, n: rng.exponential(5.0, n), 0),
        Categorical("payment_method", {"card": 0.46, "direct_debit": 0.34, "paypal": 0.14, "invoice": 0.06}),
        Numeric("nps_score", lambda rng, n: np.clip(np.round(rng.normal(7.0, 2.3, n)), 0, 10), 0),
        Numeric("discount_pct", lambda rng, n: rng.choice([0, 0, 0, 5, 10, 15, 20], n), 0),
    ),
    versions=(
        VersionSpec("v4", Stage.archived, 170, noise=1.1, latency_ms=48, throughput_rps=420),
        VersionSpec("v5", Stage.archived, 96, noise=0.9, latency_ms=41, throughput_rps=480),
        VersionSpec("v6", Stage.champion, 37, noise=0.7, latency_ms=34, throughput_rps=520),
        VersionSpec("v7", Stage.shadow, 11, noise=0.95, latency_ms=61, latency_sigma=0.45, error_rate=0.004,
                    throughput_rps=300, note="transformer over event sequences: slower, not yet better"),
    ),
    live=((45, "v6"),),
    shadow=ShadowSpec("v7", share=0.30, since_days_ago=10),
    outcome=_churn_outcome,
    answer=_binary_answer("churn", "stay", threshold=0.5),
    positive="churn",
    label_delay_days=12.0,
    label_share=0.7,
    errors=(
        "TimeoutError: scoring took longer than 500 ms",
        "KeyError: 'plan' missing from subscriber profile",
        "feature store: entity not found",
    ),
    clients={"ios-7.4.1": 0.34, "android-7.4.0": 0.41, "web-2025.11.2": 0.25},
)


# --- credit-limit: a regressor proposing the initial credit limit -------------------------

INCIDENT = IncidentSpec(
    model="credit-limit", version="v3.2.0", start_days_ago=2.8, hours=2.0, rollback_to="v3.1.2",
    error_share=0.35, latency_factor=6.0,
    errors=(
        "ConnectionPoolTimeout: feature-store pool exhausted (16/16 in use) after 800 ms",
        "grpc: DEADLINE_EXCEEDED calling feature-store after 800 ms",
    ),
    description="credit-limit v3.2.0: feature-store connection pool exhausted; errors and latency spike, "
                "rolled back to v3.1.2",
)


_PRODUCT_FACTOR = {"classic": 0.8, "rewards": 1.0, "platinum": 1.6}


def _round_to(values: np.ndarray, step: float) -> np.ndarray:
    return np.round(values / step) * step


def _credit_outcome(rng: Rng, f: Columns) -> Outcome:
    product = np.vectorize(_PRODUCT_FACTOR.get, otypes=[float])(f["product"])
    expected = (0.09 * f["annual_income"] * np.exp(0.006 * (f["credit_score"] - 690))
                * (1.0 - 0.9 * f["debt_to_income"]) * product
                * np.where(f["employment_status"] == "student", 0.4, 1.0))
    expected = np.clip(expected, 250, 30_000)
    realised = np.clip(_round_to(expected * rng.lognormal(0.0, 0.12, len(expected)), 50), 250, 30_000)
    return Outcome(latent=expected, truth=realised.astype(np.int64))


def _credit_answer(rng: Rng, features: Columns, outcome: Outcome, shared: np.ndarray, version: VersionSpec):
    estimate = outcome.latent * np.exp(0.05 * shared + version.noise * rng.standard_normal(len(shared))
                                       + version.bias)
    return np.clip(_round_to(estimate, 50), 250, 30_000).astype(np.int64), None


CREDIT = ModelSpec(
    info=ModelInfo(
        name="credit-limit", owner="credit-decisioning", task="regression",
        description="Proposes the initial credit limit (GBP) for approved card applications.",
        flags={"alert_owner": "credit-decisioning-oncall", "pager": "pagerduty:credit-decisioning",
               "runbook": "https://runbooks.example.com/ml/credit-limit", "legal_review": True, "tier": 1},
    ),
    traffic_share=0.17,
    features=(
        Numeric("annual_income", lambda rng, n: rng.lognormal(np.log(41_000.0), 0.48, n), 0),
        Numeric("credit_score", lambda rng, n: np.clip(rng.normal(688.0, 62.0, n), 300, 850), 0),
        Numeric("debt_to_income", lambda rng, n: rng.beta(2.2, 6.0, n), 3),
        Numeric("existing_limit", lambda rng, n: _round_to(rng.lognormal(np.log(2_800.0), 0.75, n), 50), 0),
        Numeric("months_at_address", lambda rng, n: rng.gamma(1.5, 30.0, n), 0),
        Categorical("employment_status", {"employed": 0.66, "self_employed": 0.12, "contractor": 0.08,
                                          "retired": 0.08, "student": 0.06}),
        Categorical("residential_status", {"mortgage": 0.38, "renting": 0.34, "owner": 0.16,
                                           "with_parents": 0.12}),
        Categorical("product", {"classic": 0.55, "rewards": 0.33, "platinum": 0.12}),
    ),
    versions=(
        VersionSpec("v3.0.0", Stage.archived, 210, noise=0.24, latency_ms=70, throughput_rps=220),
        VersionSpec("v3.1.2", Stage.champion, 63, noise=0.17, latency_ms=58, throughput_rps=260,
                    error_rate=0.003),
        VersionSpec("v3.2.0", Stage.archived, 6, noise=0.15, latency_ms=52, throughput_rps=300, error_rate=0.003,
                    note="rolled back: feature-store connection pool exhausted under load"),
        VersionSpec("v3.2.1", Stage.challenger, 2, noise=0.15, latency_ms=53, throughput_rps=300,
                    error_rate=0.003, note="v3.2.0 with the connection-pool fix"),
    ),
    # v3.2.0 goes live 3.8 days ago; the incident's rollback hands traffic back to v3.1.2.
    live=((90, "v3.1.2"), (3.8, "v3.2.0"), (INCIDENT.end_days_ago, "v3.1.2")),
    shadow=ShadowSpec("v3.2.1", share=0.5, since_days_ago=1.5),
    outcome=_credit_outcome,
    answer=_credit_answer,
    label_delay_days=4.0,
    label_share=0.8,
    errors=(
        "bureau-gateway 504 Gateway Timeout",
        "ValidationError: annual_income must be greater than 0",
        "grpc: DEADLINE_EXCEEDED calling bureau-gateway",
    ),
    clients={"web-2025.11.2": 0.55, "ios-7.4.1": 0.2, "android-7.4.0": 0.2, "broker-api-1.9": 0.05},
)

# --- ticket-router: routes support tickets to a queue from their text ---------------------

QUEUES = ("billing", "technical", "account", "shipping", "refunds", "other")
_QUEUE_WEIGHTS = np.array([0.25, 0.30, 0.15, 0.15, 0.10, 0.05])
_SUBJECTS = {
    "billing": ("Charged twice this month", "Invoice shows wrong VAT", "Why did my bill go up",
                "Direct debit failed", "Need a copy of my invoice", "Payment declined at checkout"),
    "technical": ("App crashes on login", "Cannot upload attachment", "Page keeps loading forever",
                  "Error 500 when saving", "Notifications stopped working", "Sync not working on tablet"),
    "account": ("Cannot reset my password", "Change email address", "Close my account",
                "Two-factor code never arrives", "Account locked after update", "Add a second user"),
    "shipping": ("Parcel stuck in transit", "Wrong delivery address", "Order not delivered",
                 "Tracking number not working", "Courier left parcel outside", "Delivery date changed"),
    "refunds": ("Refund not received", "Return label request", "Refund for damaged item",
                "How long does a refund take", "Partial refund only", "Cancel order and refund"),
    "other": ("Feedback about your service", "Partnership enquiry", "Complaint about agent",
              "Question about privacy policy", "Where is your office", "Press enquiry"),
}
_LANGUAGE_ACCURACY_DROP = {"de": 0.22, "it": 0.10, "fr": 0.06}  # thin in the training data


def _ticket_outcome(rng: Rng, f: Columns) -> Outcome:
    n = len(f["language"])
    queue = rng.choice(len(QUEUES), size=n, p=_QUEUE_WEIGHTS)
    # One ticket in eight reads like another queue's: what makes routing hard.
    worded_as = np.where(rng.random(n) < 0.12, rng.integers(0, len(QUEUES), n), queue)
    subjects = np.empty(n, dtype=object)
    pick = rng.integers(0, 6, n)
    for q, name in enumerate(QUEUES):
        mask = worded_as == q
        subjects[mask] = np.array(_SUBJECTS[name], dtype=object)[pick[mask]]
    f["subject"] = subjects
    technical = queue == QUEUES.index("technical")
    unhappy = np.isin(queue, (QUEUES.index("refunds"), QUEUES.index("billing")))
    f["message_length"] = np.round(rng.lognormal(np.log(260.0), 0.7, n) * np.where(technical, 1.6, 1.0))
    f["attachments"] = rng.poisson(np.where(technical, 0.9, 0.2))
    f["sentiment"] = np.clip(rng.normal(np.where(unhappy, -0.45, -0.1), 0.3), -1, 1)
    return Outcome(latent=queue, truth=np.array(QUEUES, dtype=object)[queue])


def _ticket_answer(rng: Rng, features: Columns, outcome: Outcome, shared: np.ndarray, version: VersionSpec):
    n = len(shared)
    drop = np.zeros(n)
    for language, amount in _LANGUAGE_ACCURACY_DROP.items():
        drop[features["language"] == language] = amount
    # `shared` makes versions stumble on the same hard tickets.
    wrong = sigmoid(2.0 * shared) * 2 * version.noise + drop > rng.random(n)
    guessed = np.where(wrong, (outcome.latent + rng.integers(1, len(QUEUES), n)) % len(QUEUES), outcome.latent)
    score = np.where(wrong, rng.beta(3.0, 3.0, n), rng.beta(9.0, 1.5, n))
    return np.array(QUEUES, dtype=object)[guessed], score


TICKETS = ModelSpec(
    info=ModelInfo(
        name="ticket-router", owner="support-platform", task="classification",
        description="Routes incoming support tickets to a queue from their subject and metadata.",
        flags={"alert_owner": "support-platform-oncall", "pager": "slack:#support-platform",
               "runbook": "https://runbooks.example.com/ml/ticket-router", "tier": 3},
    ),
    traffic_share=0.25,
    features=(
        Derived("subject", "categorical"),
        Categorical("language", {"en": 0.68, "es": 0.13, "de": 0.08, "fr": 0.07, "it": 0.04}),
        Categorical("channel", {"email": 0.44, "chat": 0.31, "web_form": 0.17, "app": 0.08}),
        Categorical("customer_tier", {"free": 0.52, "plus": 0.36, "business": 0.12}),
        Derived("message_length", "numeric", 0),
        Derived("attachments", "numeric", 0),
        Derived("sentiment", "numeric", 2),
        Numeric("previous_tickets_30d", lambda rng, n: rng.poisson(0.6, n), 0),
    ),
    versions=(
        VersionSpec("r17", Stage.archived, 75, noise=0.17, latency_ms=95, throughput_rps=140),
        VersionSpec("r18", Stage.archived, 48, noise=0.14, latency_ms=88, throughput_rps=150),
        VersionSpec("r19", Stage.champion, 22, noise=0.11, latency_ms=84, latency_sigma=0.4,
                    throughput_rps=160),
        VersionSpec("r20", Stage.challenger, 8, noise=0.10, latency_ms=79, latency_sigma=0.4,
                    throughput_rps=175, note="multilingual tokenizer"),
    ),
    live=((48, "r18"), (21, "r19")),
    shadow=ShadowSpec("r20", share=0.15, since_days_ago=7),
    outcome=_ticket_outcome,
    answer=_ticket_answer,
    label_delay_days=0.3,
    label_share=0.6,
    errors=(
        "tokenizer: input exceeds 512 tokens",
        "CUDA error: out of memory (tried to allocate 64.00 MiB)",
        "TimeoutError: inference took longer than 2000 ms",
    ),
    clients={"zendesk-webhook-2.1": 0.62, "chat-widget-5.3": 0.31, "ios-7.4.1": 0.07},
)

MODELS: tuple[ModelSpec, ...] = (FRAUD, CHURN, CREDIT, TICKETS)

DRIFT_EPISODES: tuple[DriftEpisode, ...] = (
    DriftEpisode("fraud-scorer", "amount", start_days_ago=12, end_days_ago=8, scale=2.6,
                 description="fraud-scorer: payment amounts 2.6x higher for four days (a marketplace partner "
                             "started routing high-value electronics orders)"),
    DriftEpisode("ticket-router", "language", start_days_ago=3, end_days_ago=0,
                 weights={"en": 0.35, "es": 0.10, "de": 0.45, "fr": 0.06, "it": 0.04},
                 description="ticket-router: German tickets jump from 8% to 45% of traffic since the "
                             "DACH launch three days ago (still going on)"),
)

# Untrusted text a console must show literally (Rich markup and an ANSI clear-screen).
INJECTED_ERROR = "upstream said: [bold red]x[/] \x1b[2J\x1b[31m502 Bad Gateway\x1b[0m"
INJECTED_CONTEXT = "[bold red]x[/][link=https://evil.example]click me[/link]\x1b[2J\x1b]0;pwned\x07"
