"""PostgreSQL ingest: the client-built free-text vector (app.store.pg.predictions.tsvector_text) equals what
the server's own expression gives for the same text, so a word search finds the same rows as before the
generated column went; and a staged COPY keeps every row once. Real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

import pytest

from app.store import Store
from app.store.predictions import PredictionRow

# What the generated column computed (schema v1): kept here as the reference the client must match.
_SERVER_EXPR = """
    setweight(to_tsvector('simple', regexp_replace(%(r)s, '[^[:alnum:]]+', ' ', 'g')), 'A')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(%(e)s, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(%(t)s, ''), '[^[:alnum:]]+', ' ', 'g')), 'C')
    || setweight(to_tsvector('simple', regexp_replace(coalesce(%(x)s, ''), '[^[:alnum:]]+', ' ', 'g')), 'D')"""

TEXTS = [
    ("req-0001", "cust-42", "country DE device ios region eu-west-1", None),
    ("Req_ABC.def", None, "note Straße ÉCOLE café naïve", "Upstream TIMEOUT after 3000 ms"),
    ("r-3", "x", "", "connection reset by peer; reset RESET reset"),
    ("r-4", "e-mail", "mail bob@example.com host db-1.internal path /var/log/x.log", "1e5 0x1F 12.5 v2.3.1"),
    ("r-5", "ünïcödé", "日本語 テキスト 中文 кириллица ΕΛΛΗΝΙΚΑ", "tab\there\nnewline"),
    ("r-6", "", "___ --- !!! ", "word " * 300),  # one word more often than a vector keeps positions for
    ("r-7", "long", "a" * 2100 + " after " + "b" * 2046 + " end", "DE de De dE"),
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
                {"r": row.request_id, "e": row.entity_id, "t": row.fts_text, "x": row.error})
            assert stored == expected, row.request_id


@pytest.mark.parametrize("phrase, expected", [("straße", {"Req_ABC.def"}), ('"reset by peer"', {"r-3"}),
                                              ("ελληνικα", {"r-5"}), ("end", {"r-7"}), ("def", {"Req_ABC.def"})])
def test_word_search_finds_the_rows_after_the_change(pg_url: str, phrase: str, expected: set[str]) -> None:
    from app.search.searcher import Searcher

    with Store.open(pg_url) as store:
        store.predictions.append([_row(i, *t) for i, t in enumerate(TEXTS)])
        searcher = Searcher(store)
        found = {r["request_id"] for r in searcher.iter_rows(searcher.parse(phrase, now=1_796_000_000_000))}
        assert found == expected
