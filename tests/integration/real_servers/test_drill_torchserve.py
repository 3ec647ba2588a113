"""`modeldeck drill` against a real TorchServe on 127.0.0.1 (tests/support/servers.py): the default version is
set to the fallback and back through the management API, both steps audited and timed, and the readiness
Rollback area then reads that switch. Marked ``torchserve`` like the other TorchServe tests."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from app.checklist.evaluate import evaluate
from app.cli.main import main
from app.config.settings import load_settings
from app.models import CheckStatus, ModelInfo, Stage, Version
from app.store import Store

pytestmark = pytest.mark.torchserve


def _answering(ts) -> str:
    return httpx.post(f"{ts.url}/predictions/tsclf", content=b"1", timeout=30).json()["version"]


@pytest.fixture
def serving_2_0(torchserve, store_path):
    """2.0 the default (champion), 1.0 loaded with a worker (the archived fallback); 1.0 the default again after,
    as the other TorchServe tests expect it."""
    mgmt = torchserve.management_url

    def default(version: str) -> None:
        for v in ("1.0", "2.0"):
            httpx.put(f"{mgmt}/models/tsclf/{v}", params={"min_worker": 1, "max_worker": 1, "synchronous": "true"},
                      timeout=60).raise_for_status()
        httpx.put(f"{mgmt}/models/tsclf/{version}/set-default", timeout=10).raise_for_status()

    default("2.0")
    with Store.open(store_path) as store:
        store.registry.upsert_model(ModelInfo(name="tsclf"))
        for i, v in enumerate(("1.0", "2.0")):
            store.registry.upsert_version(Version(model="tsclf", version=v, created_at=1_700_000_000_000 + i,
                                                  stage=Stage.champion if v == "2.0" else Stage.archived))
    yield
    default("1.0")


def test_drill_cli_switches_torchserve_to_the_fallback_and_back_and_rollback_reads_it(torchserve, store_path,
                                                                                      serving_2_0, tmp_path):
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.tsclf.endpoint]\nkind = "torchserve"\nurl = "{torchserve.url}"\n'
                      f'management_url = "{torchserve.management_url}"\ntimeout_s = 15\n')  # a loaded CI machine
    result = CliRunner().invoke(main, ["--db", str(store_path), "--config", str(config), "drill", "tsclf", "--yes",
                                       "--timeout", "60"])
    assert result.exit_code == 0, result.output
    assert "drill tsclf: succeeded; switch to 1.0" in result.output and "back to 2.0" in result.output
    assert _answering(torchserve) == "2.0"  # back where it was
    with Store.open(store_path) as store:
        entries = list(reversed(store.audit.entries("tsclf")))
        assert [(e.action, e.outcome) for e in entries] == [
            ("rollback", "intent"), ("rollback", "succeeded"), ("rollback", "intent"), ("rollback", "succeeded"),
            ("drill", "succeeded")]
        assert entries[1].detail["readback"] == "1.0" and entries[3].detail["readback"] == "2.0"
        assert entries[-1].detail["switch_ms"] > 0 and entries[-1].detail["return_ms"] > 0
        rollback = next(i for i in evaluate(store, "tsclf", settings=load_settings(config)) if i.area == "rollback")
        assert rollback.status is CheckStatus.passed and "last switch (drill) 0s ago took" in rollback.evidence
        assert "can return to 1.0" in rollback.evidence  # a drill flees nothing: the fallback stays the way back
