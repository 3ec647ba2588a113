"""PostgreSQL ingest: the client-built free-text vector (app.store.pg.predictions.tsvector_text) equals what
the server's own expression gives for the same text, so a word search finds the same rows as before the
generated column went; and a staged COPY keeps every row once. Real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

import pytest

from app.store import Store
from app.store.predictions import PredictionRow

# What the generated column computed (schema v1): kept here as the reference the client must match.
_SERVER_EXPR = """
    setweight(to_tsvector('simple', regexp_replace(coalesce(%(t)s, ''), '[^[:alnum:]]+', ' ', 'g')), 'C')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(%(x)s, ''), '[^[:alnum:]]+', ' ', 'g')), 'D')"""

TEXTS = [
    ("req-0001", "cust-42", "country DE device ios region eu-west-1", None),
    ("Req_ABC.def", None, "note Straße ÉCOLE café naïve", "Upstream TIMEOUT after 3000 ms"),
    ("r-3", "x", "", "connection reset by peer; reset RESET reset"),
    ("r-4", "e-mail", "mail bob@example.com host db-1.internal path /var/log/x.log", "1e5 0x1F 12.5 v2.3.1"),
    ("r-5", "ünïcödé", "日本語 テキスト 中文 кириллица ΕΛΛΗΝΙΚΑ", "tab\there\nnewline"),
    ("r-6", "", "___ --- !!! ", "word " * 300),  # one word more often than a vector keeps positions for
    ("r-7", "long", "a" * 2100 + " after " + "b" * 2046 + " end", "DE de De dE"),
    # A final capital sigma: Python's str.lower() gives a final sigma, the server's lower() does not; the
    # client folds only ASCII itself and leaves the rest to the server.
    ("r-8", "ΟΔΟΣ", "İstanbul ΣΟΦΟΣ", None),
]


def _row(i: int, request_id: str, entity: str | None, text: str, error: str | None) -> PredictionRow:
    return PredictionRow(1_795_000_000_000 + i, "m", "v1", request_id, entity, 1, 0.5, None, 3.0,
                         "error" if error else "ok", error, None, None, text)


def test_the_client_built_vector_is_the_servers_expression(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        rows = [_row(i, *t) for i, t in enumerate(TEXTS)]
        assert store.predictions.append(rows) == (len(rows), 0)
        for row in rows:
            stored, expected = store.one(
                f"SELECT tsv::text, ({_SERVER_EXPR})::text FROM predictions WHERE request_id = %(r)s",
                {"r": row.request_id, "t": row.fts_text, "x": row.error})
            assert stored == expected, row.request_id


@pytest.mark.parametrize("phrase, expected", [("straße", {"Req_ABC.def"}), ('"reset by peer"', {"r-3"}),
                                              ("ελληνικα", {"r-5"}), ("end", {"r-7"}),
                                              # ids are found by request:/entity: (or typed whole), not as words
                                              ("def", set()), ("cust", set()), ("request:Req_ABC.def", {"Req_ABC.def"}),
                                              # folded by the server on both sides, not by Python's lower()
                                              ("ΟΔΟΣ", {"r-8"}), ("İstanbul", {"r-8"}), ("ΣΟΦΟΣ", {"r-8"})])
def test_word_search_finds_the_rows_after_the_change(any_store_location: str, phrase: str,
                                                     expected: set[str]) -> None:
    """The same words find the same rows on both backends (SQLite's unicode61 folds case as the server does)."""
    from app.search.searcher import Searcher

    with Store.open(any_store_location) as store:
        store.predictions.append([_row(i, *t) for i, t in enumerate(TEXTS)])
        searcher = Searcher(store)
        found = {r["request_id"] for r in searcher.iter_rows(searcher.parse(phrase, now=1_796_000_000_000))}
        assert found == expected


def test_the_zone_map_kept_by_ingest_is_the_one_summed_from_the_log(pg_url: str) -> None:
    """Ingest sums each batch's zone map from the rows it COPYs (no statement reads them back): it must be
    what the log itself sums to, with duplicates, missing values, booleans and text features in the batches."""
    from app.store.pg.search import ensure_feature_indexes

    def row(i: int, request_id: str, features: str | None, score: float | None, status: str = "ok",
            label: object = None) -> PredictionRow:
        return PredictionRow(1_795_000_000_000 + i * 600_000, "fraud" if i % 3 else "eta", "v1", request_id,
                             None, 1, score, label, float(i % 7) if i % 5 else None, status,
                             "boom" if status == "error" else None, features, None, "")

    features = ['{"amount": %d, "flag": true}', '{"amount": "n/a", "flag": false}', '{"amount": %d.5}', None,
                '{"amount": 184467440737095516160}', '{"other": 1}']
    rows = [row(i, f"r-{i}", features[i % 6] % i if "%d" in (features[i % 6] or "") else features[i % 6],
                None if i % 4 == 0 else i / 100, "error" if i % 9 == 0 else "ok") for i in range(60)]
    with Store.open(pg_url) as store:
        ensure_feature_indexes(store, ["amount", "flag"])
        assert store.predictions.append(rows[:30] + rows[:3]) == (30, 3)  # duplicates within a batch
        assert store.predictions.append(rows[20:] + [row(1, "r-1", None, 0.99, label=1)]) == (30, 11)
        blocks = """SELECT model, ts / 3600000, count(*), sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END),
                    min(score), max(score), min(latency_ms), max(latency_ms) FROM predictions GROUP BY 1, 2 ORDER BY 1, 2"""
        assert store.rows("SELECT * FROM zone_blocks ORDER BY 1, 2") == store.rows(blocks)
        summed = """SELECT model, ts / 3600000, f.feature, count(*), min(v), max(v) FROM predictions
                    CROSS JOIN zone_summarised f CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(features -> f.feature)
                        WHEN 'number' THEN (features -> f.feature)::double precision
                        WHEN 'boolean' THEN ((features -> f.feature)::boolean)::int END AS v) AS x
                    WHERE v IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        kept = store.rows("SELECT * FROM zone_features ORDER BY 1, 2, 3")
        assert kept == store.rows(summed) and {r[2] for r in kept} == {"amount", "flag"}
        assert store.rows("SELECT model, summarised FROM zone_state ORDER BY 1") == \
            store.rows("SELECT model, sum(logged_rows) FROM versions GROUP BY 1 ORDER BY 1")
        assert store.one("SELECT label FROM predictions WHERE request_id = 'r-1'") == (1,)  # the late label


def test_latest_id_is_the_highest_stored_id(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        assert store.predictions.latest_id() == 0
        store.predictions.append([_row(i, *t) for i, t in enumerate(TEXTS)])
        assert store.predictions.latest_id() == store.one("SELECT max(id) FROM prediction_keys")[0] > 0


def test_a_batch_meeting_taken_keys_keeps_the_batches_before_it_in_the_same_transaction(pg_url: str) -> None:
    # The first batch's keys are all new (claimed by a straight COPY); the second meets three of them (its
    # COPY fails on the first and is undone alone, then the taken keys are skipped): nothing of the first
    # batch is lost, nothing is doubled, the new rows and the late label go in.
    rows = [_row(i, f"k-{i}", None, "", None) for i in range(6)]
    with Store.open(pg_url) as store:
        with store.write():
            assert store.predictions.append(rows[:4]) == (4, 0)
            again = [rows[1], rows[2]._replace(label=1), rows[3], rows[4], rows[5]]
            assert store.predictions.append(again) == (2, 3)
        assert store.rows("SELECT request_id FROM predictions ORDER BY request_id") == [(f"k-{i}",) for i in range(6)]
        assert store.predictions.count() == 6
        assert store.one("SELECT label FROM predictions WHERE request_id = 'k-2'") == (1,)
        assert sum(v.logged_rows for v in store.registry.versions("m")) == 6
