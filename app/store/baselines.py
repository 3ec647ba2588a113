"""Stored training baselines, one row per model version and feature.

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL (the sample a BLOB / bytea)."""

from __future__ import annotations

from array import array

import orjson

from app.models import FeatureBaseline
from app.store.dialect import Db
from app.timeutil import now_ms


def _pack(values: list[float] | None) -> bytes | None:
    if values is None:
        return None
    packed = array("d", values)
    if packed.itemsize != 8:  # pragma: no cover - every platform we run on has 8-byte doubles
        raise RuntimeError("float64 expected")
    return packed.tobytes()


def _unpack(blob: bytes | memoryview | None) -> list[float] | None:
    if blob is None:
        return None
    values = array("d")
    values.frombytes(blob)
    return values.tolist()


class BaselinesTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def put(self, baseline: FeatureBaseline) -> None:
        self._db.execute(
            """INSERT INTO baselines
               (model, version, feature, kind, n, mean, std, edges, counts, categories, sample, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, version, feature) DO UPDATE SET kind = excluded.kind, n = excluded.n,
               mean = excluded.mean, std = excluded.std, edges = excluded.edges, counts = excluded.counts,
               categories = excluded.categories, sample = excluded.sample, created_at = excluded.created_at""",
            (baseline.model, baseline.version, baseline.feature, baseline.kind, baseline.n, baseline.mean,
             baseline.std,
             orjson.dumps(baseline.edges).decode() if baseline.edges is not None else None,
             orjson.dumps(baseline.counts).decode() if baseline.counts is not None else None,
             orjson.dumps(baseline.categories).decode() if baseline.categories is not None else None,
             _pack(baseline.sample), baseline.created_at or now_ms()),
        )

    def for_version(self, model: str, version: str, *, with_sample: bool = True) -> list[FeatureBaseline]:
        sample_column = "sample" if with_sample else "NULL"
        rows = self._db.execute(
            f"SELECT model, version, feature, kind, n, mean, std, edges, counts, categories, {sample_column}, "
            "created_at FROM baselines WHERE model = ? AND version = ? ORDER BY feature",
            (model, version),
        ).fetchall()
        return [
            FeatureBaseline(
                model=r[0], version=r[1], feature=r[2], kind=r[3], n=r[4], mean=r[5], std=r[6],
                edges=orjson.loads(r[7]) if r[7] else None, counts=orjson.loads(r[8]) if r[8] else None,
                categories=orjson.loads(r[9]) if r[9] else None, sample=_unpack(r[10]), created_at=r[11],
            )
            for r in rows
        ]

    def models(self) -> list[str]:
        """Every model with at least one stored baseline."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT model FROM baselines ORDER BY model").fetchall()]

    def versions_with_baselines(self, model: str) -> list[str]:
        rows = self._db.execute("SELECT DISTINCT version FROM baselines WHERE model = ? ORDER BY version",
                                (model,)).fetchall()
        return [r[0] for r in rows]
