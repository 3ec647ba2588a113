"""Prediction rows with two features (``amount`` numeric, ``colour`` categorical), for the drift tests."""

from __future__ import annotations

import orjson

from app.store.predictions import PredictionRow


def rows_for(model: str, version: str, start: int, amounts, colours, prefix: str, spacing: int = 1000):
    out = []
    for i, (amount, colour) in enumerate(zip(amounts, colours)):
        features = orjson.dumps({"amount": float(amount), "colour": colour}).decode()
        out.append(PredictionRow(ts=start + i * spacing, model=model, version=version, request_id=f"{prefix}-{i}",
                                 entity_id=None, prediction=None, score=float(amount) / 100, label=None,
                                 latency_ms=5.0, status="ok", error=None, features=features, context=None,
                                 fts_text=colour))
    return out
