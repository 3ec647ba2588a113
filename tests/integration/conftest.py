"""Fixtures for the endpoint and rollback tests: a seeded store and the demo endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.models import ModelInfo, Stage, Version
from app.store import Store

DEMO_MODELS = {"churn": ("v1", "v2", "v3"), "fraud": ("v1", "v2")}


def seed(store: Store, models: dict[str, tuple[str, ...]] = DEMO_MODELS) -> None:
    """Each model with its versions, the last one the champion, offline metrics and a served prediction."""
    for name, versions in models.items():
        store.registry.upsert_model(ModelInfo(name=name, owner="team-ml", created_at=1_700_000_000_000))
        for i, version in enumerate(versions):
            stage = Stage.champion if i == len(versions) - 1 else Stage.archived
            store.registry.upsert_version(Version(model=name, version=version, stage=stage,
                                                  created_at=1_700_000_000_000 + i * 86_400_000,
                                                  metrics={"auc": round(0.80 + i / 100, 2)}))


@pytest.fixture
def seeded_store_path(store_path: Path) -> Path:
    with Store.open(store_path) as store:
        seed(store)
    return store_path


@pytest.fixture
def demo(seeded_store_path: Path):
    from app.demo.endpoint import start_demo_endpoint

    with start_demo_endpoint(seeded_store_path) as handle:
        yield handle


# The real serving systems (MLflow, MLServer, TorchServe) are started in real_servers/conftest.py, for the
# tests in that package only.
