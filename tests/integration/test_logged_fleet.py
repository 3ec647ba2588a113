"""Issue 13: a store built only by ``modeldeck ingest`` (no config, never the demo) is a fleet.

Real store files, the real CLI (click's runner), JSON Lines written by the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.store import Store
from app.store.schema import MIGRATIONS
from app.timeutil import ms_to_iso, now_ms


def write_log(path: Path, records: list[tuple[str, str, int]], *, start: int = 0) -> None:
    """(model, version, ts) per record, with a feature so the logging area has something to read."""
    with path.open("w") as handle:
        for i, (model, version, ts) in enumerate(records, start=start):
            handle.write(json.dumps({"ts": ms_to_iso(ts), "model": model, "version": version,
                                     "request_id": f"{model}-{version}-{i}", "prediction": 1, "score": 0.7,
                                     "latency_ms": 12.5, "features": {"amount": i % 50, "country": "DE"}}) + "\n")


def run(*args: str) -> "object":
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def logged_store(tmp_path: Path) -> Path:
    now = now_ms()
    log = tmp_path / "logs.jsonl"
    write_log(log, [("loan-pricing", "v1", now - 7_200_000 + i * 1000) for i in range(30)]
              + [("loan-pricing", "v2", now - 600_000 + i * 1000) for i in range(20)]
              + [("fraud-scorer", "2024-05", now - 300_000 + i * 1000) for i in range(10)])
    db = tmp_path / "own.db"
    result = run("--db", str(db), "ingest", str(log))
    assert result.exit_code == 0, result.output
    return db


def test_ingest_makes_the_catalogue(logged_store: Path) -> None:
    with Store.open(logged_store) as store:
        assert store.registry.names() == ["fraud-scorer", "loan-pricing"]
        versions = {v.version: v for v in store.registry.versions("loan-pricing")}
        assert versions["v1"].logged_rows == 30 and versions["v2"].logged_rows == 20
        assert versions["v1"].first_seen < versions["v1"].last_seen < versions["v2"].first_seen
        # Nobody named a champion: the version the log saw last is what the checklist looks at.
        assert store.registry.active_version("loan-pricing") is None
        assert store.registry.logged_version("loan-pricing").version == "v2"


def test_a_second_ingest_adds_only_new_rows_to_the_counts(logged_store: Path, tmp_path: Path) -> None:
    now = now_ms()
    more = tmp_path / "more.jsonl"
    # 5 already-stored requests (duplicates) and 5 new ones of v2, one later than anything seen.
    write_log(more, [("loan-pricing", "v2", now - 600_000 + i * 1000) for i in range(5)], start=30)
    with more.open("a") as handle:
        for i in range(5):
            handle.write(json.dumps({"ts": ms_to_iso(now + i), "model": "loan-pricing", "version": "v2",
                                     "request_id": f"new-{i}", "prediction": 0}) + "\n")
    with Store.open(logged_store) as store:
        before = {v.version: v for v in store.registry.versions("loan-pricing")}["v2"]
    assert run("--db", str(logged_store), "ingest", str(more)).exit_code == 0
    with Store.open(logged_store) as store:
        after = {v.version: v for v in store.registry.versions("loan-pricing")}["v2"]
        counted = store.conn.execute("SELECT count(*) FROM predictions WHERE model = 'loan-pricing' "
                                     "AND version = 'v2'").fetchone()[0]
    assert after.logged_rows == counted == before.logged_rows + 5
    assert after.last_seen == now + 4 and after.first_seen == before.first_seen


def test_follow_keeps_the_catalogue_current(tmp_path: Path) -> None:
    import threading

    from app.ingest.run import ingest

    log = tmp_path / "live.jsonl"
    now = now_ms()
    write_log(log, [("router", "r1", now + i) for i in range(3)])
    db = tmp_path / "follow.db"
    stop = threading.Event()
    with Store.open(db) as store:
        worker = threading.Thread(target=ingest, args=(store, [str(log)]), kwargs={"follow": True, "stop": stop,
                                                                                   "poll_s": 0.05})
        worker.start()
        try:
            with Store.open(db, read_only=True) as reader:
                for _ in range(200):  # bounded: 10 s
                    versions = reader.registry.versions("router") if "router" in reader.registry.names() else []
                    if versions and versions[0].logged_rows == 3:
                        break
                    stop.wait(0.05)
                assert [(v.version, v.logged_rows) for v in reader.registry.versions("router")] == [("r1", 3)]
        finally:
            stop.set()
            worker.join(timeout=10)
    assert not worker.is_alive()


def test_migration_backfills_an_older_store(tmp_path: Path) -> None:
    """A store written by schema 5 (predictions, no model rows) learns its fleet once on opening."""
    db = tmp_path / "old.db"
    with Store(db, migrate_to=7) as old:  # the schema before the catalogue (step 8)
        old.conn.executemany("INSERT INTO predictions (ts, model, version, request_id) VALUES (?, ?, ?, ?)",
                             [(1000 + i, "legacy", "v1" if i < 4 else "v2", f"r{i}") for i in range(6)])
        assert old.conn.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    with Store.open(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert [(v.version, v.first_seen, v.last_seen, v.logged_rows) for v in store.registry.versions("legacy")] \
            == [("v2", 1004, 1005, 2), ("v1", 1000, 1003, 4)]


def test_check_and_report_on_a_logged_model_give_honest_evidence(logged_store: Path) -> None:
    result = run("--db", str(logged_store), "check", "loan-pricing", "--no-probe", "--json")
    assert result.exit_code == 1, result.output  # not ready, but a checklist, not an error
    payload = json.loads(result.output)
    assert payload["version"] == "v2" and payload["version_from_logs"] is True
    evidence = {item["area"]: item["evidence"] for item in payload["items"]}
    assert "no model card" in evidence["model_card"]
    assert "the version the logs saw last" in evidence["model_card"]
    report = run("--db", str(logged_store), "report", "loan-pricing", "--no-probe")
    assert report.exit_code == 0 and "loan-pricing" in report.output


def test_fleet_lists_every_logged_model(logged_store: Path) -> None:
    from app.config.settings import Settings
    from app.views.fleet import fleet_rows

    with Store.open(logged_store) as store:
        rows = fleet_rows(store, Settings(), now_ms())
    assert sorted(row.name for row in rows) == ["fraud-scorer", "loan-pricing"]


def test_global_options_after_the_command(logged_store: Path, tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    write_log(log, [("late-model", "v1", now_ms())])
    result = run("ingest", str(log), "--db", str(logged_store))
    assert result.exit_code == 0, result.output
    result = run("check", "late-model", "--no-probe", f"--db={logged_store}", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["model"] == "late-model"
    # a flag too: the read-only check still evaluates (exit 1), it is not "No such option" (exit 2)
    assert run("check", "late-model", "--no-probe", "--read-only", "--db", str(logged_store)).exit_code == 1
    # search has its own --db: it stays the command's
    found = run("search", "model:late-model", "--db", str(logged_store))
    assert found.exit_code == 0 and "late-model" in found.output
