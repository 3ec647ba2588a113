"""The rollback end to end against real MLflow and MLServer: moved alias / switched default version,
two audit rows, the read-back; disable; read-only refusal; lock contention."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.config.settings import EndpointConfig, ModelConfig, Settings
from app.models import ModelInfo, Stage, Version
from app.rollback.actions import disable, rollback
from app.store import Store
from tests.support.mlserver_clf import answering_version, load_both_versions, mlserver_settings


def _seed(store: Store, model: str, versions: list[str], champion: str) -> None:
    store.registry.upsert_model(ModelInfo(name=model))
    for i, v in enumerate(versions):
        store.registry.upsert_version(Version(model=model, version=v, created_at=1_700_000_000_000 + i,
                                              stage=Stage.champion if v == champion else Stage.archived))


def _audit(store: Store, model: str) -> list[str | None]:
    return [e.outcome for e in reversed(store.audit.entries(model))]


# --- MLflow: the alias is the active version -------------------------------------------------------------

def _mlflow_settings(mlflow, model: str, **extra) -> Settings:
    return Settings(models={model: ModelConfig(registry=EndpointConfig(kind="mlflow", url=mlflow.url), **extra)})


async def test_mlflow_rollback_moves_the_alias(mlflow, store_path):
    mlflow.register("fraud-mlf", 3)
    mlflow.set_alias("fraud-mlf", "champion", "3")
    with Store.open(store_path) as store:
        _seed(store, "fraud-mlf", ["1", "2", "3"], champion="3")
        outcome = await rollback(store, _mlflow_settings(mlflow, "fraud-mlf"), "fraud-mlf", "2", "AUC dropped")
        assert outcome.status == "succeeded", outcome.describe()
        assert (outcome.previous, outcome.readback) == ("3", "2")
        assert _audit(store, "fraud-mlf") == ["intent", "succeeded"]
        assert store.registry.active_version("fraud-mlf").version == "2"
    assert mlflow.aliases("fraud-mlf") == {"champion": "2"}


async def test_mlflow_rollback_to_a_missing_version_fails_and_leaves_the_alias(mlflow, store_path):
    mlflow.register("fraud-missing", 2)
    mlflow.set_alias("fraud-missing", "champion", "2")
    with Store.open(store_path) as store:
        outcome = await rollback(store, _mlflow_settings(mlflow, "fraud-missing"), "fraud-missing", "7", "typo")
        assert outcome.status == "failed" and outcome.readback == "2"
        assert _audit(store, "fraud-missing") == ["intent", "failed"]
    assert mlflow.aliases("fraud-missing") == {"champion": "2"}


async def test_mlflow_disable_removes_the_alias(mlflow, store_path):
    mlflow.register("fraud-off", 2)
    mlflow.set_alias("fraud-off", "champion", "2")
    with Store.open(store_path) as store:
        outcome = await disable(store, _mlflow_settings(mlflow, "fraud-off"), "fraud-off", "kill switch")
        assert outcome.status == "succeeded", outcome.describe()
        assert _audit(store, "fraud-off") == ["intent", "succeeded"]
    assert mlflow.aliases("fraud-off") == {}


async def test_mlflow_read_only_model_is_refused_and_nothing_moves(mlflow, store_path):
    mlflow.register("fraud-ro", 2)
    mlflow.set_alias("fraud-ro", "champion", "2")
    with Store.open(store_path) as store:
        outcome = await rollback(store, _mlflow_settings(mlflow, "fraud-ro", read_only=True), "fraud-ro", "1", "x")
        assert outcome.status == "refused"
        assert _audit(store, "fraud-ro") == ["refused"]
    assert mlflow.aliases("fraud-ro") == {"champion": "2"}


async def test_mlflow_two_operators_at_once_exactly_one_proceeds(mlflow, store_path):
    mlflow.register("fraud-race", 3)
    mlflow.set_alias("fraud-race", "champion", "3")
    settings = _mlflow_settings(mlflow, "fraud-race")
    with Store.open(store_path) as one, Store.open(store_path) as two:
        first, second = await asyncio.gather(
            rollback(one, settings, "fraud-race", "2", "incident", actor="alice@bastion"),
            rollback(two, settings, "fraud-race", "1", "incident", actor="bob@laptop"))
        assert first.status == "succeeded", first.describe()
        assert second.status == "refused" and second.lock_holder == "alice@bastion"
        assert "alice@bastion holds the lock" in second.error
    assert mlflow.aliases("fraud-race") == {"champion": "2"}


# --- MLServer: the default version is the newest loaded one ------------------------------------------------

@pytest.fixture
def clf_at_v2(mlserver, store_path):
    """Every test starts with both versions on and v2 answering; whatever it did is undone after."""
    load_both_versions(mlserver)
    with Store.open(store_path) as store:
        _seed(store, "clf", ["v1", "v2"], champion="v2")
    yield
    load_both_versions(mlserver)


async def test_mlserver_rollback_switches_the_default_version_and_back(mlserver, store_path, clf_at_v2):
    settings = mlserver_settings(mlserver)
    with Store.open(store_path) as store:
        outcome = await rollback(store, settings, "clf", "v1", "v2 misclassifies", actor="alice@bastion")
        assert outcome.status == "succeeded", outcome.describe()
        assert (outcome.previous, outcome.readback) == ("v2", "v1")
        assert answering_version(mlserver) == "v1"
        assert _audit(store, "clf") == ["intent", "succeeded"]
        assert store.registry.active_version("clf").version == "v1"
        forward = await rollback(store, settings, "clf", "v2", "fixed upstream", actor="alice@bastion")
        assert forward.status == "succeeded", forward.describe()
        assert answering_version(mlserver) == "v2"
        assert _audit(store, "clf") == ["intent", "succeeded", "intent", "succeeded"]


async def test_mlserver_disable_unloads_the_model(mlserver, store_path, clf_at_v2):
    with Store.open(store_path) as store:
        outcome = await disable(store, mlserver_settings(mlserver), "clf", "bad outputs")
        assert outcome.status == "succeeded", outcome.describe()
        assert outcome.readback is None and outcome.health.state.value == "down"
        assert _audit(store, "clf") == ["intent", "succeeded"]
    assert httpx.get(f"{mlserver.url}/v2/models/clf/ready", timeout=5).status_code != 200


async def test_mlserver_global_read_only_refuses(mlserver, store_path, clf_at_v2):
    settings = mlserver_settings(mlserver).model_copy(update={"read_only": True})
    with Store.open(store_path) as store:
        outcome = await rollback(store, settings, "clf", "v1", "x")
        assert outcome.status == "refused" and "read-only" in outcome.error
        assert _audit(store, "clf") == ["refused"]
    assert answering_version(mlserver) == "v2"


async def test_mlserver_two_operators_at_once_exactly_one_proceeds(mlserver, store_path, clf_at_v2):
    settings = mlserver_settings(mlserver)
    with Store.open(store_path) as one, Store.open(store_path) as two:
        first, second = await asyncio.gather(
            rollback(one, settings, "clf", "v1", "incident", actor="alice@bastion"),
            rollback(two, settings, "clf", "v1", "incident", actor="bob@laptop"))
        assert sorted([first.status, second.status]) == ["refused", "succeeded"]
        loser = first if first.status == "refused" else second
        assert loser.lock_holder in ("alice@bastion", "bob@laptop") and "holds the lock" in loser.error
        assert sorted(_audit(one, "clf")) == ["intent", "refused", "succeeded"]
    assert answering_version(mlserver) == "v1"
