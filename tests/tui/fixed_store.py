"""A small store with fixed timestamps, for Pilot tests and deterministic SVG snapshots."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from app.models import Alert, CheckItem, CheckStatus, DriftPoint, ModelInfo, Review, Stage, Version
from app.store import Store
from app.store.predictions import PredictionRow
from app.timeutil import iso_to_ms

FIXED_NOW = iso_to_ms("2026-11-24T12:00:00Z")
HOUR = 3_600_000
EVIL = "[bold red]boom[/]\x1b[31m\x07"
"""Rich markup, an ANSI escape and a control character: must always show literally."""
EVIL_MODEL = f"evil{EVIL}"

CARD = {
    "details": "Gradient-boosted trees over 42 transaction features.",
    "intended_use": "Score card payments for fraud **before** capture.",
    "factors": "Merchant category, country, amount.",
    "metrics": "AUC 0.94 on the October holdout.",
    "evaluation_data": "October 2026, 1.2M transactions.",
    "training_data": "January to September 2026.",
    "caveats": "Not for ACH transfers.",
}


def _rows(model: str, version: str, count: int, *, error_every: int, latency: float, seed: int,
          text: str = "", now: int = FIXED_NOW) -> list[PredictionRow]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        # Every 10th row lies in the last 15 minutes; the others are spread over the rest of the 24 h
        # (never inside those 15 minutes, so the fleet's window counts exactly count // 10 rows).
        quarter = 15 * 60_000
        ts = now - quarter - (i * 7_919_993) % (24 * HOUR - quarter) if i % 10 else now - (i * 3_011) % quarter
        # The last of every ``error_every`` rows fails (not row 0: that would give every model an error).
        error = i % error_every == error_every - 1
        features = {"amount": round(rng.uniform(1, 900), 2), "country": rng.choice(["DE", "FR", "US"])}
        rows.append(PredictionRow(
            ts=ts - 1, model=model, version=version, request_id=f"{model}-req-{i}", entity_id=f"cust-{i % 50}",
            prediction=round(rng.random(), 3), score=round(rng.random(), 3), label=None,
            latency_ms=round(latency + rng.random() * latency, 1), status="error" if error else "ok",
            error=f"upstream timeout {text}" if error else None, features=orjson.dumps(features).decode(),
            context=None, fts_text=features["country"],
        ))
    return rows


def build_fixed_store(path: Path, now: int = FIXED_NOW) -> Path:
    with Store.open(path) as store:
        reg = store.registry
        reg.upsert_model(ModelInfo(name="fraud-scorer", description="Card fraud score", owner="risk-ml",
                                   created_at=now - 90 * 24 * HOUR))
        for number, stage in ((1, Stage.archived), (2, Stage.archived), (3, Stage.champion)):
            reg.upsert_version(Version(model="fraud-scorer", version=f"v{number}", stage=stage,
                                       created_at=now - (40 - number * 10) * 24 * HOUR,
                                       metrics={"auc": 0.9 + number / 100, "p95_latency_ms": 20 + number,
                                                "throughput_rps": 400},
                                       card=CARD if number == 3 else None))
        reg.upsert_model(ModelInfo(name="churn-predictor", description="Monthly churn", owner="growth",
                                   created_at=now - 30 * 24 * HOUR))
        reg.upsert_version(Version(model="churn-predictor", version="2026.11", stage=Stage.champion,
                                   created_at=now - 10 * 24 * HOUR, metrics={"auc": 0.81}))
        reg.upsert_model(ModelInfo(name=EVIL_MODEL, description=f"desc {EVIL}", owner=f"own{EVIL}",
                                   created_at=now - 5 * 24 * HOUR))
        reg.upsert_version(Version(model=EVIL_MODEL, version=f"v{EVIL}", stage=Stage.champion,
                                   created_at=now - 5 * 24 * HOUR, metrics={"note": EVIL},
                                   card={"details": f"Card text {EVIL} end", "caveats": "[link=http://x]y[/link]"}))

        store.predictions.append(_rows("fraud-scorer", "v3", 400, error_every=9, latency=18.0, seed=1, now=now))
        store.predictions.append(_rows("churn-predictor", "2026.11", 120, error_every=1000, latency=40.0, seed=2, now=now))
        store.predictions.append(_rows(EVIL_MODEL, f"v{EVIL}", 60, error_every=3, latency=5.0, seed=3, text=EVIL, now=now))

        areas = ("model_card", "benchmarks", "serving", "features", "monitoring", "rollback", "logging", "signoff")
        for index, area in enumerate(areas):
            status = CheckStatus.passed if index < 5 else CheckStatus.pending
            store.checklist.put(CheckItem(model="fraud-scorer", version="v3", area=area, status=status,
                                          evidence=f"{area} evidence", auto=index < 4, owner="risk-ml",
                                          updated_by="ana@bastion", updated_at=now - (index + 1) * HOUR))
        store.checklist.put(CheckItem(model="churn-predictor", version="2026.11", area="model_card", status=CheckStatus.failed,
                                      evidence="missing: caveats", updated_by="ci", updated_at=now - HOUR))
        store.checklist.put(CheckItem(model=EVIL_MODEL, version=f"v{EVIL}", area="model_card", status=CheckStatus.failed,
                                      evidence=f"evidence {EVIL}", updated_by=f"by{EVIL}",
                                      updated_at=now - HOUR))

        # Each model had its monthly health review 3 days ago: nothing is overdue on the fixed store.
        for name in ("fraud-scorer", "churn-predictor", EVIL_MODEL):
            store.checklist.add_review(Review(model=name, reviewed_by="ana@bastion", reviewed_at=now - 72 * HOUR,
                                              note="monthly review"))
        store.drift.put_many([
            DriftPoint(model="fraud-scorer", version="v3", feature="amount", window_start=now - 2 * HOUR,
                       window_end=now - HOUR, n_reference=5000, n_current=800, method="wasserstein",
                       value=0.31, threshold=0.1, drifted=True),
            DriftPoint(model="fraud-scorer", version="v3", feature="country", window_start=now - 2 * HOUR,
                       window_end=now - HOUR, n_reference=5000, n_current=800, method="jensenshannon",
                       value=0.02, threshold=0.1, drifted=False),
            DriftPoint(model="churn-predictor", version="2026.11", feature="tenure",
                       window_start=now - 2 * HOUR, window_end=now - HOUR, n_reference=5000,
                       n_current=300, method="wasserstein", value=0.01, threshold=0.1, drifted=False),
        ])
        store.alerts.add(Alert(rule="p95_latency", model="fraud-scorer", severity="critical", owner="risk-ml",
                               value=240.0, threshold=200.0, fired_at=now - 20 * 60_000))

        store.audit.append("checklist.sign_off", "fraud-scorer", detail={"role": "engineering"}, outcome="ok",
                           actor="ana@bastion", ts=now - 3 * HOUR)
        store.audit.append("promote", "fraud-scorer", detail={"from": "v2", "to": "v3"}, outcome="ok",
                           actor="bo@bastion", ts=now - 2 * HOUR)
        store.audit.append("note", EVIL_MODEL, detail={"text": EVIL}, outcome=EVIL, actor=f"mallory{EVIL}",
                           ts=now - HOUR)
    return path
