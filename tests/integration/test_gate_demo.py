"""The demo store's shadow traffic under the demo's gates: one challenger passes, one fails, and why."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.config.settings import ModelConfig, Settings
from app.demo.build import build_demo_store
from app.demo.gates import DEMO_GATES_FILE, with_demo_gates
from app.compare.gates import evaluate
from app.store import Store

NOW_MS = 1_796_000_000_000


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-gates") / "demo.db"
    build_demo_store(path, rows=250_000, now_ms=NOW_MS, baseline_rows=500)
    return path


def _settings() -> Settings:
    names = ("fraud-scorer", "churn-predictor", "credit-limit", "ticket-router")
    return Settings(models={name: with_demo_gates(name, ModelConfig()) for name in names})


def test_the_demo_file_is_valid_config_for_every_demo_model():
    with DEMO_GATES_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    parsed = Settings.model_validate(raw)
    assert parsed.models == _settings().models


def test_fraud_challenger_passes_and_churn_shadow_fails_on_latency(demo_db: Path):
    settings = _settings()
    with Store.open(demo_db) as store:
        fraud = evaluate(store, settings, "fraud-scorer", "v2.4.0-rc1", now=NOW_MS)
        churn = evaluate(store, settings, "churn-predictor", "v7", now=NOW_MS)
    assert fraud.passed, [r for r in fraud.rules if not r.passed]
    assert fraud.comparison.paired >= 1000 and fraud.comparison.join_key == "context.shadow_of"
    assert not churn.passed
    latency = next(r for r in churn.rules if r.name == "p95 latency")
    assert not latency.passed
    c = churn.comparison
    assert c.challenger.p95_latency_ms > 1.5 * c.champion.p95_latency_ms  # visible in the comparison
