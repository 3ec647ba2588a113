"""The compiled SQL against a real store equals a brute-force Python reading of the query."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.search.searcher import Cursor, Searcher, parse
from app.search.language import SearchError
from app.store.search import ensure_feature_indexes, generated_columns
from app.store.search_sql import compile_query, feature_column, select_sql
from app.store import Store
from app.store.bulk import write_all
from app.timeutil import ms_to_iso
from tests.support.search_records import BASE_MS, ENTITIES, MODELS, SPAN_MS, WORDS, brute_force, random_records, to_row

N_RECORDS = 2000
NOW = BASE_MS + SPAN_MS


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("search") / "store.db"
    records = random_records(N_RECORDS)
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
        ids = [r[0] for r in store.conn.execute("SELECT id FROM predictions ORDER BY id")]
    store = Store.open(path)
    yield store, records, ids
    store.close()


# --- random queries ------------------------------------------------------------------------

OPS = st.sampled_from(["=", "!=", ">", ">=", "<", "<=", ":"])
NUMBERS = st.sampled_from(["0", "1", "0.5", "99", "1234", "01234", "500", "1500.5", "-3", "1e3"])
TEXTS = st.sampled_from(["yes", "no", "DE", "abc", "n/a", '"eu west"', '"01"', "eu-west", "US"])
VALUES = st.one_of(NUMBERS, TEXTS)
TIMES = st.integers(0, SPAN_MS).map(lambda offset: ms_to_iso(BASE_MS + offset))

TERMS = st.one_of(
    st.sampled_from(MODELS).map(lambda m: f"model:{m}"),
    st.sampled_from(["v1", "v2", "v3"]).map(lambda v: f"version:{v}"),
    st.sampled_from(ENTITIES[:5]).map(lambda e: f"entity:{e}"),
    st.integers(0, N_RECORDS + 5).map(lambda i: f"request:r-{i}"),
    st.sampled_from(["ok", "error"]).map(lambda s: f"status:{s}"),
    st.tuples(st.sampled_from(["since", "until"]), st.one_of(TIMES, st.sampled_from(["2d", "5d", "30m"])))
      .map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(st.sampled_from(["score", "latency_ms"]), OPS, st.sampled_from(["0.2", "0.5", "100", "1", "0"]))
      .map("".join),
    st.tuples(st.sampled_from(["prediction", "label"]), OPS, VALUES).map("".join),
    st.tuples(st.sampled_from(["features.amount", "features.zip", "features.country", "features.a.b",
                               "features.it's", "features.flag", "features.missing", "context.region"]),
              OPS, st.one_of(VALUES, st.sampled_from(["true", "false"]))).map("".join),
    st.sampled_from([*WORDS, '"alpha beta"', '"reset timeout"', "r-17", '"cust-3"', "eu", "ops@corp"]),
)
QUERIES = st.lists(st.tuples(st.booleans(), TERMS), min_size=1, max_size=3).map(
    lambda ts: " ".join(("-" if neg and i % 2 == 0 else "") + t for i, (neg, t) in enumerate(ts)))


def records_ts(store: Store, row_id: int) -> int:
    return store.conn.execute("SELECT ts FROM predictions WHERE id = ?", (row_id,)).fetchone()[0]


def run_all(store: Store, text: str, plan: str | None = None) -> list[int]:
    query = parse(text, now=NOW)
    if plan is None:
        return [row["id"] for row in Searcher(store).iter_rows(query, page_size=97)]
    # The query as the searcher runs it (a bare word that is an id also finds it through the id's field).
    compiled = compile_query(Searcher(store).routed(query), text_plan=plan)  # type: ignore[arg-type]
    sql = select_sql(("id",), compiled, keyset=None, newest_first=True)
    return [r[0] for r in store.conn.execute(sql, (*compiled.params, 10**9))]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES)
def test_results_equal_brute_force(loaded, text: str) -> None:
    store, records, ids = loaded
    expected = brute_force(records, ids, parse(text, now=NOW))
    assert run_all(store, text) == expected, text
    walker = Searcher(store, drive_up_to=0, walk_chunk=5)  # free text always walked
    assert [row["id"] for row in walker.iter_rows(parse(text, now=NOW), page_size=23)] == expected, text


FIELDS = ["score", "latency_ms", "prediction", "label", "features.amount", "features.zip", "features.country",
          "features.flag", "features.a.b", "features.it's", "features.missing", "context.region", "context.note"]


@pytest.mark.parametrize("field", FIELDS)
def test_every_operator_on_every_comparable_field(loaded, field: str) -> None:
    store, records, ids = loaded
    values = ["0", "0.5", "500"] if field in ("score", "latency_ms") else \
        ["1", "01234", "yes", '"01"', "true"]
    for op in ("=", "!=", ">", ">=", "<", "<="):  # ":" is "=" (see the parser tests)
        for value in values:
            for neg in ("", "-"):
                text = f"{neg}{field}{op}{value}"
                assert run_all(store, text, "drive") == brute_force(records, ids, parse(text, now=NOW)), text


@pytest.mark.parametrize("text", [
    "model:fraud", "-model:fraud", "version:v2", "entity:cust-3", "-entity:cust-3", "entity!=cust-3",
    "request:r-42", "status:error", "-status:error", "status!=ok", "since:2d", "-since:2d", "until:5d",
    f"since:{ms_to_iso(BASE_MS + SPAN_MS // 2)} until:{ms_to_iso(BASE_MS + SPAN_MS // 2 + 86_400_000)}",
    "alpha", "-alpha", '"alpha beta"', '-"alpha beta"', "eu-west", "x.y", "ops@corp", "r-42", "alpha -beta",
    "-alpha -beta", "cust-3 timeout", '"country DE"', '"region eu-west" -"note alpha"',
])
def test_named_queries(loaded, text: str) -> None:
    store, records, ids = loaded
    expected = brute_force(records, ids, parse(text, now=NOW))
    assert expected or text.startswith("request")  # the data exercises the query
    assert run_all(store, text) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.tuples(st.booleans(), st.sampled_from([*WORDS, '"alpha beta"', "r-5"])), min_size=1,
                      max_size=3),
       other=st.sampled_from(["", "model:fraud", "entity:cust-3", "status:error"]))
def test_every_free_text_plan_gives_the_same_rows(loaded, words, other: str) -> None:
    store, records, ids = loaded
    text = " ".join([other] + [("-" if neg else "") + w for neg, w in words]).strip()
    expected = brute_force(records, ids, parse(text, now=NOW))
    for plan in ("drive", "scan", "probe"):
        assert run_all(store, text, plan) == expected, (plan, text)
    # The walk (Searcher's plan for words that match many rows), in chunks small enough that
    # a page spans several chunks and each chunk several id ranges.
    walker = Searcher(store, drive_up_to=0, walk_chunk=3)
    query = parse(text, now=NOW)
    assert [row["id"] for row in walker.iter_rows(query, page_size=17)] == expected, ("walk", text)
    if len(expected) > 20:  # and back: pages before a cursor
        older = walker.page(query, after=Cursor(records_ts(store, expected[20]), expected[20]), limit=7)
        assert [r["id"] for r in older.rows] == expected[21:28]
        newer = walker.page(query, before=Cursor(records_ts(store, expected[20]), expected[20]), limit=7)
        assert [r["id"] for r in newer.rows] == expected[13:20]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES, cap=st.sampled_from([1, 10, 100, 10_000]))
def test_bounded_count(loaded, text: str, cap: int) -> None:
    store, records, ids = loaded
    n = len(brute_force(records, ids, parse(text, now=NOW)))
    count = Searcher(store).count(parse(text, now=NOW), cap=cap)
    assert (count.value, count.capped) == (min(n, cap), n > cap)


def test_indexed_feature_uses_its_generated_column_with_the_same_results(tmp_path: Path) -> None:
    records = random_records(800, seed=5)
    with Store.open(tmp_path / "s.db") as store:
        write_all(store.conn, [[to_row(r) for r in records]])
        ids = [r[0] for r in store.conn.execute("SELECT id FROM predictions ORDER BY id")]
        queries = ["features.amount>1000", "features.zip=01234", "features.country=DE", "-features.amount<=5",
                   "features.a.b>=3", "features.zip>abc"]
        before = {q: run_all(store, q) for q in queries}
        assert ensure_feature_indexes(store, ["amount", "zip", "a.b", "country"]) == \
            ["amount", "zip", "a.b", "country"]
        assert ensure_feature_indexes(store, ["amount"]) == []  # idempotent
        assert feature_column("amount") in generated_columns(store)
        searcher = Searcher(store)
        compiled = searcher.compile(parse("features.amount>1000", now=NOW))
        assert feature_column("amount") in compiled.where and "json_extract" not in compiled.where
        plan = " ".join(r[3] for r in store.conn.execute(
            "EXPLAIN QUERY PLAN " + select_sql(("id",), compiled, keyset=None, newest_first=True),
            (*compiled.params, 50)))
        assert feature_column("amount") in plan  # its index is usable
        for q in queries:
            assert [r["id"] for r in searcher.iter_rows(parse(q, now=NOW))] == before[q]
            assert before[q] == brute_force(records, ids, parse(q, now=NOW))
        # A bulk load (indexes dropped and rebuilt) still works with the generated columns there.
        more = random_records(50, seed=6, start=10_000)
        write_all(store.conn, [[to_row(r) for r in more]], drop_indexes=True)
        assert store.predictions.latest_id() == 850
        with pytest.raises(ValueError):
            ensure_feature_indexes(store, ['bad"name'])


def test_injected_sql_is_just_a_value_to_look_for(store: Store) -> None:
    nasty = "x'); DROP TABLE predictions; --"
    record = random_records(1)[0] | {"request_id": nasty}
    write_all(store.conn, [[to_row(record)]])
    searcher = Searcher(store)
    found = list(searcher.iter_rows(searcher.parse(f'request:"{nasty}"')))
    assert [r["request_id"] for r in found] == [nasty]
    assert list(searcher.iter_rows(searcher.parse('model:"fraud\' OR \'1\'=\'1"'))) == []
    assert list(searcher.iter_rows(searcher.parse('"\' OR 1=1 --"'))) == []
    assert store.predictions.latest_id() == 1  # the table is still there


def test_bad_query_is_an_error_not_a_crash(store: Store) -> None:
    with pytest.raises(SearchError) as caught:
        Searcher(store).parse("model:fraud latency>5")
    assert caught.value.column == 13 and caught.value.token == "latency>5"


@pytest.mark.parametrize("text", ["", "model:fraud", "model:fraud since:3d", "model:fraud version:v2", "status:error",
                                  "entity:cust-3", "model:fraud -status:ok"])
def test_a_newest_first_page_reads_an_index_in_order_instead_of_sorting(tmp_path: Path, text: str) -> None:
    # A bulk-loaded store has planner statistics, but not for an index a later migration added
    # (schema 4's unique (model, version, request_id)): SQLite then guessed that index for
    # `model = ?` and sorted the whole model for every page. Opening read-write fills the gap.
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(3000, seed=8)]], drop_indexes=True)
        store.conn.execute("DELETE FROM sqlite_stat1 WHERE idx = 'predictions_model_version_request'")
    Store.open(path).close()
    with Store.open(path, read_only=True) as store:
        searcher = Searcher(store)
        compiled = searcher.compile(parse(text, now=NOW))
        sql = select_sql(("id",), compiled, keyset=None, newest_first=True)
        plan = [r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, (*compiled.params, 50))]
    assert not any("TEMP B-TREE" in step for step in plan), plan
