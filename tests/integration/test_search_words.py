"""Free text finds the words a person sees; OR, parentheses, prefixes and model/version names resolve;
an old store's free-text index is rebuilt once. Real SQLite throughout, compared with a brute-force
Python reading (tests/support/search_records.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.search.language import AnyOf, FieldTerm, Query, parse
from app.catalogue import UnknownName as CatalogueUnknown, resolve_name as catalogue_resolve
from app.search.resolve import UnknownName, notice, resolve_name
from app.search.searcher import Searcher
from app.store import Store
from app.store.bulk import write_all
from app.store.schema import FTS_TOKENIZE
from app.store.search_sql import fts_phrase
from tests.support.search_records import (BASE_MS, MODELS, SPAN_MS, WORDS, name_matches, random_records,
                                          term_matches, to_row, words)

NOW = BASE_MS + SPAN_MS

# --- the tokenizer against the reference -------------------------------------------------------

LETTERS = st.text(alphabet="abcdefghijkLMNOPQ0123456789", min_size=1, max_size=8)
PUNCT = st.text(alphabet=" -_.:@/,;()[]'\"=+#", min_size=1, max_size=3)


@st.composite
def log_texts(draw: Any) -> str:
    parts = draw(st.lists(st.tuples(LETTERS, PUNCT), min_size=1, max_size=6))
    return "".join(w + p for w, p in parts)


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5 (text, tokenize = \"{FTS_TOKENIZE}\")")
    return conn


def _hit(conn: sqlite3.Connection, expression: str) -> bool:
    return conn.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()[0] > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=log_texts(), probe=LETTERS, data=st.data())
def test_tokenizer_splits_on_punctuation_like_the_reference(fts: sqlite3.Connection, text: str, probe: str,
                                                            data: Any) -> None:
    fts.execute("DELETE FROM t")
    fts.execute("INSERT INTO t (text) VALUES (?)", (text,))
    seen = words(text)
    for word in seen:
        assert _hit(fts, fts_phrase(word)), (text, word)
    # Any word: found exactly when the reference holds it; as a prefix when one starts with it.
    assert _hit(fts, fts_phrase(probe)) == (probe.lower() in seen)
    assert _hit(fts, fts_phrase(probe) + " *") == any(w.startswith(probe.lower()) for w in seen)
    # A run of neighbouring words, typed with different punctuation between them, is a phrase.
    start = data.draw(st.integers(0, len(seen) - 1))
    run = seen[start:start + data.draw(st.integers(1, 3))]
    assert _hit(fts, fts_phrase("-".join(run)))


# --- queries against a real store --------------------------------------------------------------

N_RECORDS = 1500


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("words") / "store.db"
    records = random_records(N_RECORDS, seed=5)
    for i, record in enumerate(records):
        record["model"] = ("fraud-scorer", "fraud-v2", "churn-predictor")[i % 3]
        if record["status"] == "error" and i % 2:
            record["error"] = "TimeoutError: scoring took 2300 ms via bureau-gateway.internal:6379"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
        ids = [r[0] for r in store.conn.execute("SELECT id FROM predictions ORDER BY id")]
    store = Store.open(path)
    yield store, records, ids
    store.close()


MODEL_NAMES = {"fraud-scorer", "fraud-v2", "churn-predictor"}
VERSION_NAMES = {"v1", "v2", "v3"}


def reference(term: Any, record: dict[str, Any]) -> bool:
    """term_matches, reading model:/version: values as exact, glob or unique prefix."""
    if isinstance(term, AnyOf):
        hit = any(all(reference(t, record) for t in alternative) for alternative in term.alternatives)
        return hit != term.negated
    if isinstance(term, FieldTerm) and term.column in ("model", "version"):
        names = MODEL_NAMES if term.column == "model" else VERSION_NAMES
        hit = name_matches(record[term.column], str(term.value), names) == (term.op == "=")
        return hit != term.negated
    return term_matches(term, record)


SIMPLE = st.one_of(
    st.sampled_from(["model:fraud-scorer", "model:fraud*", "model:churn", "model:*-v2", "version:v?",
                     "version:v3", "status:error", "status:ok", "since:5d", "score>=0.5", "entity:cust-3",
                     "entity:cust-11", "request:r-17", "request:r-1500"]),
    st.sampled_from([*WORDS, "timeouterror", "TimeoutError", "bureau", "gateway", "6379", "internal",
                     '"bureau-gateway.internal"', "bureau-gateway", "time*", "alph*", "eu-we*", "ops@*",
                     '"scoring took"', '"took scoring"', "x.y", "west"]),
)


@st.composite
def queries(draw: Any, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            inner = " OR ".join(draw(st.lists(queries(depth + 1), min_size=1, max_size=3)))
            parts.append(("-" if draw(st.booleans()) else "") + f"({inner})")
        else:
            parts.append(("-" if draw(st.integers(0, 4)) == 0 else "") + draw(SIMPLE))
    joiner = " OR " if depth == 0 and draw(st.integers(0, 4)) == 0 else " "
    return joiner.join(parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=queries())
def test_or_globs_prefixes_and_words_equal_brute_force(loaded, text: str) -> None:
    store, records, ids = loaded
    searcher = Searcher(store)
    query = parse(text, now=NOW)
    resolved = searcher.resolve(query).query
    got = [row["id"] for row in searcher.iter_rows(resolved, page_size=97)]
    hits = [(r["ts"], i) for r, i in zip(records, ids) if all(reference(t, r) for t in query.terms)]
    assert got == [i for _, i in sorted(hits, reverse=True)], text
    assert searcher.count(resolved, cap=10**9).value == len(got)


@pytest.mark.parametrize("text", [
    "model:churn-predictor OR entity:cust-3",
    "status:error (model:fraud-scorer OR entity:cust-3 OR request:r-17)",
    "(model:fraud-v2 status:error) OR (entity:cust-11 since:5d)",
    "-timeouterror (entity:cust-3 OR entity:cust-4 OR model:churn)",
    "(entity:cust-3 OR model:fraud-v2) (entity:cust-3 OR request:r-40)",
    "(model:fraud-v2 OR entity:cust-3) alpha",
])
def test_an_or_of_indexed_terms_seeks_each_alternative_and_pages_both_ways(loaded, text: str) -> None:
    """An OR whose alternatives each name a model, entity or request reads a page through each one's index
    (not every row of every alternative, sorted): the same rows as the reference, a row matching two
    alternatives once, page after page and back; also when free text is walked chunk by chunk beside it."""
    store, records, ids = loaded
    searcher = Searcher(store)
    sql, params = searcher.page_sql(searcher.resolve(parse(text, now=NOW)).query)
    plan = [r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql, (*params, 51))]
    # One arm per alternative, each a search through an index (an OR left inside an arm may seek two).
    assert any("UNION" in step for step in plan), plan
    assert not any(step.split(" ")[:2] == ["SCAN", "predictions"] for step in plan), "\n".join(plan)
    for searcher in (Searcher(store), Searcher(store, drive_up_to=0, walk_chunk=3)):
        _pages_equal_the_reference(records, ids, searcher, text)


def _pages_equal_the_reference(records: list[dict[str, Any]], ids: list[int], searcher: Searcher, text: str) -> None:
    query = searcher.resolve(parse(text, now=NOW)).query
    parsed = parse(text, now=NOW)
    hits = [(r["ts"], i) for r, i in zip(records, ids) if all(reference(t, r) for t in parsed.terms)]
    expected = [i for _, i in sorted(hits, reverse=True)]
    assert len(expected) > 7
    pages = [searcher.page(query, limit=7)]
    while pages[-1].has_older:
        pages.append(searcher.page(query, after=pages[-1].last, limit=7))
    assert [row["id"] for page in pages for row in page.rows] == expected
    back = searcher.page(query, before=pages[-1].first, limit=7)  # the page before the last, read newest last
    assert [row["id"] for row in back.rows] == [row["id"] for row in pages[-2].rows]


def test_words_inside_punctuation_are_found(loaded) -> None:
    store, records, _ = loaded
    searcher = Searcher(store)
    timeouts = sum(1 for r in records if r.get("error", "") and "TimeoutError" in r["error"])
    assert timeouts > 10
    for text in ("TimeoutError", "timeouterror", "TimeoutError:", "bureau", "gateway", "6379", "internal",
                 '"bureau-gateway.internal:6379"', "bureau-gateway", "TimeoutE*"):
        assert searcher.count(parse(text)).value == timeouts, text
    assert searcher.count(parse('"6379 bureau"')).value == 0  # a phrase keeps its order


def test_ids_keep_exact_matching_through_their_fields(loaded) -> None:
    store, _, _ = loaded
    searcher = Searcher(store)
    rows = list(searcher.iter_rows(parse("request:r-17")))
    assert [r["request_id"] for r in rows] == ["r-17"]
    assert searcher.count(parse("request:r")).value == 0  # a field is exact: no prefix, no word
    assert "r-17" in [r["request_id"] for r in searcher.iter_rows(parse("r-17"))]  # free text finds it too


def test_model_and_version_resolve(loaded) -> None:
    store, records, _ = loaded
    searcher = Searcher(store)
    resolution = searcher.resolve(parse("model:churn status:error"))
    assert resolution.notices == ("model:churn means churn-predictor",)
    rows = list(searcher.iter_rows(resolution.query))
    assert rows and {r["model"] for r in rows} == {"churn-predictor"}
    with pytest.raises(UnknownName, match="prefix of 2: fraud-scorer, fraud-v2; say which"):
        searcher.resolve(parse("model:fraud"))  # two models start so: say which
    with pytest.raises(UnknownName, match="did you mean fraud-scorer"):
        searcher.resolve(parse("model:fraud-scorr"))
    nothing = searcher.resolve(parse("model:payments"))
    assert nothing.notices == ("no model named 'payments'",)
    assert list(searcher.iter_rows(nothing.query)) == []
    assert searcher.why_empty(parse("model:payments")) == "no results: no model named 'payments'"
    # Resolved (as the CLI and the Logs screen run it), the empty answer still names what named nothing.
    assert searcher.why_empty(nothing.query) == "no results: no model named 'payments'"
    no_glob = searcher.resolve(parse("status:error model:zz*")).query
    assert searcher.why_empty(no_glob) == "no results: no model matches 'zz*'"
    glob = searcher.resolve(parse("model:fraud* version:v2"))
    assert {r["model"] for r in searcher.iter_rows(glob.query)} == {"fraud-scorer", "fraud-v2"}


def test_resolve_name_is_a_pure_function() -> None:
    names = ["churn-predictor", "fraud-scorer", "fraud-v2"]
    assert resolve_name("fraud-v2", names, "model").names == ("fraud-v2",)
    assert notice(resolve_name("ch", names, "model"), "model") == "model:ch means churn-predictor"
    assert resolve_name("f*", names, "model").names == ("fraud-scorer", "fraud-v2")
    assert notice(resolve_name("x*", names, "model"), "model") == "no model matches 'x*'"
    assert notice(resolve_name("payments", names, "model"), "model") == "no model named 'payments'"
    assert resolve_name("payments", names, "model").names == ()
    with pytest.raises(UnknownName, match=r"prefix of 2: fraud-scorer, fraud-v2; say which \(or model:fr\* for all\)"):
        resolve_name("fr", names, "model")
    # The same resolver the rest of the product uses: without globs and empties, an unknown name is an error.
    with pytest.raises(CatalogueUnknown, match="unknown model 'payments'"):
        catalogue_resolve("payments", names)


def test_why_empty_names_the_term_that_matches_nothing(loaded) -> None:
    store, _, _ = loaded
    searcher = Searcher(store)
    assert searcher.why_empty(parse("status:error entity:nobody")) == "no results: no record with entity 'nobody'"
    assert searcher.why_empty(parse("zebra")) == "no results: no record holds the words 'zebra'"
    why = searcher.why_empty(parse("request:r-17 request:r-18"))
    assert why == "no results: each term matches some rows, but no row matches them all"


# --- an old store is migrated ------------------------------------------------------------------

def test_an_old_store_gets_the_new_free_text_index_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    record = random_records(1, seed=3)[0]
    record.update(error="TimeoutError: scoring took 2300 ms", status="error",
                  features={"merchant": "acme-shop.eu", "amount": 3}, context={"peer": {"host": "bureau-gateway:6379"}})
    from app.store.schema import FTS_REBUILD_VERSION

    with Store(path, migrate_to=FTS_REBUILD_VERSION - 1) as old:
        write_all(old.conn, [[to_row(record)]])
        # The v1 tokenizer kept punctuation inside words: the exception name was not a word.
        assert old.conn.execute("SELECT count(*) FROM predictions_fts WHERE predictions_fts MATCH "
                                "'timeouterror'").fetchone()[0] == 0
    with Store.open(path) as store:
        searcher = Searcher(store)
        for text in ("TimeoutError", "acme", "shop", "merchant", "bureau", "gateway", "6379", "host"):
            assert searcher.count(parse(text)).value == 1, text
        assert searcher.count(parse("3")).value == 0  # numbers stay out of the index, as at ingest


def test_histogram_and_facets_of_a_result_set(any_store) -> None:
    """On both backends (a SQLite file, a PostgreSQL database): the Logs screen's overview."""
    store, records = any_store, random_records(N_RECORDS, seed=5)
    store.predictions.append([to_row(r) for r in records])
    searcher = Searcher(store)
    query = searcher.resolve(parse("status:error")).query
    errors = [r for r in records if r["status"] == "error"]
    start, end = BASE_MS, BASE_MS + SPAN_MS
    sqlite = store.kind == "sqlite"
    if sqlite:
        searcher._search.overview_budget_s = None  # exact answers whatever the machine's load
    histogram = searcher.histogram(query, start, end, buckets=10)
    assert not histogram.capped and sum(histogram.counts) == len(errors)
    assert histogram.counts[0] == sum(1 for r in errors if r["ts"] < histogram.start + histogram.width)
    # Counted from the zone map (status and time only), on both backends: exact whatever the cap, in
    # whole-hour bars.
    zoned = searcher.histogram(query, start, end, buckets=10, cap=20)
    assert not zoned.capped and zoned.counts == histogram.counts and zoned.width % 3_600_000 == 0
    searcher._search.count_from_zones = False  # read from the rows: the newest 20 matches, then "at least"
    capped = searcher.histogram(query, start, end, buckets=10, cap=20)
    assert capped.capped and sum(capped.counts) == 21 and capped.complete_from > start

    facets = {f.field: f for f in searcher.facets(query, ["status", "version", "error", "features.country"])}
    assert facets["status"].values == [("error", len(errors))]
    versions = {}
    for r in errors:
        versions[r["version"]] = versions.get(r["version"], 0) + 1
    assert dict(facets["version"].values) == versions
    assert facets["error"].values[0][1] == max(
        sum(1 for r in errors if r["error"] == e) for e in {r["error"] for r in errors})
    country = {}
    for r in errors:
        value = (r.get("features") or {}).get("country")
        if value is not None:
            country[value] = country.get(value, 0) + 1
    assert dict(facets["features.country"].values) == dict(sorted(country.items(), key=lambda kv: -kv[1])[:5])
    few = searcher.facets(query, ["status"], cap=30)[0]
    assert few.capped and few.values == [("error", 30)]


def test_the_span_of_a_result_set_holds_every_match(any_store) -> None:
    """On both backends: where a query's matches lie in time (the Logs histogram's range without since:).
    Exact for free text (its newest and oldest match); the zone map's whole hours for a status query on
    SQLite; None when nothing matches."""
    store, records = any_store, random_records(N_RECORDS, seed=5)
    store.predictions.append([to_row(r) for r in records])
    searcher = Searcher(store)
    sqlite = store.kind == "sqlite"
    if sqlite:
        searcher._search.overview_budget_s = None  # exact answers whatever the machine's load
    hour = 3_600_000
    for text, exact in (("status:error", not sqlite), ("alpha", True), ("status:error beta", True)):
        query = searcher.resolve(parse(text, now=NOW)).query
        wanted = [r["ts"] for r in records if all(reference(t, r) for t in parse(text, now=NOW).terms)]
        span = searcher.span(query)
        assert span is not None and span.first is not None and span.last is not None
        if exact:
            assert (span.first, span.last) == (min(wanted), max(wanted)), text
        else:  # the first and last hour holding an error
            assert span.first == min(wanted) // hour * hour and span.last == max(wanted) // hour * hour + hour - 1
    assert searcher.span(searcher.resolve(parse("status:error request:nobody", now=NOW)).query) is None
