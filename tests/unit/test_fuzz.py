"""Fuzzing the two parsers that read untrusted text (issue 12): a record line either becomes a row or a
quarantine reason, and a query either parses or raises SearchError; nothing else, whatever the input.
Bounded example counts keep this to a few seconds in ``make test``."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest.parse import parse_block, parse_line
from app.search.complete import quote_value
from app.search.language import SearchError, parse
from app.store.predictions import PredictionRow
from app.text import clean

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                     st.floats(allow_nan=False), st.text(max_size=20))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                                              inner, max_size=3),
                       max_leaves=8)
_ts = st.one_of(st.integers(min_value=-(10**25), max_value=10**25), st.floats(allow_nan=False),
                st.text(max_size=30), st.sampled_from(["2026-11-24T10:00:00Z", "2026-11-24T10:00:00", "1e400"]))
_records = st.fixed_dictionaries(
    {"ts": _ts, "model": st.text(max_size=10), "version": st.one_of(st.text(max_size=6), st.integers()),
     "request_id": st.text(max_size=6)},
    optional={"prediction": _values, "label": _values, "score": _values, "latency_ms": _values,
              "features": _values, "context": _values, "status": st.text(max_size=6), "entity_id": _values})


def _check(result: PredictionRow | str) -> None:
    if isinstance(result, str):
        assert result  # a reason, for the quarantine
        return
    assert 0 <= result.ts <= 7_258_118_400_000
    for value in (result.prediction, result.label):
        assert not isinstance(value, int) or -(2**63) <= value < 2**63  # SQLite can hold it


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_become_a_row_or_a_reason(data: bytes):
    block = parse_block(data, 1)
    assert len(block.rows) + len(block.bad) + block.blank == block.lines


@FUZZ
@given(_records)
def test_any_json_record_becomes_a_row_or_a_reason(record: dict):
    _check(parse_line(json.dumps(record).encode()))


@FUZZ
@given(st.text(max_size=80))
def test_any_query_parses_or_is_a_search_error(text: str):
    try:
        parse(text, now=1_795_514_400_000)
    except SearchError as exc:
        assert exc.column >= 1


_query_words = st.sampled_from(["model:", "entity:", "label:", "score>", "since:", "until:", "features.a=",
                                "-", '"', "differs:", "status:", "prediction!=", "context.b<="])


@FUZZ
@given(st.lists(st.tuples(_query_words, st.text(max_size=12)), max_size=6))
def test_field_shaped_queries_parse_or_are_search_errors(parts: list[tuple[str, str]]):
    try:
        parse(" ".join(a + b for a, b in parts), now=1_795_514_400_000)
    except SearchError:
        pass


@FUZZ
@given(st.text(max_size=40))
def test_a_quoted_value_reads_back_exactly_and_shows_no_control_character(value: str):
    quoted = quote_value(value)
    assert clean(quoted) == quoted
    term = parse(f"entity:{quoted}" if value else 'entity:""').terms[0]
    assert term.value == value  # type: ignore[union-attr]
