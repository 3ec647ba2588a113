"""One JSON Lines block -> rows and quarantined lines: every kind of bad line, and what a good one becomes."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from app.ingest.run import prediction_schema_text
from app.ingest.parse import MAX_RAW_CHARS, fts_text, parse_block, parse_line
from app.store.predictions import PredictionRow

GOOD = {"ts": "2026-11-24T12:00:00.250+02:00", "model": "fraud", "version": "v3", "request_id": "req-1"}


def line(**fields: object) -> bytes:
    return orjson.dumps({**GOOD, **fields})


def without(key: str) -> bytes:
    return orjson.dumps({k: v for k, v in GOOD.items() if k != key})


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"this is not json", "not JSON: "),
        (b'{"ts": "2026-11-24T10:00:00Z", "model": "fraud"', "not JSON: "),
        (line()[:-1] + b', "score": NaN}', "not JSON: "),
        (b"[1, 2, 3]", "not a JSON object (got an array)"),
        (b'"just a string"', "not a JSON object (got a string)"),
        (b"42", "not a JSON object (got a number)"),
        (b"null", "not a JSON object (got null)"),
        (without("request_id"), "request_id: missing"),
        (without("ts"), "ts: missing"),
        (line(version=""), "version: String should have at least 1 character"),
        (line(model=True), "model: must be a string, not a boolean"),
        (line(features=[1, 2]), "features: Input should be a valid dictionary (got [1, 2])"),
        (line(score="high"), "score: Input should be a valid number, unable to parse string as a number (got 'high')"),
        (line(latency_ms=-3), "latency_ms: Input should be greater than or equal to 0 (got -3)"),
        (line(ts="yesterday"), "ts: not an ISO-8601 timestamp: 'yesterday'"),
        (line(ts="2026-11-24T10:00:00"), "ts: timestamp has no UTC offset: '2026-11-24T10:00:00'"),
        (line(ts=True), "ts: timestamp is a boolean"),
        (line(status="failed"), "status: String should match pattern '^(ok|error)$' (got 'failed')"),
        (line()[:-1] + b', "note": "caf\xe9"}', "invalid UTF-8: byte 0xe9 at column "),
    ],
)
def test_each_kind_of_bad_line_is_refused_with_its_reason(raw: bytes, error: str):
    result = parse_line(raw)
    assert isinstance(result, str)
    assert result.startswith(error)


def test_several_problems_in_one_record_are_all_named():
    result = parse_line(orjson.dumps({"ts": "soon", "model": "fraud"}))
    assert result == "ts: not an ISO-8601 timestamp: 'soon'; version: missing; request_id: missing"


def test_a_block_counts_lines_blanks_and_bad_lines_by_line_number():
    data = b"\n".join([line(request_id="a"), b"", b"   ", b"{oops", line(request_id="b"), b"\xff\xfe{}"]) + b"\n"
    parsed = parse_block(data, first_line_no=41)
    assert parsed.lines == 6 and parsed.blank == 2
    assert [row.request_id for row in parsed.rows] == ["a", "b"]
    assert [(bad.line_no, bad.raw) for bad in parsed.bad] == [(44, "{oops"), (46, "\\xff\\xfe{}")]


def test_crlf_line_endings_and_a_last_line_without_newline_are_read():
    parsed = parse_block(line(request_id="a") + b"\r\n" + line(request_id="b"), first_line_no=1)
    assert [row.request_id for row in parsed.rows] == ["a", "b"] and parsed.lines == 2


def test_quarantined_raw_text_is_capped():
    parsed = parse_block(b"x" * (MAX_RAW_CHARS + 10) + b"\n", first_line_no=1)
    assert parsed.bad[0].raw.endswith(f"[{MAX_RAW_CHARS + 10} bytes, truncated]")


def test_model_option_fills_a_missing_model_and_refuses_another():
    filled = parse_line(without("model"), model="churn")
    assert isinstance(filled, PredictionRow) and filled.model == "churn"
    same = parse_line(line(model="churn"), model="churn")
    assert isinstance(same, PredictionRow)
    assert parse_line(line(model="fraud"), model="churn") == "model: 'fraud' is not the --model given ('churn')"


def test_a_good_record_becomes_a_row_with_utc_ms_and_json_text():
    row = parse_line(line(
        entity_id=12345, prediction={"class": "fraud", "p": 0.91}, score=0.91, label=True, latency_ms=12.5,
        features={"amount": 120.5, "country": "DE", "card": {"brand": "visa", "bin": 411111}, "tags": ["new"]},
        context={"region": "eu-1"}, host="serve-4",
    ))
    assert isinstance(row, PredictionRow)
    assert row.ts == 1795514400250  # 12:00:00.250+02:00 is 10:00:00.250 UTC
    assert row.entity_id == "12345"
    assert json.loads(row.prediction) == {"class": "fraud", "p": 0.91}
    assert (row.score, row.label, row.latency_ms, row.status, row.error) == (0.91, True, 12.5, "ok", None)
    assert json.loads(row.features)["card"] == {"brand": "visa", "bin": 411111}
    # Unknown top-level keys are kept under context.
    assert json.loads(row.context) == {"host": "serve-4", "region": "eu-1"}
    assert row.fts_text == "country DE brand visa new host serve-4 region eu-1"


def test_scalar_predictions_are_stored_as_they_are():
    assert parse_line(line(prediction=0.25)).prediction == 0.25
    assert parse_line(line(prediction="approve")).prediction == "approve"
    assert parse_line(line(prediction=[1, 0])).prediction == "[1,0]"


def test_free_text_leaves_numbers_and_booleans_out():
    assert fts_text({"amount": 99.5, "n": 3, "flag": True, "city": "Lyon"}, None) == "city Lyon"
    assert fts_text(None, None) == ""


def test_published_schema_is_the_one_the_model_generates():
    committed = (Path(__file__).parents[2] / "data" / "prediction.schema.json").read_text(encoding="utf-8")
    assert committed == prediction_schema_text(), "regenerate: modeldeck ingest --schema > data/prediction.schema.json"


def test_a_record_with_an_error_but_no_status_counts_as_an_error():
    # Services that log only the message must not look healthy: the error rate and `status:error` count it.
    base = {"ts": 1_700_000_000_000, "model": "m", "version": "v1", "request_id": "r1"}
    only_error = parse_line(orjson.dumps({**base, "error": "TimeoutError: scoring took 2s"}))
    assert isinstance(only_error, PredictionRow) and only_error.status == "error"
    said_ok = parse_line(orjson.dumps({**base, "status": "ok", "error": "retried once"}))
    assert isinstance(said_ok, PredictionRow) and said_ok.status == "ok"  # an explicit status wins
    empty = parse_line(orjson.dumps({**base, "error": ""}))
    assert isinstance(empty, PredictionRow) and empty.status == "ok"
