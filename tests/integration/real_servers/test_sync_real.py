"""Issue 13: ``modeldeck sync`` against the real MLflow, MLServer and TorchServe (tests/support/servers.py,
the .servers venv), on a real store file, through the real CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from app.checklist.inputs import set_card
from app.cli.main import main
from app.store import Store



def _mlflow_model(url: str, name: str) -> None:
    """Three versions with descriptions and source runs with metrics; alias champion on 2."""
    api = f"{url}/api/2.0/mlflow"
    httpx.post(f"{api}/registered-models/create", json={"name": name, "description": "Prices loans."},
               timeout=10).raise_for_status()
    for n in (1, 2, 3):
        run = httpx.post(f"{api}/runs/create", json={"experiment_id": "0", "start_time": int(time.time() * 1000)},
                         timeout=10).json()["run"]["info"]["run_id"]
        for key, value in (("auc", 0.80 + n / 100), ("p95_latency_ms", 40 + n), ("throughput_rps", 500)):
            httpx.post(f"{api}/runs/log-metric", timeout=10, json={
                "run_id": run, "key": key, "value": value, "timestamp": int(time.time() * 1000), "step": 0,
            }).raise_for_status()
        httpx.post(f"{api}/model-versions/create", timeout=10, json={
            "name": name, "source": f"s3://modeldeck-test/{name}/{n}", "run_id": run,
            "description": f"## Intended use\nVersion {n} [bold]not markup[/]",
        }).raise_for_status()
    httpx.post(f"{api}/registered-models/alias", timeout=10,
               json={"name": name, "alias": "champion", "version": "2"}).raise_for_status()


def _sync(db: Path, config: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "--config", str(config), "sync", *args], catch_exceptions=False)


def test_sync_from_mlflow_versions_cards_metrics_alias_and_local_card_kept(mlflow, tmp_path: Path) -> None:
    _mlflow_model(mlflow.url, "loan-sync")
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.loan-sync.registry]\nkind = "mlflow"\nurl = "{mlflow.url}"\n')
    db = tmp_path / "s.db"
    with Store.open(db) as store:  # a version known from the logs, with a card set by hand
        store.syncs.put_version("loan-sync", "3", created_at=1, remote={}, source="test", at=1)
        set_card(store, "loan-sync", "3", "## Model details\nhand-written", actor="alice")
    result = _sync(db, config, "loan", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("loan -> loan-sync")
    payload = json.loads(result.stdout)
    assert payload["ok"] and sorted(payload["versions"]) == ["1", "2", "3"] and payload["active"] == "2"
    assert sorted(payload["cards"]) == ["1", "2"]  # 3 has a card set by hand
    with Store.open(db) as store:
        versions = {v.version: v for v in store.registry.versions("loan-sync")}
        remote = store.syncs.remote("loan-sync")
    assert versions["2"].stage.value == "champion"
    assert versions["2"].metrics == pytest.approx({"auc": 0.82, "p95_latency_ms": 42.0, "throughput_rps": 500.0})
    assert "Prices loans." in json.dumps(versions["1"].card) and "[bold]not markup[/]" in json.dumps(versions["1"].card)
    assert versions["3"].card == {"Model details": "hand-written"}
    assert remote["2"][0]["aliases"] == ["champion"] and remote["2"][1].startswith("mlflow:")
    # The readiness checks read what the sync wrote.
    check = CliRunner().invoke(main, ["--db", str(db), "--config", str(config), "check", "loan-sync", "--json",
                                      "--no-probe"], catch_exceptions=False)
    items = {i["area"]: i for i in json.loads(check.stdout)["items"]}
    # The synced run metrics are the benchmarks it reads (judged against production traffic: none here yet).
    assert items["benchmarks"]["status"] != "fail" and "has no" not in items["benchmarks"]["evidence"]


def test_a_registry_that_is_down_keeps_the_last_sync_with_its_age(mlflow, tmp_path: Path) -> None:
    _mlflow_model(mlflow.url, "down-sync")
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.down-sync.registry]\nkind = "mlflow"\nurl = "{mlflow.url}"\n')
    db = tmp_path / "s.db"
    assert _sync(db, config).exit_code == 0
    from tests.support.servers import free_port

    config.write_text(f'[models.down-sync.registry]\nkind = "mlflow"\nurl = "{mlflow.url}"\ntimeout_s = 1\n'
                      .replace(mlflow.url, f"http://127.0.0.1:{free_port()}"))
    result = _sync(db, config)
    assert result.exit_code == 1
    assert "cannot read it" in result.stderr and "keeping what was synced" in result.stderr
    with Store.open(db) as store:
        assert sorted(v.version for v in store.registry.versions("down-sync")) == ["1", "2", "3"]


def test_sync_from_mlserver(mlserver, tmp_path: Path) -> None:
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.clf.endpoint]\nkind = "mlserver"\nurl = "{mlserver.url}"\n'
                      f'repository = "{mlserver.repository}"\n')
    db = tmp_path / "s.db"
    result = _sync(db, config, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert sorted(payload["versions"]) == ["v1", "v2"]
    with Store.open(db) as store:
        remote = store.syncs.remote("clf")
        assert {v: r[0]["state"] for v, r in remote.items()} == {"v1": "READY", "v2": "READY"}
        assert [s.error for s in store.syncs.states("clf")] == [None]


def test_sync_from_torchserve(torchserve, tmp_path: Path) -> None:
    # The server is shared by the session (the rollback tests scale versions to zero and move the
    # default): start from a known state, 1.0 the default with a worker on each version.
    mgmt = torchserve.management_url
    for version in ("1.0", "2.0"):
        httpx.put(f"{mgmt}/models/tsclf/{version}", params={"min_worker": 1, "max_worker": 1, "synchronous": "true"},
                  timeout=60).raise_for_status()
    httpx.put(f"{mgmt}/models/tsclf/1.0/set-default", timeout=10).raise_for_status()
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.tsclf.endpoint]\nkind = "torchserve"\nurl = "{torchserve.url}"\n'
                      f'management_url = "{torchserve.management_url}"\n')
    db = tmp_path / "s.db"
    result = _sync(db, config, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert sorted(payload["versions"]) == ["1.0", "2.0"] and payload["active"] == "1.0"
    with Store.open(db) as store:
        assert store.registry.active_version("tsclf").version == "1.0"


def test_sync_from_an_http_endpoint_the_demo_serves(demo, tmp_path: Path) -> None:
    """modeldeck's http protocol (data/http-protocol.md, GET /versions), served by the demo endpoint."""
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.churn.endpoint]\nkind = "http"\nurl = "{demo.model_url("churn")}"\n')
    db = tmp_path / "own.db"  # a store that never saw the demo
    result = _sync(db, config, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert sorted(payload["versions"]) == ["v1", "v2", "v3"] and payload["active"] == "v3"
    assert payload["source"] == f"http:{demo.model_url('churn')}"
    with Store.open(db) as store:
        assert store.registry.active_version("churn").version == "v3"
        assert store.syncs.remote("churn")["v1"][0]["ready"] in (True, False, None)
    text = _sync(db, config)
    assert text.exit_code == 0 and text.stdout == "churn from http:" + demo.model_url("churn") + \
        ": 3 versions; active v3\n"
