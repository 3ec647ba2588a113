"""`modeldeck drill` against a real MLServer on 127.0.0.1 (tests/support/servers.py): the endpoint switches to the
fallback and back, both steps audited and timed, and the readiness Rollback area then reads that switch."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.checklist.drill import drill
from app.checklist.evaluate import evaluate
from app.cli.main import main
from app.models import CheckStatus, ModelInfo, Stage, Version
from app.store import Store
from tests.support.mlserver_clf import answering_version, load_both_versions, mlserver_settings


@pytest.fixture
def clf_at_v2(mlserver, store_path):
    """Both versions on and v2 answering (the rollback tests share this server); undone after."""
    load_both_versions(mlserver)
    with Store.open(store_path) as store:
        store.registry.upsert_model(ModelInfo(name="clf"))
        for i, v in enumerate(["v1", "v2"]):
            store.registry.upsert_version(Version(model="clf", version=v, created_at=1_700_000_000_000 + i,
                                                  stage=Stage.champion if v == "v2" else Stage.archived))
    yield
    load_both_versions(mlserver)


async def test_drill_switches_to_the_fallback_and_back_and_the_rollback_area_reads_it(mlserver, store_path,
                                                                                       clf_at_v2):
    settings = mlserver_settings(mlserver)
    with Store.open(store_path) as store:
        before = next(i for i in evaluate(store, "clf", settings=settings) if i.area == "rollback")
        assert before.status is CheckStatus.pending and "run modeldeck drill clf" in before.evidence
        outcome = await drill(store, settings, "clf", actor="sre@bastion")
        assert outcome.ok, outcome.lines()
        assert (outcome.serving, outcome.fallback) == ("v2", "v1")
        assert outcome.away.readback == "v1" and outcome.back.readback == "v2"
        entries = list(reversed(store.audit.entries("clf")))
        assert [(e.action, e.outcome) for e in entries] == [
            ("rollback", "intent"), ("rollback", "succeeded"), ("rollback", "intent"), ("rollback", "succeeded"),
            ("drill", "succeeded")]
        assert all(e.actor == "sre@bastion" for e in entries)
        assert entries[-1].detail["switch_ms"] == outcome.away.elapsed_ms > 0
        after = next(i for i in evaluate(store, "clf", settings=settings) if i.area == "rollback")
        assert after.status is CheckStatus.passed and "last switch (drill) 0s ago took" in after.evidence
    assert answering_version(mlserver) == "v2"  # back where it was


def test_drill_cli_is_refused_under_read_only_and_moves_nothing(mlserver, store_path, clf_at_v2, tmp_path):
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.clf.endpoint]\nkind = "mlserver"\nurl = "{mlserver.url}"\n'
                      f'repository = "{mlserver.repository}"\ntimeout_s = 5\n')
    result = CliRunner().invoke(main, ["--db", str(store_path), "--config", str(config), "--read-only", "drill",
                                       "clf"])
    assert result.exit_code == 1 and "drill clf: refused" in result.output
    assert answering_version(mlserver) == "v2"
    with Store.open(store_path) as store:
        assert [(e.action, e.outcome) for e in store.audit.entries("clf")] == [("drill", "refused")]
    unknown = CliRunner().invoke(main, ["--db", str(store_path), "--config", str(config), "drill", "nope", "--yes"])
    assert unknown.exit_code == 2


def test_drill_cli_switches_and_audits_on_both_backends(mlserver, any_store_location: str, tmp_path):
    """`modeldeck drill` on a SQLite file and on a PostgreSQL database: the same switch, the same audit."""
    load_both_versions(mlserver)
    try:
        with Store.open(any_store_location) as store:
            store.registry.upsert_model(ModelInfo(name="clf"))
            for i, v in enumerate(["v1", "v2"]):
                store.registry.upsert_version(Version(model="clf", version=v, created_at=1_700_000_000_000 + i,
                                                      stage=Stage.champion if v == "v2" else Stage.archived))
        config = tmp_path / "modeldeck.toml"
        config.write_text(f'[models.clf.endpoint]\nkind = "mlserver"\nurl = "{mlserver.url}"\n'
                          f'repository = "{mlserver.repository}"\ntimeout_s = 5\n')
        result = CliRunner().invoke(main, ["--db", any_store_location, "--config", str(config), "drill", "clf",
                                           "--yes"], env={"MODELDECK_ACTOR": "sre@bastion"})
        assert result.exit_code == 0, result.output
        assert answering_version(mlserver) == "v2"  # back where it was
        with Store.open(any_store_location) as store:
            entries = list(reversed(store.audit.entries("clf")))
        assert [(e.action, e.outcome) for e in entries] == [
            ("rollback", "intent"), ("rollback", "succeeded"), ("rollback", "intent"), ("rollback", "succeeded"),
            ("drill", "succeeded")]
        assert {e.actor for e in entries} == {"sre@bastion"} and entries[-1].detail["switch_ms"] > 0
    finally:
        load_both_versions(mlserver)
