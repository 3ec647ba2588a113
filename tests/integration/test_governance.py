"""Governance over time (issue 17, item 4), on real store files built without the demo: sign-offs,
waivers and items belong to a version and expire; `signoff`, `waive`, `reopen` and `review` act under
the caller's identity, are audited, and are refused (and audited as refused) under read-only; the
fleet marks a model whose monthly health review is overdue; a store of the previous schema migrates."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.checklist.evaluate import (ChangeRefused, ChecklistError, evaluate, mark_passed, record_review, reopen,
                                    sign_off, waive)
from app.cli.main import main
from app.config.settings import GovernanceConfig, Settings
from app.models import CheckItem, CheckStatus, ModelInfo, SignOff, Stage, Version
from app.store import Store

DAY = 86_400_000
NOW = 1_790_000_000_000
REQUIRED = ("engineering", "product", "data", "fairness", "retention")


def add_model(store: Store, *, flags: dict | None = None) -> None:
    store.registry.upsert_model(ModelInfo(name="fraud", owner="alice", flags=flags or {}))
    store.registry.upsert_version(Version(model="fraud", version="v1", stage=Stage.archived, created_at=NOW - 60 * DAY))
    store.registry.upsert_version(Version(model="fraud", version="v2", stage=Stage.champion, created_at=NOW - DAY))


def area(items: list[CheckItem], name: str) -> CheckItem:
    return next(i for i in items if i.area == name)


def switch(store: Store, to: str) -> None:
    """What a promotion or rollback leaves in the registry: ``to`` is champion, the other archived."""
    for v in store.registry.versions("fraud"):
        store.registry.set_stage("fraud", v.version, Stage.champion if v.version == to else Stage.archived)


# --- per version --------------------------------------------------------------------------------

def test_a_waiver_belongs_to_its_version_and_holds_again_after_a_rollback_to_it(store: Store):
    add_model(store)
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.candidate, created_at=NOW))
    waive(store, "fraud", "serving", "batch job, no endpoint", expires_in_ms=30 * DAY, actor="alice", now=NOW)
    assert area(evaluate(store, "fraud", now=NOW + 1), "serving").status is CheckStatus.waived
    switch(store, "v3")  # promoted: v2's waiver says nothing about v3
    on_v3 = area(evaluate(store, "fraud", now=NOW + 2), "serving")
    assert on_v3.status is CheckStatus.pending and on_v3.auto and on_v3.version == "v3"  # no endpoint: unknown
    switch(store, "v2")  # rolled back: v2's own waiver holds again
    back = area(evaluate(store, "fraud", now=NOW + 3), "serving")
    assert back.status is CheckStatus.waived and back.version == "v2" and back.updated_by == "alice"
    # An explicit version is judged without touching the champion: v3 is still not waived.
    assert area(evaluate(store, "fraud", now=NOW + 4, version="v3"), "serving").status is CheckStatus.pending


def test_sign_offs_count_for_their_version_only(store: Store):
    add_model(store)
    store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.candidate, created_at=NOW))
    for role in REQUIRED:
        sign_off(store, "fraud", role, version="v3", actor=f"{role}@corp", now=NOW)
    assert area(evaluate(store, "fraud", now=NOW), "signoff").status is CheckStatus.pending  # v2 serves
    signed = area(evaluate(store, "fraud", now=NOW, version="v3"), "signoff")
    assert signed.status is CheckStatus.passed and "product (product@corp" in signed.evidence
    with pytest.raises(ChecklistError, match="no version 'v9'"):
        sign_off(store, "fraud", "data", version="v9")


# --- expiry -------------------------------------------------------------------------------------

def test_a_waiver_expires_and_the_check_speaks_again_with_one_audit_row(store: Store):
    add_model(store)
    waive(store, "fraud", "serving", "endpoint migration", expires_in_ms=30 * DAY, actor="alice", now=NOW)
    assert area(evaluate(store, "fraud", now=NOW + 30 * DAY - 1), "serving").status is CheckStatus.waived
    after = area(evaluate(store, "fraud", now=NOW + 30 * DAY), "serving")
    assert after.status is CheckStatus.pending and after.auto
    assert after.note is not None and "waiver by alice expired" in after.note
    evaluate(store, "fraud", now=NOW + 31 * DAY)
    expired = [e for e in store.audit.entries("fraud") if e.action == "checklist.expire"]
    assert len(expired) == 1 and expired[0].detail["area"] == "serving" and expired[0].detail["by"] == "alice"


def test_a_waiver_needs_a_reason_and_an_expiry_within_the_configured_limit(store: Store):
    add_model(store)
    with pytest.raises(ChecklistError, match="needs an expiry"):
        waive(store, "fraud", "serving", "why not", expires_in_ms=None)
    settings = Settings(governance=GovernanceConfig(max_waiver_days=14))
    with pytest.raises(ChecklistError, match="at most 14 days"):
        waive(store, "fraud", "serving", "why not", expires_in_ms=15 * DAY, settings=settings)
    assert store.audit.entries("fraud") == []


def test_sign_offs_and_manual_passes_expire_after_the_configured_days(store: Store):
    add_model(store)
    settings = Settings(governance=GovernanceConfig(signoff_days=10))
    for role in REQUIRED:
        sign_off(store, "fraud", role, actor=f"{role}@corp", settings=settings, now=NOW)
    # features: pending without a baseline, so only the expiry can end the manual pass
    mark_passed(store, "fraud", "features", "parity run 42", actor="erin", settings=settings, now=NOW)
    fresh = evaluate(store, "fraud", settings=settings, now=NOW + 9 * DAY)
    assert area(fresh, "signoff").status is CheckStatus.passed
    assert area(fresh, "signoff").evidence.endswith("first expiry in 1d")
    assert area(fresh, "features").status is CheckStatus.passed and not area(fresh, "features").auto
    stale = evaluate(store, "fraud", settings=settings, now=NOW + 10 * DAY)
    assert area(stale, "signoff").status is CheckStatus.pending
    assert "expired: engineering (engineering@corp, 0s ago)" in area(stale, "signoff").evidence
    assert area(stale, "features").status is CheckStatus.pending
    assert "manual pass by erin expired" in (area(stale, "features").note or "")


# --- read-only, at the action layer ----------------------------------------------------------------

@pytest.mark.parametrize("settings", [Settings(read_only=True),
                                      Settings(models={"fraud": {"read_only": True}})], ids=["global", "model"])
def test_every_readiness_change_is_refused_and_audited_under_read_only(store: Store, settings: Settings):
    add_model(store)
    changes = [
        lambda: sign_off(store, "fraud", "product", actor="pat", settings=settings),
        lambda: waive(store, "fraud", "serving", "r", expires_in_ms=DAY, actor="pat", settings=settings),
        lambda: mark_passed(store, "fraud", "serving", "e", actor="pat", settings=settings),
        lambda: reopen(store, "fraud", "serving", actor="pat", settings=settings),
        lambda: record_review(store, "fraud", "fine", actor="pat", settings=settings),
    ]
    for change in changes:
        with pytest.raises(ChangeRefused, match="refused: .*read-only"):
            change()
    entries = store.audit.entries("fraud")
    assert [e.outcome for e in entries] == ["refused"] * len(changes)
    assert {e.action for e in entries} == {"checklist.sign_off", "checklist.waive", "checklist.pass",
                                          "checklist.reopen", "review"}
    assert all(e.actor == "pat" for e in entries)
    assert store.checklist.items("fraud") == [] and store.checklist.signoffs("fraud") == []
    assert store.checklist.last_reviews() == {}


# --- the commands ---------------------------------------------------------------------------------

@pytest.fixture
def db(any_store_location: str) -> str:
    """A store with the fraud model, on each backend (a SQLite file, a PostgreSQL database): the readiness
    commands are held to one set of tests on both."""
    with Store.open(any_store_location) as store:
        add_model(store)
    return any_store_location


def run(db: Path, *args: str, actor: str = "pat@ci") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], env={"MODELDECK_ACTOR": actor})
    return result.exit_code, result.stdout, result.stderr


def test_signoff_waive_reopen_and_review_commands_act_under_the_callers_identity(db: Path):
    code, out, err = run(db, "signoff", "fraud", "--version", "v2", "--role", "product", "--note", "PRD-12")
    assert code == 0, err
    assert out.startswith("fraud v2: product signed off by pat@ci, expires ") and "sign-off area pending" in out
    code, out, err = run(db, "waive", "fraud", "serving", "--version", "v2", "--reason", "batch only",
                         "--expires", "30d", actor="mei@bastion")
    assert code == 0, err
    assert "serving waived by mei@bastion until " in out and out.rstrip().endswith("batch only")
    code, out, err = run(db, "reopen", "fraud", "serving", "--version", "v2", actor="ana@bastion")
    assert code == 0, err
    assert "serving reopened by ana@bastion, now pending: not configured: no endpoint configured" in out
    code, out, err = run(db, "review", "fraud", "--note", "AUC stable, no drift")
    assert code == 0 and "health review recorded by pat@ci" in out, err
    with Store.open(db) as store:
        entries = store.audit.entries("fraud")
        assert [(e.action, e.actor) for e in reversed(entries)] == [
            ("checklist.sign_off", "pat@ci"), ("checklist.waive", "mei@bastion"),
            ("checklist.reopen", "ana@bastion"), ("review", "pat@ci")]
        [signed] = store.checklist.signoffs("fraud", "v2")
        assert signed.signed_by == "pat@ci" and signed.note == "PRD-12"
        assert signed.expires_at - signed.signed_at == 90 * DAY
        assert store.checklist.last_reviews()["fraud"].note == "AUC stable, no drift"


@pytest.mark.parametrize("args, message", [
    (("waive", "fraud", "serving", "--reason", " ", "--expires", "3d"), "needs a reason"),
    (("waive", "fraud", "serving", "--reason", "x", "--expires", "400d"), "at most 90 days"),
    (("waive", "fraud", "vibes", "--reason", "x", "--expires", "3d"), "unknown readiness area"),
    (("signoff", "fraud", "--role", "ceo"), "unknown sign-off role"),
    (("signoff", "nope", "--role", "data"), "unknown model 'nope'"),
    (("reopen", "fraud", "serving", "--version", "v7"), "no version 'v7'"),
    (("reopen", "fraud", "serving"), "not waived or passed by hand"),
    (("review", "fraud", "--note", ""), "needs a note"),
])
def test_a_change_that_cannot_be_made_is_one_line_exit_2(db: Path, args: tuple[str, ...], message: str):
    code, out, err = run(db, *args)
    assert code == 2 and message in err and "Traceback" not in err and err.count("\n") == 1, (out, err)


def test_a_malformed_expiry_is_a_usage_error():
    result = CliRunner().invoke(main, ["waive", "fraud", "serving", "--reason", "x", "--expires", "soon"])
    assert result.exit_code == 2 and "not a duration (use e.g. 15m, 2h, 7d): 'soon'" in result.stderr


def test_under_read_only_the_commands_are_refused_audited_and_change_nothing(db: Path):
    for args in (("signoff", "fraud", "--role", "product"),
                 ("waive", "fraud", "serving", "--reason", "x", "--expires", "3d"),
                 ("reopen", "fraud", "serving"),
                 ("review", "fraud", "--note", "n")):
        code, _, err = run(db, "--read-only", *args)
        assert code == 2 and "refused: modeldeck runs read-only" in err, err
    with Store.open(db) as store:
        entries = store.audit.entries("fraud")
        assert len(entries) == 4 and {e.outcome for e in entries} == {"refused"}
        assert {e.actor for e in entries} == {"pat@ci"}
        assert store.checklist.signoffs("fraud") == [] and store.checklist.items("fraud") == []


def test_check_json_shows_the_version_and_the_waivers_expiry(db: Path):
    run(db, "waive", "fraud", "serving", "--reason", "batch only", "--expires", "7d")
    result = CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--json", "--no-probe"])
    import orjson

    payload = orjson.loads(result.stdout)
    serving = next(i for i in payload["items"] if i["area"] == "serving")
    assert serving["status"] == "waived" and serving["version"] == "v2"
    assert serving["expires_at"] - serving["updated_at"] == 7 * DAY
    text = CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--no-probe"]).stdout
    assert "[by pat@ci, expires " in text  # who waived it and until when, in the table too


# --- the monthly review and the fleet --------------------------------------------------------------

def test_the_fleet_marks_models_whose_health_review_is_overdue(store: Store):
    from app.views.fleet import fleet_rows

    add_model(store)
    store.registry.upsert_model(ModelInfo(name="churn"))
    store.registry.upsert_version(Version(model="churn", version="c1", stage=Stage.champion, created_at=NOW))
    store.registry.upsert_model(ModelInfo(name="never"))
    record_review(store, "fraud", "fine", actor="ana", now=NOW - 3 * DAY)
    record_review(store, "churn", "fine", actor="bo", now=NOW - 40 * DAY)
    rows = {r.name: r for r in fleet_rows(store, Settings(), NOW)}
    assert not rows["fraud"].review_overdue and rows["fraud"].last_review_by == "ana"
    assert rows["churn"].review_overdue and rows["churn"].last_review_at == NOW - 40 * DAY
    assert rows["never"].review_overdue and rows["never"].last_review_at is None
    lenient = {r.name: r for r in fleet_rows(store, Settings(governance=GovernanceConfig(review_every_days=60)),
                                              NOW)}
    assert not lenient["churn"].review_overdue


# --- migration ----------------------------------------------------------------------------------------

def test_a_version_5_store_migrates_items_to_the_champion_with_the_default_expiry(store_path: Path):
    with Store(store_path, migrate_to=5) as old:
        add_model(old)
        old.conn.execute("INSERT INTO checklist (model, area, status, evidence, auto, note, updated_by, updated_at) "
                         "VALUES ('fraud', 'serving', 'waived', '', 0, 'batch', 'alice', ?)", (NOW,))
        old.conn.execute("INSERT INTO checklist (model, area, status, evidence, auto, updated_by, updated_at) "
                         "VALUES ('fraud', 'logging', 'pass', 'ok', 1, 'modeldeck', ?)", (NOW,))
        old.conn.execute("INSERT INTO signoffs (model, version, role, signed_by, signed_at) "
                         "VALUES ('fraud', 'v2', 'data', 'dana', ?)", (NOW,))
    with Store.open(store_path) as upgraded:
        items = {i.area: i for i in upgraded.checklist.items("fraud")}
        assert {i.version for i in items.values()} == {"v2"}
        assert items["serving"].expires_at == NOW + 90 * DAY and items["logging"].expires_at is None
        assert upgraded.checklist.signoffs("fraud") == [
            SignOff(model="fraud", version="v2", role="data", signed_by="dana", signed_at=NOW,
                    expires_at=NOW + 90 * DAY)]
        assert area(evaluate(upgraded, "fraud", now=NOW + DAY), "serving").status is CheckStatus.waived
        assert area(evaluate(upgraded, "fraud", now=NOW + 90 * DAY), "serving").status is CheckStatus.pending


def test_check_judges_a_named_version_and_refuses_an_unknown_one(db: Path):
    import orjson

    run(db, "waive", "fraud", "serving", "--version", "v1", "--reason", "retired", "--expires", "7d")
    result = CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--version", "v1", "--json", "--no-probe"])
    payload = orjson.loads(result.stdout)
    assert payload["version"] == "v1" and {i["version"] for i in payload["items"]} == {"v1"}
    assert next(i for i in payload["items"] if i["area"] == "serving")["status"] == "waived"
    on_v2 = orjson.loads(CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--json", "--no-probe"]).stdout)
    assert on_v2["version"] == "v2" and next(i for i in on_v2["items"] if i["area"] == "serving")["status"] == "pending"
    bad = CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--version", "v9", "--no-probe"])
    assert bad.exit_code == 2 and "unknown version 'v9' of fraud" in bad.stderr  # the one resolver's words
