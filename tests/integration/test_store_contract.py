"""The store contract: one set of tests, run on SQLite and on a real PostgreSQL (``any_store``).

What a command or screen relies on from the catalogue, the prediction log, search, the audit trail,
the action locks and the quarantine must hold the same on both backends.
"""

from __future__ import annotations

import pytest

from app.models import ModelInfo, QuarantinedLine, Stage, Version
from app.search.searcher import Searcher
from app.store import Store, StoreError
from app.store.locks import LockHeld
from app.store.predictions import record_from_row
from tests.support.search_records import BASE_MS, SPAN_MS, brute_force, random_records, to_row

NOW = BASE_MS + SPAN_MS


def _raw(store, sql: str) -> None:
    """Run SQL around the store's API (to prove the database itself refuses it)."""
    if store.kind == "postgresql":
        store.run(sql)
    else:
        store.conn.execute(sql)


def test_catalogue_round_trip(any_store) -> None:
    store = any_store
    store.registry.upsert_model(ModelInfo(name="fraud", description="scores <b>", owner="risk", flags={"pii": True},
                                          created_at=1))
    for i, name in enumerate(["v1", "v2", "v3"]):
        store.registry.upsert_version(Version(model="fraud", version=name, created_at=100 + i, metrics={"auc": 0.9}))
    store.registry.set_stage("fraud", "v1", Stage.champion)
    store.registry.set_stage("fraud", "v3", Stage.champion)  # demotes v1
    assert [v.version for v in store.registry.versions("fraud")] == ["v3", "v2", "v1"]
    assert store.registry.active_version("fraud").version == "v3"
    assert {v.version: v.stage for v in store.registry.versions("fraud")}["v1"] is Stage.archived
    assert store.registry.set_metrics("fraud", "v2", {"f1": 0.5}, source="local", by="me", at=5) == \
        {"auc": 0.9, "f1": 0.5}
    assert store.registry.model("fraud").flags == {"pii": True}
    assert store.registry.names() == ["fraud"] and store.registry.version_names("fraud") == ["v1", "v2", "v3"]
    assert store.registry.model("nope") is None


def test_log_append_skips_duplicates_fills_late_labels_and_tallies_the_catalogue(any_store) -> None:
    store = any_store
    records = random_records(300, seed=5)
    for record in records:
        record["label"] = None
    rows = [to_row(r) for r in records]
    assert store.predictions.append(rows[:200]) == (200, 0)
    # Again, overlapping, with labels for the first ten: 100 new, 100 skipped, labels filled in place.
    late = [row._replace(label="yes") for row in rows[:10]]
    assert store.predictions.append(late + rows[110:300]) == (100, 100)
    models, versions = store.predictions.logged_names()
    assert models == sorted({r["model"] for r in records})
    assert versions["fraud"] == sorted({r["version"] for r in records if r["model"] == "fraud"})
    fraud = {v.version: v for v in store.registry.versions("fraud")}
    for name, version in fraud.items():
        mine = [r for r in records if r["model"] == "fraud" and r["version"] == name]
        assert version.logged_rows == len(mine)
        assert (version.first_seen, version.last_seen) == (min(r["ts"] for r in mine), max(r["ts"] for r in mine))
    searcher = Searcher(store)
    stored = {row["request_id"]: row for row in searcher.iter_rows(searcher.parse("", now=NOW))}
    assert len(stored) == 300
    assert stored["r-0"]["label"] == "yes" and stored["r-150"]["label"] is None
    # A stored row reads back as the record that was ingested (numbers stay numbers, text stays text).
    for record in records[:50]:
        back = record_from_row(store.predictions.get(stored[record["request_id"]]["id"]))
        expected = {k: v for k, v in record.items() if v is not None}
        if record["request_id"] in {r["request_id"] for r in records[:10]}:
            expected["label"] = "yes"
        expected["ts"] = back["ts"]  # ISO text on the way out, the same instant
        assert back == expected


@pytest.fixture
def searchable(any_store):
    records = random_records(1500, seed=11)
    any_store.predictions.append([to_row(r) for r in records])
    return any_store, records


@pytest.mark.parametrize("text", [
    "model:fraud", "-model:fraud", "version:v2 status:error", "entity:cust-3", "-entity:cust-3", "request:r-42",
    "since:3d", "until:5d -status:ok", "alpha", "-alpha", '"alpha beta"', "eu-west", "x.y", "ops@corp",
    "time*", '"note alp*"', "cust-3 timeout", '"country DE"', "score>=0.5", "latency_ms<100", "prediction=yes",
    "prediction=1", "prediction>0", "label:01", "features.amount>1000", "features.zip=01234", 'features.country="eu west"',
    "features.amount<n/a", "context.region:us-east", "(model:fraud OR model:eta) -status:error",
    "model:churn OR alpha", "-(alpha OR beta)", "features.flag=1", "differs:v1",
])
def test_search_gives_the_same_rows_on_both_backends(searchable, text: str) -> None:
    """Every result, paged newest first, equals a Python reading of the language over the records."""
    store, records = searchable
    searcher = Searcher(store)
    query = searcher.parse(text, now=NOW)
    expected = brute_force(records, list(range(len(records))), query) if not text.startswith("differs") else None
    got, after, seen_ts = [], None, []
    while True:
        page = searcher.page(query, after=after, limit=97)
        got += [row["request_id"] for row in page.rows]
        seen_ts += [row["ts"] for row in page.rows]
        if not page.has_older:
            break
        after = page.last
    assert seen_ts == sorted(seen_ts, reverse=True)
    assert len(got) == len(set(got))
    if expected is not None:
        assert set(got) == {records[i]["request_id"] for i in expected}
    else:  # differs:v1: rows of other versions whose request v1 also answered, differently
        assert got == []  # request ids are unique across versions in these records
    count = searcher.count(query, cap=100)
    assert (count.value, count.capped) == (min(len(got), 100), len(got) > 100)


def test_pages_go_back_newer_as_well(searchable) -> None:
    store, _ = searchable
    searcher = Searcher(store)
    query = searcher.parse("model:fraud", now=NOW)
    first = searcher.page(query, limit=40)
    second = searcher.page(query, after=first.last, limit=40)
    assert searcher.page(query, before=second.first, limit=40).rows == first.rows


def test_audit_is_append_only_and_pages_newest_first(any_store) -> None:
    store = any_store
    ids = [store.audit.append("rollback", "fraud", detail={"to": f"v{i}", "token": "x"}, outcome="succeeded",
                              actor="ana@host", ts=1000 + i) for i in range(5)]
    assert ids == sorted(ids)
    entries = store.audit.entries("fraud", limit=3)
    assert [e.detail["to"] for e in entries] == ["v4", "v3", "v2"]
    assert [e.detail["to"] for e in store.audit.entries("fraud", before_id=entries[-1].id)] == ["v1", "v0"]
    assert len(store.audit.succeeded("fraud", ("rollback", "promote"))) == 5
    for sql in ("UPDATE audit SET outcome = 'failed'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"):
            _raw(store, sql)
    assert len(store.audit.entries()) == 5


def test_one_action_lock_per_model_across_connections(any_store, any_store_location: str) -> None:
    store = any_store
    lock = store.locks.acquire("model:fraud", holder="ana@bastion-1")
    with Store.open(any_store_location) as other:  # a second operator, another connection
        with pytest.raises(LockHeld, match="ana@bastion-1"):
            other.locks.acquire("model:fraud", holder="bo@bastion-2")
        assert other.locks.holder("model:fraud").holder == "ana@bastion-1"
        other_lock = other.locks.acquire("model:churn", holder="bo@bastion-2")  # another model: free
        other.locks.release(other_lock)
        store.locks.release(lock)
        assert other.locks.holder("model:fraud") is None
        taken = other.locks.acquire("model:fraud", holder="bo@bastion-2")
        other.locks.release(taken)


def test_quarantine_keeps_each_bad_line_once(any_store) -> None:
    store = any_store
    lines = [QuarantinedLine(ingested_at=5, source="a.jsonl", line_no=i, raw=f"{{bad {i}", error="not JSON")
             for i in range(3)]
    store.quarantine.add_many(lines)
    store.quarantine.add_many(lines)  # the same file ingested again
    assert store.quarantine.count() == 3
    assert [q.line_no for q in store.quarantine.lines("a.jsonl")] == [2, 1, 0]
    store.quarantine.add_many([QuarantinedLine(ingested_at=7, source="/var/log/fraud-1.jsonl", line_no=1, raw="x",
                                               error="bad", model="fraud"),
                               QuarantinedLine(ingested_at=7, source="/var/log/churn[1].jsonl", line_no=1, raw="y",
                                               error="bad")])
    assert store.quarantine.lines("/var/log/fraud-1.jsonl")[0].model == "fraud"
    between = store.quarantine.count_between
    assert between(0, 10) == 5 and between(6, 10) == 2 and between(0, 6) == 3
    assert between(0, 10, model="fraud") == 1
    assert between(0, 10, source_glob="/var/log/*.jsonl") == 2
    assert between(0, 10, source_glob="/var/log/churn[[]1].jsonl") == 1  # a literal bracket, as GLOB reads it
    assert between(0, 10, source_glob="/var/log/fraud-?.jsonl", model="churn") == 1
    assert between(0, 10, source_glob="a.json?") == 3


def test_a_store_error_is_one_line(any_store_location: str) -> None:
    with Store.open(any_store_location) as store:
        store.audit.append("x")
    with Store.open(any_store_location, read_only=True) as reader:
        with pytest.raises(StoreError):
            reader.registry.upsert_model(ModelInfo(name="x"))


def test_both_backends_implement_the_one_interface(any_store) -> None:
    """Every family of app.store.backend, with the same parameter names, on both backends."""
    import inspect

    from app.store.backend import FAMILIES, StoreBackend

    for name, protocol in FAMILIES.items():
        family = getattr(any_store, name)
        assert isinstance(family, protocol), name
        for method in (m for m in vars(protocol) if not m.startswith("_")):
            wanted = list(inspect.signature(getattr(protocol, method)).parameters)[1:]
            assert list(inspect.signature(getattr(family, method)).parameters) == wanted, f"{name}.{method}"
    for method in ("write", "check", "schema_version", "interrupt", "close"):
        assert callable(getattr(any_store, method))
    assert any_store.kind in ("sqlite", "postgresql")
    _typed: StoreBackend = any_store  # what callers annotate with


# --- monitoring families (written once, app/store/dialect.py) -------------------------------------------


def test_follow_offsets_round_trip_and_replace(any_store) -> None:
    from app.store.offsets import IngestOffset

    store = any_store
    assert store.offsets.get("/var/log/a.jsonl") is None
    store.offsets.put(IngestOffset("/var/log/a.jsonl", 1, 2, 100, 3, "10:abc"))
    store.offsets.put(IngestOffset("/var/log/a.jsonl", 1, 2, 250, 7, "10:abc"))  # the same file, read further
    assert store.offsets.get("/var/log/a.jsonl") == IngestOffset("/var/log/a.jsonl", 1, 2, 250, 7, "10:abc")


def test_metric_samples_newest_of_each_name(any_store) -> None:
    store = any_store
    store.metrics.add_many([("fraud", 1, "rps", 1.0), ("fraud", 3, "rps", 3.0), ("fraud", 2, "rps", 2.0),
                            ("fraud", 5, "p95_ms", 40.0), ("churn", 9, "rps", 9.0)])
    assert store.metrics.latest("fraud") == {"rps": (3, 3.0), "p95_ms": (5, 40.0)}
    assert store.metrics.latest("nope") == {}
