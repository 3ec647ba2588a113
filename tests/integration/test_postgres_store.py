"""The PostgreSQL backend as a team runs it: `db init`'s roles, the CLI, concurrent ingesters and
consoles, a rollback from a reader console. Real PostgreSQL (tests/support/postgres.py), real demo
endpoint on loopback; the store contract itself is tests/integration/test_store_contract.py."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.models import CheckItem, CheckStatus, ModelInfo, Review, SignOff, Stage, Version
from app.search.searcher import Searcher, parse
from app.store import Store, StoreError, StoreReadOnly
from app.store.locks import LockHeld
from app.store.pg.url import PgUrl
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row

NOW = BASE_MS + SPAN_MS


def _cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _as(url: str, role: str, password_env: str) -> str:
    parsed = PgUrl.parse(url)
    return f"postgresql://{role}@{parsed.host}:{parsed.port}/{parsed.dbname}?password_env={password_env}"


@pytest.fixture
def team(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store prepared by `modeldeck db init` (as the owner), with the writer's and the reader's URLs."""
    monkeypatch.setenv("W_PW", "writer-secret-1")
    monkeypatch.setenv("R_PW", "reader-secret-2")
    suffix = pg_url.rsplit("/", 1)[1][-20:]
    writer, reader = f"w_{suffix}", f"r_{suffix}"
    result = _cli("--db", pg_url, "db", "init", "--writer", writer, "--reader", reader,
                  "--writer-password-env", "W_PW", "--reader-password-env", "R_PW")
    assert result.exit_code == 0, result.output
    assert "writer-secret-1" not in result.output and "reader-secret-2" not in result.output
    assert f"postgresql://{writer}@" in result.output
    again = _cli("--db", pg_url, "db", "init", "--writer", writer, "--reader", reader)  # idempotent
    assert again.exit_code == 0, again.output
    return {"owner": pg_url, "writer": _as(pg_url, writer, "W_PW"), "reader": _as(pg_url, reader, "R_PW")}


def _jsonl(tmp_path: Path, records: list[dict], name: str = "log.jsonl") -> Path:
    from app.timeutil import ms_to_iso

    path = tmp_path / name
    path.write_bytes(b"".join(orjson.dumps({**r, "ts": ms_to_iso(r["ts"])}) + b"\n" for r in records)
                     + b'{"not": "a record"}\n')
    return path


def test_writer_ingests_reader_searches_and_the_audit_cannot_change(team, tmp_path: Path) -> None:
    records = random_records(400, seed=21)
    path = _jsonl(tmp_path, records)
    result = _cli("--db", team["writer"], "ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "400 accepted, 0 duplicates" in result.output and "1 quarantined" in result.output
    assert _cli("--db", team["writer"], "ingest", str(path)).output.count("400 duplicates") == 1

    found = _cli("--db", team["reader"], "search", "status:error", "--format", "jsonl", "--limit", "0")
    assert found.exit_code == 0, found.output
    assert len(found.output.splitlines()) == sum(r["status"] == "error" for r in records)
    with Store.open(team["reader"]) as reader:
        with pytest.raises(StoreReadOnly):
            reader.registry.upsert_model(ModelInfo(name="sneaky"))
        reader.audit.append("note", "fraud", detail={"why": "reader may audit"})
    # A sign-off from a console's reader role is refused in one line that names the way that works.
    refused = _cli("--db", team["reader"], "signoff", "fraud", "--version", "v1", "--role", "engineering")
    assert refused.exit_code == 2 and "may not write that" in refused.output, refused.output
    assert "use the writer role" in refused.output and "Traceback" not in refused.output
    with Store.open(team["writer"]) as writer:
        writer.audit.append("note", "fraud")
        for sql in ("UPDATE audit SET outcome = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(StoreError):
                writer.run(sql)
        assert len(writer.audit.entries("fraud")) == 2


def test_a_password_in_the_url_is_refused_and_never_shown(pg_url: str, postgres) -> None:
    with_password = pg_url.replace("@", f":{postgres.password}@", 1)
    result = _cli("--db", with_password, "search", "alpha")
    assert result.exit_code == 2
    assert postgres.password not in result.output and "must not contain a password" in result.output
    with Store.open(pg_url) as store:
        assert postgres.password not in store.location


def test_sqlite_only_parts_say_so_in_one_line_and_readiness_judges_every_area(pg_url: str) -> None:
    from app.checklist.evaluate import evaluate
    from app.store.connection import StoreUnsupported

    with Store.open(pg_url) as store:
        store.predictions.append([to_row(r) for r in random_records(30)])
        with pytest.raises(StoreUnsupported, match="not available on PostgreSQL yet"):
            store.conn.execute("SELECT 1")  # a SQLite-only part (here: the SQLite connection itself)
        from app.models import FeatureBaseline

        version = store.registry.logged_version("fraud").version
        store.baselines.put(FeatureBaseline(model="fraud", version=version, feature="country", kind="categorical",
                                            n=3, categories={"DE": 3}, created_at=1))
        items = {item.area: item for item in evaluate(store, "fraud")}
    assert len(items) == 8
    # Every rule's reads exist on PostgreSQL now (quality's feature timing included): no area is left
    # "cannot be judged on this store yet" (what app/checklist/evaluate.py says for a part not built).
    assert [i.area for i in items.values() if "cannot be judged" in i.evidence] == []
    assert "no feature baseline" not in items["features"].evidence


def test_two_ingesters_on_overlapping_files_store_each_row_once(pg_url: str) -> None:
    records = random_records(3000, seed=31)
    rows = [to_row(r) for r in records]
    # Two ingesters, their inputs overlapping by a third, each committing small batches at once.
    halves = (rows[:2000], rows[1000:])
    results: list[tuple[int, int]] = []
    start = threading.Barrier(2)

    def ingest(part: list) -> None:
        with Store.open(pg_url) as store:
            start.wait(timeout=30)
            for i in range(0, len(part), 250):
                results.append(store.predictions.append(part[i:i + 250]))

    with Store.open(pg_url):
        pass  # migrate once before the race
    threads = [threading.Thread(target=ingest, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(a for a, _ in results) == 3000 and sum(d for _, d in results) == 1000
    with Store.open(pg_url) as store:
        assert store.predictions.count() == 3000
        assert store.one("SELECT count(*), count(DISTINCT (model, version, request_id)) FROM predictions") == (3000, 3000)
        assert sum(v.logged_rows for m in store.registry.names() for v in store.registry.versions(m)) == 3000


def test_a_reader_is_not_blocked_by_a_writer_mid_transaction(pg_url: str) -> None:
    records = random_records(200, seed=41)
    with Store.open(pg_url) as writer, Store.open(pg_url, read_only=True) as reader:
        writer.predictions.append([to_row(r) for r in records[:100]])
        searcher = Searcher(reader)
        query = searcher.parse("", now=NOW)
        with writer.write():
            writer.predictions.append([to_row(r) for r in records[100:]])
            reader.run("SET statement_timeout = '2s'")  # a blocked read would fail here, not hang
            assert searcher.count(query, cap=10_000).value == 100  # the committed rows, at once
        assert searcher.count(query, cap=10_000).value == 200


def test_two_operators_race_for_one_model_and_exactly_one_acts(pg_url: str) -> None:
    with Store.open(pg_url):
        pass
    barrier = threading.Barrier(3)
    won: list[str] = []
    lost: list[str] = []

    def operator(name: str) -> None:
        with Store.open(pg_url) as store:
            barrier.wait(timeout=30)
            try:
                lock = store.locks.acquire("model:fraud", holder=name)
            except LockHeld as held:
                lost.append(held.holder.holder)
                tried.wait(timeout=30)
                return
            won.append(name)
            tried.wait(timeout=30)  # the winner holds the lock until every operator has tried
            store.locks.release(lock)

    tried = threading.Barrier(3)
    threads = [threading.Thread(target=operator, args=(f"op{i}@host{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1 and len(lost) == 2
    # A crashed holder's lock goes with its session: nothing to wait out.
    crashed = Store.open(pg_url)
    crashed.locks.acquire("model:churn", holder="gone@host")
    crashed.close()
    with Store.open(pg_url) as store:
        store.locks.release(store.locks.acquire("model:churn", holder="next@host"))


def test_a_reader_console_rolls_back_through_the_audited_doors(team, tmp_path: Path) -> None:
    from app.demo.endpoint import DemoState, start_demo_endpoint

    with Store.open(team["owner"]) as owner:
        owner.registry.upsert_model(ModelInfo(name="churn", created_at=1))
        for i, name in enumerate(("v1", "v2")):
            owner.registry.upsert_version(Version(model="churn", version=name, created_at=10 + i))
        owner.registry.set_stage("churn", "v2", Stage.champion)
    with start_demo_endpoint(state=DemoState.synthetic(["churn"])) as endpoint:
        config = tmp_path / "modeldeck.toml"
        config.write_text(f'[models.churn.endpoint]\nkind = "http"\nurl = "{endpoint.model_url("churn")}"\n')
        result = _cli("--db", team["reader"], "--config", str(config), "rollback", "churn", "--to", "v1",
                      "--reason", "regression", "--yes")
        assert result.exit_code == 0, result.output
        assert "rollback churn to v1: succeeded" in result.output
        stopped = _cli("--db", team["reader"], "--config", str(config), "disable", "churn", "--reason", "bad",
                       "--yes")
        assert stopped.exit_code == 0, stopped.output
    with Store.open(team["reader"]) as reader:
        assert [e.outcome for e in reversed(reader.audit.entries("churn"))] == ["intent", "succeeded"] * 2
        assert reader.registry.active_version("churn").version == "v1"
        assert reader.locks.holder("model:churn") is None
        # The door records only what an audited action did: no champion by hand.
        with pytest.raises(StoreError, match="no audited rollback"):
            reader.registry.set_stage("churn", "v2", Stage.champion)


def test_migrate_store_copies_resumes_and_compares(pg_url: str, store_path: Path) -> None:
    from app.store.pg.migrate import migrate

    records = random_records(700, seed=51)
    with Store.open(store_path) as sqlite:
        sqlite.registry.upsert_model(ModelInfo(name="fraud", description="scores", created_at=1))
        sqlite.registry.upsert_version(Version(model="fraud", version="v1", created_at=5, card={"use": "<b>x"}))
        sqlite.predictions.append([to_row(r) for r in records])
        sqlite.registry.set_stage("fraud", "v1", Stage.champion)
        for i in range(5):
            sqlite.audit.append("rollback", "fraud", detail={"to": "v1"}, outcome="succeeded", actor=f"op{i}", ts=100 + i)
        # Readiness and monitoring tables come along too (not only the log and the audit).
        sqlite.checklist.put(CheckItem(model="fraud", version="v1", area="serving", status=CheckStatus.waived,
                                       evidence="batch only", updated_by="mei", updated_at=7, expires_at=99))
        sqlite.checklist.add_signoff(SignOff(model="fraud", version="v1", role="product", signed_by="pat",
                                             signed_at=8, note="PRD-1", expires_at=98))
        sqlite.checklist.add_review(Review(model="fraud", kind="health", reviewed_by="ana", reviewed_at=9, note="ok"))
        sqlite.metrics.add_many([("fraud", 10 + i, "p99_ms", float(i)) for i in range(4)])
    with Store.open(store_path, read_only=True) as source, Store.open(pg_url) as target:
        first = migrate(source, target, source_name="s", chunk=200, stop_after_chunks=2)  # stopped halfway
        assert first.copied["predictions"] == 400 and not first.counts
    result = _cli("migrate-store", str(store_path), pg_url)  # resumes; the first 400 are not read again
    assert result.exit_code == 0, result.output
    assert "copied 300 predictions" in result.output  # only what the stopped run had not copied
    assert re.search(r"^predictions +700 in ", result.output, re.M) and "DIFFERENT" not in result.output
    assert re.search(r"sample: [1-9]\d* rows compared, 0 different", result.output), result.output
    for table, n in (("checklist", 1), ("signoffs", 1), ("reviews", 1), ("metric_samples", 4)):
        assert re.search(rf"{table} +{n} in .* +{n} in ", result.output), result.output
    with Store.open(pg_url) as target:
        assert [e.actor for e in reversed(target.audit.entries("fraud"))] == [f"op{i}" for i in range(5)]
        assert target.registry.active_version("fraud").card == {"use": "<b>x"}
        with Store.open(store_path, read_only=True) as source:
            assert target.checklist.items("fraud", "v1") == source.checklist.items("fraud", "v1") != []
            assert target.checklist.signoffs("fraud") == source.checklist.signoffs("fraud") != []
            assert target.checklist.last_reviews() == source.checklist.last_reviews() != {}
            assert target.metrics.latest("fraud") == source.metrics.latest("fraud") != {}
        assert sum(v.logged_rows for v in target.registry.versions("fraud")) == \
            sum(r["model"] == "fraud" for r in records)
        # The SQLite store holds coded JSON keys (new stores do); PostgreSQL gets the real names, and searches
        # by them find what the records say.
        with Store.open(store_path, read_only=True) as source:
            assert '"country"' not in source.conn.execute("SELECT group_concat(features) FROM predictions").fetchone()[0]
        sample = records[:50]
        for r in sample:
            copied = target.predictions.by_request(r["model"], r["version"], r["request_id"])
            for column in ("features", "context"):
                value = copied[column]  # jsonb: a dict (text when read as text)
                assert (orjson.loads(value) if isinstance(value, str) else value) == r.get(column), r["request_id"]
        assert Searcher(target).count(parse("features.country=DE")).value == \
            sum((r.get("features") or {}).get("country") == "DE" for r in records) > 0
    again = _cli("migrate-store", str(store_path), pg_url)  # nothing left: idempotent
    assert again.exit_code == 0 and "copied 0 predictions" in again.output and "copied 0 audit" in again.output


def test_db_init_indexes_the_configured_features_and_search_uses_them(pg_url: str, tmp_path: Path) -> None:
    from tests.support.search_records import brute_force

    config = tmp_path / "modeldeck.toml"
    config.write_text('[search]\nindexed_features = ["amount"]\n')
    result = _cli("--db", pg_url, "--config", str(config), "db", "init", "--writer", "w_feat", "--reader", "r_feat")
    assert result.exit_code == 0 and "indexed features amount" in result.output, result.output
    records = random_records(2000, seed=61)
    with Store.open(pg_url) as store:
        store.predictions.append([to_row(r) for r in records])
        store.run("ANALYZE predictions")
        searcher = Searcher(store)
        for text in ("features.amount>1900", "features.amount=1234", "features.amount<n/a"):
            query = searcher.parse(text, now=NOW)
            sql, params = searcher.page_sql(query)
            with store.write():
                store.run("SET LOCAL enable_seqscan = off")  # tiny tables: make the planner show its index
                plan = "\n".join(r[0] for r in store.rows("EXPLAIN " + sql, (*params, 50)))
            assert "case_ts_idx" in plan, plan  # the partitions' copies of the feature index
            got = {row["request_id"] for row in searcher.iter_rows(query)}
            assert got == {records[i]["request_id"] for i in brute_force(records, list(range(len(records))), query)}


def test_the_console_on_an_unreachable_server_says_so_in_one_line(tmp_path: Path) -> None:
    result = _cli("--db", "postgresql://ops@127.0.0.1:1/modeldeck")
    assert result.exit_code == 2
    assert result.output.startswith("modeldeck: error: postgresql://ops@127.0.0.1:1/modeldeck: cannot reach the "
                                    "database"), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not Path("postgresql:").exists()  # no stray SQLite file made of the address


def test_watch_once_follows_the_logs_and_judges_the_rules_on_the_writer_role(team, tmp_path: Path) -> None:
    """`modeldeck watch --once` as the writer role db init made: the followed file's rows and offset, the
    alert rule's verdict, the next pass reading only what is new."""
    from app.timeutil import now_ms

    now = now_ms()
    log = tmp_path / "router.jsonl"
    log.write_bytes(b"".join(orjson.dumps({"ts": now - 60_000 + i, "model": "router", "version": "r7",
                                           "request_id": f"q{i}", "status": "error" if i % 2 else "ok"}) + b"\n"
                             for i in range(40)))
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[watch]\nfollow = ["{log}"]\n[[models.router.alerts]]\nmetric = "error_rate"\n'
                      'threshold = 0.2\nwindow = "1h"\nseverity = "critical"\n')
    first = _cli("--db", team["writer"], "--config", str(config), "watch", "--once")
    assert first.exit_code == 0, first.output
    with Store.open(team["owner"]) as store:
        assert store.one("SELECT count(*) FROM predictions")[0] == 40
        assert [a.rule for a in store.alerts.firing("router")] == ["error_rate"]
        assert store.offsets.get(str(log)).offset == log.stat().st_size
    again = _cli("--db", team["writer"], "--config", str(config), "watch", "--once")  # nothing new: nothing doubled
    assert again.exit_code == 0, again.output
    with Store.open(team["owner"]) as store:
        assert store.one("SELECT count(*) FROM predictions")[0] == 40
        assert len(store.alerts.firing("router")) == 1


def test_a_page_planned_once_finds_rows_in_day_partitions_made_after_its_plan(pg_url: str) -> None:
    """Pages of id/model/time queries run one generic plan per connection: ingest making new day partitions
    afterwards must not hide their rows (the server replans), and the plan setting stays with the page."""
    records = random_records(400, seed=41)
    later = [{**r, "request_id": f"{r['request_id']}-later", "ts": r["ts"] + 3 * SPAN_MS}
             for r in random_records(400, seed=42)]
    with Store.open(pg_url) as store:
        store.predictions.append([to_row(r) for r in records])
        searcher = Searcher(store)
        queries = {text: searcher.parse(text, now=NOW + 4 * SPAN_MS)
                   for text in ("model:fraud", "entity:cust-3", "model:fraud version:v2 since:60d")}
        for _ in range(7):  # past the server's five custom plans, were it choosing
            for query in queries.values():
                searcher.page(query, limit=20)
        store.predictions.append([to_row(r) for r in later])  # new day partitions
        both = records + later
        for text, query in queries.items():
            newest = sorted((r for r in both if _matches(r, text)), key=lambda r: r["ts"], reverse=True)[:20]
            got = searcher.page(query, limit=20).rows
            assert [row["ts"] for row in got] == [r["ts"] for r in newest], text
            assert got[0]["request_id"].endswith("-later"), text
        assert store.one("SHOW plan_cache_mode") == ("auto",)  # free text is still planned for its words


def _matches(record: dict, text: str) -> bool:
    if text.startswith("entity:"):
        return record["entity_id"] == "cust-3"
    return record["model"] == "fraud" and ("version:" not in text or record["version"] == "v2")


def test_a_reader_console_acknowledges_a_firing_alert_through_its_door(team) -> None:
    """The first thing an operator does in an incident is acknowledge the page, from a console, which connects as
    the reader: that goes through deck_alert_acknowledge (audited), and nothing else in alerts is writable."""
    from app.alerts.rules import acknowledge_model
    from app.models import Alert

    with Store.open(team["writer"]) as writer:
        with writer.write():
            alert_id = writer.alerts.add(Alert(rule="error_rate", model="fraud", severity="critical",
                                               value=0.3, threshold=0.05, fired_at=1_000))
    with Store.open(team["reader"]) as reader:
        done = acknowledge_model(reader, "fraud", "alice@bastion", now=2_000)
        assert [a.id for a in done] == [alert_id]
        assert acknowledge_model(reader, "fraud", "bob@bastion", now=3_000) == []  # already acknowledged
        with pytest.raises(StoreReadOnly, match="use the writer role"):
            reader.run("UPDATE alerts SET state = 'resolved'")
        with pytest.raises(StoreError, match="no firing unacknowledged alert"):
            reader.alerts.acknowledge(alert_id, "mallory", 4_000)  # the door marks only what is unacknowledged
    with Store.open(team["owner"]) as owner:
        (firing,) = owner.alerts.firing("fraud")
        assert (firing.acked_by, firing.acked_at, firing.state) == ("alice@bastion", 2_000, "firing")
        (entry,) = [e for e in owner.audit.entries("fraud") if e.action == "alert.acknowledge"]
        assert entry.actor == "alice@bastion" and entry.detail["alert_id"] == alert_id


def test_an_older_schema_is_upgraded_by_the_owner_and_named_to_the_others(team) -> None:
    with Store.open(team["owner"]) as owner:
        owner.run("UPDATE schema_version SET version = version - 1")
    for role in ("reader", "writer"):
        with pytest.raises(StoreError, match="upgrade it once with `modeldeck db init` as the database owner"):
            Store.open(team[role]).close()
    Store.open(team["owner"]).close()  # the owner's open upgrades it
    Store.open(team["reader"]).close()
