"""The store contract: one set of tests, run on SQLite and on a real PostgreSQL (``any_store``).

What a command or screen relies on from the catalogue, the prediction log, search, the audit trail,
the action locks and the quarantine must hold the same on both backends.
"""

from __future__ import annotations

import pytest

from app.models import ModelInfo, QuarantinedLine, Stage, Version
from app.search.searcher import Searcher, UnknownName
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


def test_the_last_timed_switch_is_read_alike_and_says_whether_a_drill_made_it(any_store) -> None:
    store = any_store
    assert store.audit.last_timed_switch("fraud") is None
    # A drill's two steps land in the same millisecond as its own entry: the answer comes from the row.
    for to, reason in (("v1", "drill: away"), ("v2", "drill: back")):
        store.audit.append("rollback", "fraud", detail={"to": to, "elapsed_ms": 1200, "reason": reason},
                           outcome="succeeded", ts=5_000)
    store.audit.append("drill", "fraud", detail={"switch_ms": 1200}, outcome="succeeded", ts=5_000)
    store.audit.append("promote", "fraud", detail={"to": "v3"}, outcome="succeeded", ts=6_000)  # not timed
    switch = store.audit.last_timed_switch("fraud")
    assert switch is not None and (switch.ts, switch.action, switch.elapsed_ms, switch.drill) == (
        5_000, "rollback", 1200, True)
    store.audit.append("rollback", "fraud", detail={"to": "v2", "elapsed_ms": 900.5, "reason": "incident"},
                       outcome="succeeded", ts=7_000)
    switch = store.audit.last_timed_switch("fraud")
    assert switch is not None and (switch.elapsed_ms, switch.drill) == (900, False)
    # Found however many untimed switches came after it (the trail is read back page by page).
    for i in range(120):
        store.audit.append("promote", "fraud", detail={"to": f"v{i}"}, outcome="succeeded", ts=8_000 + i)
    switch = store.audit.last_timed_switch("fraud")
    assert switch is not None and (switch.ts, switch.elapsed_ms) == (7_000, 900)


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


def test_drift_results_marks_and_runs(any_store) -> None:
    from app.models import DriftPoint
    from app.store.drift_table import DriftMark

    store = any_store
    hour = 3_600_000

    def point(start: int, feature: str, drifted: bool, n: int = 50) -> DriftPoint:
        return DriftPoint(model="fraud", version="v1", feature=feature, window_start=start, window_end=start + hour,
                          n_reference=100, n_current=n, method="psi", value=0.3 if drifted else 0.01,
                          threshold=0.1, drifted=drifted, psi=None)

    assert not store.drift.any_computed()
    # windows 0..4 of 'amount': drifting at 1, 2 (3 too few rows: neither breaks nor extends), 4
    store.drift.put_many([point(0, "amount", False), point(hour, "amount", True), point(2 * hour, "amount", True),
                          point(3 * hour, "amount", False, n=2), point(4 * hour, "amount", True),
                          point(4 * hour, "country", False)])
    store.drift.put_many([point(0, "amount", True)])  # recomputed: replaced, not doubled
    assert store.drift.any_computed()
    assert [(p.feature, p.drifted) for p in sorted(store.drift.latest_window("fraud"), key=lambda p: p.feature)] == \
        [("amount", True), ("country", False)]
    assert [p.window_start for p in store.drift.series("fraud", "amount")] == [0, hour, 2 * hour, 3 * hour, 4 * hour]
    assert store.drift.series("fraud", "amount")[0].drifted is True
    assert [p.window_start for p in store.drift.stored("fraud", hour, hour, 3 * hour)] == [hour, 2 * hour]
    assert store.drift.newest_start("fraud") == 4 * hour and store.drift.newest_start("nope") is None
    assert store.drift.latest_start_with_rows("fraud", hour, 10, until=4 * hour) == 2 * hour
    assert store.drift.computed_windows("fraud", since=3 * hour) == {(3 * hour, 4 * hour), (4 * hour, 5 * hour)}
    assert store.drift.run_of("fraud", "amount", hour, 10, 4 * hour) == (0, 4)  # window 0 drifts since recomputed
    assert store.drift.run_of("fraud", "country", hour, 10, 4 * hour) == (None, 0)

    mark = DriftMark(covered_from=0, closed_until=5 * hour, last_id=42, baselines="v1")
    store.drift.set_mark("fraud", hour, mark)
    store.drift.set_mark("fraud", hour, mark._replace(last_id=43))
    assert store.drift.mark("fraud", hour) == mark._replace(last_id=43)
    with store.write():
        assert store.drift.invalidate("fraud", 2 * hour + 5, 2 * hour + 10) == 1  # late rows reopen window 2
    assert store.drift.mark("fraud", hour) is None  # ... and the next pass plans again
    assert [p.window_start for p in store.drift.series("fraud", "amount")] == [0, hour, 3 * hour, 4 * hour]


def test_baselines_round_trip_with_the_reference_sample(any_store) -> None:
    from app.models import FeatureBaseline

    store = any_store
    numeric = FeatureBaseline(model="fraud", version="v1", feature="amount", kind="numeric", n=3, mean=2.0, std=0.8,
                              edges=[0.5, 1.5, 2.5], counts=[1, 2], sample=[1.0, 2.0, 3.0], created_at=7)
    categorical = FeatureBaseline(model="fraud", version="v1", feature="country", kind="categorical", n=3,
                                  categories={"DE": 2, "<b>": 1}, created_at=7)
    store.baselines.put(numeric)
    store.baselines.put(categorical)
    store.baselines.put(numeric.model_copy(update={"n": 4, "sample": [1.0, 2.0, 3.0, 4.5]}))  # replaced
    assert store.baselines.for_version("fraud", "v1") == [numeric.model_copy(update={"n": 4,
                                                                                      "sample": [1.0, 2.0, 3.0, 4.5]}),
                                                          categorical]
    assert store.baselines.for_version("fraud", "v1", with_sample=False)[0].sample is None
    assert store.baselines.models() == ["fraud"] and store.baselines.versions_with_baselines("fraud") == ["v1"]


def _logged(store, n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """``n`` random records appended to the log: (all of them, those of the model 'fraud')."""
    records = random_records(n, seed=seed)
    store.predictions.append([to_row(r) for r in records])
    return records, [r for r in records if r["model"] == "fraud"]


def test_the_busiest_hour_of_a_version_in_any_window(any_store) -> None:
    """The readiness check's peak hour (read through the zone map on SQLite, by grouping rows otherwise)
    equals counting the records by hand, for windows that cut hours in half and versions of every share."""
    import random

    store = any_store
    _records, fraud = _logged(store, 600, 13)
    rng = random.Random(5)
    for _ in range(40):
        since = rng.randrange(BASE_MS - 3_600_000, NOW)
        until = rng.randrange(since + 1, NOW + 3_600_000)
        for version in sorted({r["version"] for r in fraud}) + ["v-none"]:
            hours: dict[int, int] = {}
            for r in fraud:
                if r["version"] == version and since <= r["ts"] < until:
                    hours[r["ts"] // 3_600_000] = hours.get(r["ts"] // 3_600_000, 0) + 1
            got = store.serving.peak_hour("fraud", version, since, until)
            if not hours:
                assert got is None
                continue
            hour, requests = max(hours.items(), key=lambda kv: (kv[1], kv[0]))
            assert got is not None and (got[0], got[1]) == (hour * 3_600_000, requests), (version, since, until)


def test_window_reads_of_the_log(any_store) -> None:
    from app.store.windows import FeatureRead

    store = any_store
    records, fraud = _logged(store, 400, 11)
    day = 86_400_000
    expected: dict[tuple[int, str], int] = {}
    for r in fraud:
        key = (r["ts"] - r["ts"] % day, r["version"])
        expected[key] = expected.get(key, 0) + 1
    got = store.windows.versions_per_window("fraud", day, BASE_MS - day, NOW + day)
    assert {(start, version): count for start, version, count in got} == expected
    assert store.windows.rows_in("fraud", BASE_MS - day, NOW + day) == len(fraud)
    assert store.windows.last_id() > 0
    # Nothing in flight: every id is settled (drift's mark may move to the newest).
    assert store.windows.newest_and_settled_ids() == (store.windows.last_id(), store.windows.last_id())
    assert set(store.windows.windows_with_rows_after("fraud", day, 0, BASE_MS - day, NOW + day)) == \
        {start for start, _ in expected}
    assert store.windows.windows_with_rows_after("fraud", day, store.windows.last_id(), 0, NOW + day) == []
    # A window's rows in ts order, features as JSON text.
    rows = list(store.windows.window_rows("fraud", BASE_MS - day, NOW + day, chunk=7))
    assert [r[0] for r in rows] == sorted(r["ts"] for r in fraud)
    import orjson

    def canonical(pair):
        return orjson.dumps(pair, option=orjson.OPT_SORT_KEYS)

    assert sorted(canonical((r[0], orjson.loads(r[4]) if r[4] else None)) for r in rows) == \
        sorted(canonical((r["ts"], r["features"])) for r in fraud)
    # A version's feature values: numbers as numbers, JSON members as JSON, score else prediction.
    v1 = [r for r in fraud if r["version"] == "v1"]
    values = store.windows.feature_values("fraud", "v1", BASE_MS - day, NOW + day,
                                          [FeatureRead("number", "amount"), FeatureRead("json", "flag"),
                                           FeatureRead("score_or_prediction"), FeatureRead("number", "a.b")])

    def as_json(value):
        return None if value is None else orjson.loads(value)

    assert sorted(((v[0] if not isinstance(v[0], str) else v[0], as_json(v[1]), v[2], v[3]) for v in values),
                  key=repr) == sorted((((r["features"] or {}).get("amount"), (r["features"] or {}).get("flag"),
                                        r["score"] if r["score"] is not None else r["prediction"],
                                        (r["features"] or {}).get("a.b")) for r in v1), key=repr)


def test_alerts_pending_and_deliveries(any_store) -> None:
    from app.models import Alert

    store = any_store
    first = store.alerts.add(Alert(rule="drift", model="fraud", fired_at=10, value=0.3, threshold=0.1))
    second = store.alerts.add(Alert(rule="errors", model="churn", fired_at=20))
    assert second != first
    assert [a.id for a in store.alerts.firing()] == [second, first]
    assert store.alerts.pending_since("fraud", "drift", 5) == 5
    assert store.alerts.pending_since("fraud", "drift", 9) == 5  # the clock is not restarted
    store.alerts.clear_pending("fraud", "drift")
    assert store.alerts.pending_since("fraud", "drift", 9) == 9
    store.alerts.resolve(first, 30)
    store.alerts.acknowledge(second, "ana", 25)
    assert [a.id for a in store.alerts.firing()] == [second] and store.alerts.firing()[0].acked_by == "ana"
    assert [a.id for a in store.alerts.firing_at(15)] == [first]
    assert store.alerts.last_fired("fraud", "drift") == 10 and store.alerts.last_fired("fraud", "x") is None
    assert [a.id for a in store.alerts.resolved_since(30)] == [first]
    assert [a.id for a in store.alerts.recent()] == [second, first]
    assert set(store.alerts.by_ids([first, second])) == {first, second}

    assert store.deliveries.enqueue(first, "fraud", "am", "firing", 40)
    assert not store.deliveries.enqueue(first, "fraud", "am", "firing", 41)  # once per (alert, target, event)
    assert store.deliveries.enqueue(second, "churn", "am", "firing", 40)
    due = store.deliveries.due(40, 10)
    assert [d.alert_id for d in due] == [first, second] and store.deliveries.outstanding() == 2
    store.deliveries.mark_sending(due[0].id, 41)
    store.deliveries.mark_delivered(due[0].id, 42)
    assert store.deliveries.resolved_owed() == [(first, "fraud", "am")]
    assert store.deliveries.drop_oldest_beyond(0, "queue full") == 1
    assert store.deliveries.failures() == {"am": 1} and store.deliveries.delivered() == {"am": 1}
    assert store.deliveries.known() == {(first, "am", "firing"), (second, "am", "firing")}
    assert [d.id for d in store.deliveries.to_refresh("am", 100)] == [due[0].id]
    store.deliveries.mark_refreshed(due[0].id, 100)
    assert store.deliveries.to_refresh("am", 100) == []
    assert store.deliveries.recent("fraud")[0].status == "delivered"


def test_sync_facts_offer_only_where_nothing_local(any_store) -> None:
    store = any_store
    store.syncs.put_version("fraud", "v1", created_at=1, remote={"stage": "Production"}, source="mlflow", at=5)
    assert store.syncs.remote("fraud") == {"v1": ({"stage": "Production"}, "mlflow", 5)}
    assert store.syncs.offer_card("fraud", "v1", {"purpose": "scores"}, source="mlflow", at=6)
    assert not store.syncs.offer_card("fraud", "v1", {"purpose": "scores"}, source="mlflow", at=7)  # unchanged
    store.registry.set_card("fraud", "v1", {"purpose": "mine"}, source="local", by="ana", at=8)
    assert not store.syncs.offer_card("fraud", "v1", {"purpose": "theirs"}, source="mlflow", at=9)  # local stays
    assert store.syncs.offer_metrics("fraud", "v1", {"auc": 0.9}, source="mlflow", at=6)
    assert not store.syncs.offer_metrics("fraud", "v1", {"auc": 0.9}, source="mlflow", at=7)
    assert store.registry.versions("fraud")[0].card == {"purpose": "mine"}
    store.syncs.mark("fraud", "mlflow", at=10, error=None)
    store.syncs.mark("fraud", "mlflow", at=20, error="down")
    state = store.syncs.states("fraud")[0]
    assert (state.attempted_at, state.synced_at, state.error) == (20, 10, "down")


def test_serving_reads_of_the_log(any_store) -> None:
    store = any_store
    records, fraud = _logged(store, 300, 12)
    counts = store.serving.logging_counts("fraud", BASE_MS, NOW)
    assert counts == (len(fraud), sum(1 for r in fraud if r["features"]), sum(1 for r in fraud if r["entity_id"]),
                      len(fraud))
    v2 = [r for r in fraud if r["version"] == "v2"]
    hours: dict[int, int] = {}
    for r in v2:
        hours[r["ts"] // 3_600_000] = hours.get(r["ts"] // 3_600_000, 0) + 1
    busiest = max(hours.items(), key=lambda kv: (kv[1], kv[0]))
    start, requests, _p95 = store.serving.peak_hour("fraud", "v2", BASE_MS, NOW)
    assert (start, requests) == (busiest[0] * 3_600_000, busiest[1])
    assert store.serving.oldest_ts("fraud") == min(r["ts"] for r in fraud)
    assert store.serving.newest_ts("fraud", "v2") == max(r["ts"] for r in v2)
    assert store.serving.newest_ts_until("fraud", NOW) == max(r["ts"] for r in fraud)
    assert len(list(store.serving.version_rows("fraud", "v2", BASE_MS, NOW))) == len(v2)
    recent = store.serving.recent_features("fraud", "v2", scan=1000, sample=5)
    assert len(recent) == min(5, len(v2))


def test_log_aggregates_for_the_fleet_and_the_rules(any_store) -> None:
    store = any_store
    records, fraud = _logged(store, 400, 13)
    stats = store.predictions.window_stats("fraud", BASE_MS, NOW)
    assert (stats.requests, stats.errors) == (len(fraud), sum(1 for r in fraud if r["status"] == "error"))
    from app.store.log_aggregates import percentile

    assert stats.p95_latency_ms == percentile([r["latency_ms"] for r in fraud if r["latency_ms"] is not None], 95)
    per_version = store.predictions.version_stats("fraud", BASE_MS, NOW)
    assert {v: s.requests for v, s in per_version.items()} == \
        {v: sum(1 for r in fraud if r["version"] == v) for v in {r["version"] for r in fraud}}
    labelled = [r for r in fraud if r["label"] is not None and r["status"] == "ok"]
    count, equal, gap = store.predictions.label_stats("fraud", BASE_MS, NOW)
    numeric = [abs(r["prediction"] - r["label"]) for r in labelled
               if isinstance(r["prediction"], (int, float)) and isinstance(r["label"], (int, float))]
    assert (count, equal) == (len(labelled), sum(1 for r in labelled if r["prediction"] == r["label"]))
    assert gap == pytest.approx(sum(numeric) / len(numeric))
    newest = max(fraud, key=lambda r: r["ts"])
    assert store.predictions.latest_version("fraud") in {r["version"] for r in fraud if r["ts"] == newest["ts"]}
    day = 86_400_000
    buckets = store.predictions.traffic("fraud", BASE_MS, NOW, day)
    assert len(buckets) == 10 and sum(b.requests for b in buckets) == len(fraud)
    assert [b.requests for b in buckets] == [sum(1 for r in fraud if BASE_MS + i * day <= r["ts"] < BASE_MS + (i + 1) * day)
                                             for i in range(10)]
    newest_keys = set().union(*[(r["features"] or {}).keys() for r in records[-50:]])
    assert store.predictions.recent_keys("features", 50) == sorted(newest_keys)


# --- zone maps: both backends keep per (model, hour) summaries at ingest and search skips blocks by them ---

ZONED = ["score>=0.9999", "latency_ms>8000 model:fraud", "status:error since:3d", "features.amount>200000",
         "features.amount>=250000 -status:error", "score<0.01 (model:fraud OR model:eta)", "features.flag>0",
         "features.amount<0"]


def _index_features(store, names: list[str]) -> None:
    # How each backend is told to index and summarise [search] indexed_features: `ingest` on SQLite, the
    # owner's `db init` on PostgreSQL.
    if store.kind == "postgresql":
        from app.store.pg.search import ensure_feature_indexes
    else:
        from app.store.search import ensure_feature_indexes
    ensure_feature_indexes(store, names)


@pytest.fixture
def zoned(any_store):
    """Records with a few far-out values (rare score, latency, amount), appended in three batches: ``amount``
    summarised from the first row, ``flag`` summarised after the rows are in (backfilled)."""
    records = random_records(1500, seed=11)
    for i in range(0, len(records), 307):
        records[i].update(score=0.9999, latency_ms=9000.0)
        if records[i].get("features"):
            records[i]["features"]["amount"] = 250_000
    rows = [to_row(r) for r in records]
    _index_features(any_store, ["amount"])
    for part in (rows[:600], rows[600:1100], rows[1100:]):
        any_store.predictions.append(part)
    any_store.predictions.append(rows[:50])  # duplicates add nothing to the summaries either
    _index_features(any_store, ["amount", "flag"])
    return any_store, records


@pytest.mark.parametrize("text", ZONED)
def test_search_skips_blocks_and_answers_as_a_full_read(zoned, text: str) -> None:
    store, records = zoned
    searcher = Searcher(store)
    query = searcher.parse(text, now=NOW)
    answers = []
    for zones in (True, False):
        searcher._search.use_zones = zones
        searcher._search.zone_share = 1.0  # prune whenever a term allows it
        got, after = [], None
        while True:
            page = searcher.page(query, after=after, limit=7)
            got += [row["request_id"] for row in page.rows]
            if not page.has_older:
                break
            after = page.last
        answers.append(got)
    assert answers[0] == answers[1]
    assert set(answers[0]) == {records[i]["request_id"] for i in brute_force(records, list(range(len(records))), query)}
    searcher._search.use_zones = True
    assert searcher._search.zone_plan(query) is not None, "a prunable term prunes on both backends"


def test_a_rare_value_reads_only_the_blocks_that_may_hold_it_on_both_backends(zoned) -> None:
    store, records = zoned
    search = Searcher(store)._search
    plan = search.zone_plan(parse_at("score>=0.9999"))
    assert plan is not None and plan.scope_rows == len(records)
    assert 0 < plan.candidate_rows < len(records) // 10  # a handful of hour blocks, not the log
    assert search.zone_plan(parse_at("features.amount>99999999")).slices == []  # type: ignore[union-attr]
    assert search.zone_plan(parse_at("request:r-42 score>=0.9999")) is None  # an id seek needs no map


def test_rows_written_around_the_upkeep_turn_pruning_off(zoned) -> None:
    """A row that reached the log without its summary must not be hidden by one: search reads in full."""
    store, _ = zoned
    if store.kind == "postgresql":  # a path that tallies the catalogue but not the zone map (a bulk copy, say)
        store.run("UPDATE versions SET logged_rows = logged_rows + 1 WHERE ctid = (SELECT min(ctid) FROM versions)")
    else:
        store.conn.execute("INSERT INTO predictions (ts, model, version, request_id, status) "
                           "VALUES (?, 'fraud', 'v1', 'unsummarised', 'ok')", (NOW - 1,))
    assert Searcher(store)._search.zone_plan(parse_at("score>=0.9999")) is None


def test_errors_logged_after_a_refusal_to_prune_are_on_the_next_first_page(any_store) -> None:
    """``model:M status:error`` of a model with errors in most hours reads the log unpruned (PostgreSQL
    remembers the zone map's refusal between pages, under the catalogue's mark): an error logged after it is on
    the next first page, both while pruning still does not pay and once it does (a long quiet stretch after)."""
    store = any_store
    records = random_records(600, seed=71)  # 15 % errors, over most hours of ten days
    store.predictions.append([to_row(r) for r in records])
    searcher = Searcher(store)
    query = searcher.resolve(searcher.parse("model:fraud status:error", now=NOW)).query
    assert searcher._search.zone_plan(query) is None, "errors in most hours: pruning would not pay"

    def every_page() -> list[str]:
        got, after = [], None
        while True:
            page = searcher.page(query, after=after, limit=7)
            got += [row["request_id"] for row in page.rows]
            if not page.has_older:
                return got
            after = page.last

    def expected() -> list[str]:
        return [records[i]["request_id"] for i in brute_force(records, list(range(len(records))), query)]

    assert every_page() == expected() and every_page() == expected()  # the second from the remembered refusal
    late = {**records[0], "ts": NOW + 3_600_000, "model": "fraud", "status": "error", "request_id": "late-1"}
    records.append(late)
    store.predictions.append([to_row(late)])
    assert searcher.page(query, limit=7).rows[0]["request_id"] == "late-1"
    assert searcher._search.zone_plan(query) is None
    # Forty quiet hours (ok rows only), then one more error: now the blocks with errors are a small share.
    quiet = [{**records[1], "ts": NOW + (2 + h) * 3_600_000 + k * 60_000, "model": "fraud", "status": "ok",
              "error": None, "request_id": f"quiet-{h}-{k}"} for h in range(40) for k in range(25)]
    later = {**late, "ts": NOW + 43 * 3_600_000, "request_id": "late-2"}
    records += [*quiet, later]
    store.predictions.append([to_row(r) for r in [*quiet, later]])
    assert searcher._search.zone_plan(query) is not None, "the quiet stretch makes pruning pay"
    assert [row["request_id"] for row in searcher.page(query, limit=2).rows] == ["late-2", "late-1"]
    assert every_page() == expected()


def parse_at(text: str):
    from app.search.searcher import parse

    return parse(text, now=NOW)


@pytest.mark.parametrize("text", ["model:fraud", "status:error", "(model:fraud OR model:eta) status:ok",
                                  "model:churn since:3d"])
def test_model_status_histograms_are_counted_exactly_from_the_zone_map(zoned, text: str) -> None:
    store, records = zoned
    searcher = Searcher(store)
    query = searcher.parse(text, now=NOW)
    histogram = searcher.histogram(query, BASE_MS, NOW, buckets=24, cap=30)
    assert not histogram.capped  # exact though the cap is far below the matches: counted from the blocks
    assert histogram.width % 3_600_000 == 0  # whole-hour bars
    expected = [0] * len(histogram.counts)
    for i in brute_force(records, list(range(len(records))), query):
        expected[(records[i]["ts"] - histogram.start) // histogram.width] += 1
    assert histogram.counts == expected


def test_names_resolve_against_models_logged_after_the_searcher_read_them(any_store) -> None:
    """Resolution keeps the catalogue's names between queries; a model logged since is still found: by its
    full name, by a glob over it, and a prefix it makes ambiguous is said to be ambiguous."""
    store = any_store
    store.predictions.append([to_row(r) for r in random_records(200, seed=61)])
    searcher = Searcher(store)
    assert searcher.resolve(searcher.parse("model:fraud", now=NOW)).query.terms[0].value == "fraud"
    newer = [{**r, "model": "fraudster", "request_id": f"{r['request_id']}-new"} for r in random_records(30, seed=62)]
    store.predictions.append([to_row(r) for r in newer])
    with pytest.raises(UnknownName):  # "frau" meant fraud alone before
        searcher.resolve(searcher.parse("model:frau", now=NOW))
    searcher = Searcher(store)
    searcher.resolve(searcher.parse("model:fraud", now=NOW))
    store.predictions.append([to_row({**r, "model": "fraud-v2"}) for r in newer])
    everything = searcher.resolve(searcher.parse("model:fraud*", now=NOW)).query
    assert {row["model"] for row in searcher.iter_rows(everything)} == {"fraud", "fraudster", "fraud-v2"}
    query = searcher.resolve(searcher.parse("model:fraud-v2", now=NOW)).query
    assert {row["model"] for row in searcher.iter_rows(query)} == {"fraud-v2"}


def test_remembered_log_reads_follow_new_rows_and_retention(any_store, any_store_location: str) -> None:
    """The readiness checklist's log reads are remembered while the log is unchanged (app/store/log_memo.py,
    what keeps an idle fleet free): after new rows, and after a prune, each says what a fresh read says."""
    from app.store import log_memo
    from app.store.quality import feature_timing
    from app.store.retention import delete_before

    store = any_store
    _records, fraud = _logged(store, 400, 21)
    versions = sorted({r["version"] for r in fraud})
    since, until = BASE_MS + 1_234_567, NOW - 7_654  # windows that cut hours

    def reads(store=store) -> list:  # type: ignore[no-untyped-def]
        return [store.serving.logging_counts("fraud", since, until),
                *(store.serving.peak_hour("fraud", v, since, until) for v in versions),
                *(store.serving.recent_features("fraud", v, scan=300, sample=50) for v in versions),
                *(feature_timing(store, "fraud", v, scan=300, sample=50) for v in versions)]

    def fresh() -> list:
        log_memo._memos.clear()  # as a process that never read this store
        with Store.open(any_store_location) as again:
            return reads(again)

    assert store.serving.memo.mark() is not None, "this backend remembers"
    first = reads()
    assert reads() == first == fresh()
    _logged(store, 300, 22)
    # The newest id is a recent row, which the prune keeps: only the oldest rows go.
    store.predictions.append([to_row(dict(fraud[0], ts=NOW - 60_000, request_id="late-one"))])
    grown = reads()
    assert grown == fresh() and grown != first
    with store.write():
        delete_before(store, BASE_MS + SPAN_MS // 2)
    pruned = reads()
    assert pruned == fresh() and pruned != grown
