"""Hostile data at the pure boundaries (issue 12): timestamps of every epoch unit, integers beyond
SQLite's 64 bits, queries built from data, search limits and spreadsheet formulas in CSV."""

from __future__ import annotations

import orjson
import pytest

from app.ingest.parse import parse_block, parse_line
from app.search.complete import quote_value
from app.search.export import csv_cells, csv_safe
from app.search.language import MAX_TERMS, FieldTerm, SearchError, parse
from app.text import clean
from app.timeutil import format_ms, in_range_ms, ms_to_iso, parse_timestamp, TimeFormat

# 2026-11-24T10:00:00.123Z in each unit an exporter may write.
MS = 1_795_514_400_123


@pytest.mark.parametrize("value", [MS / 1000, MS, MS * 1000, MS * 1_000_000, str(MS * 1_000_000), str(MS)])
def test_epoch_seconds_ms_us_ns_are_told_apart_by_magnitude(value):
    assert parse_timestamp(value) == MS


@pytest.mark.parametrize("value", [MS * 1_000_000 * 1000, -1, 10**40, "99999999999999999999999", 8e15,
                                   "2300-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_time_outside_1970_2200_is_refused_with_the_reason(value):
    with pytest.raises(ValueError, match="outside 1970-2200"):
        parse_timestamp(value)


def _line(**fields) -> bytes:
    record = {"ts": MS, "model": "m", "version": "v1", "request_id": "r1"}
    record.update(fields)
    import json

    return json.dumps(record).encode()  # orjson refuses integers beyond 64 bits


def test_a_nanosecond_line_is_stored_at_its_millisecond():
    row = parse_line(_line(ts=MS * 1_000_000))
    assert not isinstance(row, str) and row.ts == MS


def test_a_poison_timestamp_is_quarantined_not_raised():
    block = parse_block(_line(ts=10**30) + b"\n" + b'{"ts": 1e400, "model": "m", "version": "v", "request_id": "x"}\n'
                        + _line(request_id="ok") + b"\n", 1)
    assert [row.request_id for row in block.rows] == ["ok"]
    assert [bad.line_no for bad in block.bad] == [1, 2]
    assert "outside 1970-2200" in block.bad[0].error


def test_integers_beyond_64_bits_are_kept_as_their_digits():
    huge, beyond_u64 = 2**63, 99999999999999999999999
    line = (b'{"ts": %d, "model": "m", "version": "v1", "request_id": "r1", "prediction": %d, "label": %d, '
            b'"features": {"big": %d, "small": 3}}' % (MS, huge, beyond_u64, beyond_u64))
    row = parse_line(line)
    assert not isinstance(row, str), row
    assert row.prediction == str(huge) and row.label == str(beyond_u64)
    assert orjson.loads(row.features) == {"big": str(beyond_u64), "small": 3}  # not 1e+23: lossless


def test_a_block_keeps_the_digits_of_its_one_line_with_an_integer_beyond_64_bits():
    # The block is looked at once for a run of 19 digits, then each line: the big line is read exactly,
    # the others (one with 19 digits inside a string, one with 18-digit numbers) as they are.
    beyond_u64 = 99999999999999999999999
    block = parse_block(_line(request_id="a", features={"n": 10**17}) + b"\n"
                        + _line(request_id="b", features={"n": beyond_u64, "f": 0.5}) + b"\n"
                        + _line(request_id="c" + "1" * 19) + b"\n", 1)
    assert not block.bad
    assert [row.request_id for row in block.rows] == ["a", "b", "c" + "1" * 19]
    assert orjson.loads(block.rows[0].features) == {"n": 10**17}
    assert orjson.loads(block.rows[1].features) == {"n": str(beyond_u64), "f": 0.5}


def test_created_at_beyond_any_date_is_no_date_and_never_overflows():
    assert in_range_ms(1e300) is None and in_range_ms(float("inf")) is None and in_range_ms(float("nan")) is None
    assert in_range_ms(MS) == MS and in_range_ms(str(MS)) == MS and in_range_ms(True) is None
    assert format_ms(10**300, TimeFormat.DATE) == "?"
    assert "epoch ms" in ms_to_iso(10**30)


HOSTILE = "\x1b]52;c;SE9TVElMRQ==\x07 \x1b[2J [/] \u202e\u200b \\x1b \"q\""


@pytest.mark.parametrize("value", [HOSTILE, "\x1b", "a\\x1b", "plain", "-neg", "\u202egnp.exe", 'x"\\'])
def test_a_quoted_value_has_no_control_character_and_reads_back_as_it_was(value):
    quoted = quote_value(value)
    assert clean(quoted) == quoted  # nothing a terminal would run, if an Input drew it raw
    term = parse(f"entity:{quoted}").terms[0]
    assert isinstance(term, FieldTerm) and term.value == value


def test_too_many_terms_is_one_clear_error():
    parse(" ".join(f"w{i}" for i in range(MAX_TERMS)))
    with pytest.raises(SearchError, match="too many terms"):
        parse(" ".join(f"w{i}" for i in range(1000)))


@pytest.mark.parametrize("query, message", [
    ("label:99999999999999999999999", "out of range"),
    ("score>99999999999999999999999", "out of range"),
    ("features.x=-99999999999999999999", "out of range"),
    ("since:99999999999999999999d", "too long"),
    ("until:99999999999999999999999", "not a time"),
    ("features.a\\b=1", "backslash"),
])
def test_numbers_and_keys_no_store_can_hold_are_clear_errors(query, message):
    with pytest.raises(SearchError, match=message):
        parse(query)


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                  "\t=1"])
def test_csv_text_cells_that_a_spreadsheet_would_run_start_with_a_quote(cell):
    assert csv_safe(cell) == "'" + cell
    row = {"ts": MS, "model": cell, "version": "v", "request_id": "r", "entity_id": None, "prediction": -0.5,
           "score": None, "label": None, "latency_ms": None, "status": "ok", "error": None, "features": None,
           "context": None}
    cells = csv_cells(row)
    assert cells[1] == "'" + cell and "-0.5" in cells  # a negative number stays a number


def test_a_line_beyond_the_maximum_is_quarantined_with_its_head_and_the_rest_goes_on():
    from app.ingest.parse import MAX_LINE_BYTES, OVERLONG_HEAD
    from app.ingest.source import _LineCutter

    good = _line(request_id="after") + b"\n"
    huge = b'{"ts": 1, "blob": "' + b"x" * (MAX_LINE_BYTES + 5_000_000)  # no newline for megabytes
    stream = _line(request_id="before") + b"\n" + huge + b'"}\n' + good + b"tail-without-newline"
    cutter, blocks = _LineCutter(), []
    for start in range(0, len(stream), 65536):
        cut = cutter.feed(stream[start:start + 65536])
        if cut is not None:
            blocks.append(cut)
        assert len(cutter.pending) <= MAX_LINE_BYTES + 65536  # never holds the whole line
    blocks.append(cutter.finish())
    assert cutter.offset == len(stream) and cutter.line_no == 4  # offsets count every byte read
    parsed = [parse_block(data, first) for data, first in blocks]
    rows = [row.request_id for block in parsed for row in block.rows]
    bad = [line for block in parsed for line in block.bad]
    assert rows == ["before", "after"]
    assert [b.line_no for b in bad] == [2, 4]
    assert "line longer than" in bad[0].error and bad[0].raw.startswith('{"ts": 1, "blob": "xxx')
    assert len(bad[0].raw) == OVERLONG_HEAD


def test_a_huge_record_is_shown_in_parts_each_bounded_and_cleaned() -> None:
    from app.views.record import PART_CHARS, record_part

    huge = orjson.dumps({f"f{i}": "v" * 100 for i in range(200_000)}).decode()  # ~22 MB of features
    row = {"id": 1, "ts": MS, "model": "m", "version": "v", "request_id": "r", "status": "error",
           "error": "e" * 5_000_000, "features": huge, "context": orjson.dumps({f"k{i}": i for i in range(100_000)})
           .decode()}
    first = record_part(row, 1)
    assert first is not None and first.parts > 1000 and first.total > 27_000_000
    shown = first.text.plain
    assert len(shown) < PART_CHARS + 1000 and shown.startswith(f"part 1 of {first.parts}")
    assert "… continues in part 2" in shown and "features" not in shown  # the error fills part 1
    # The part where the features start: never parsed (compact, as stored), its head shown.
    where = 5_000_000 + 200  # the error and the short fields before the features
    part = record_part(row, where // PART_CHARS + 1)
    assert part is not None and '{"f0":"' in part.text.plain and "features\n" in part.text.plain
    last = record_part(row, 10**9)  # clamped to the last part
    assert last is not None and last.part == last.parts and "store id 1" in last.text.plain


def test_record_parts_cover_every_character_cleaned_and_redact_a_secret_cut_by_a_boundary() -> None:
    from app.text import add_secret
    from app.views.record import record_fields, record_part

    secret = "tok-SECRET-123456"
    add_secret(secret)
    blob = "a" * 95 + secret + "[bold red]x[/]\x1b[2J\u202e" + "z" * 300
    row = {"id": 9, "ts": MS, "model": "m", "version": "v", "request_id": "r", "status": "ok",
           "features": orjson.dumps({"blob": blob}).decode() + " " * 70_000}  # too big to parse: as stored
    # The part size that puts a boundary inside the secret.
    before = sum(len(f.body) for f in record_fields(row) if f.label != "features" and f.label != "context")
    size = before + row["features"].index(secret) + 5
    first = record_part(row, 1, part_chars=size)
    assert first is not None and f"… continues in part 2 of {first.parts} (pgdn)" in first.text.plain
    texts = [record_part(row, p, part_chars=size).text.plain for p in (1, 2)]  # type: ignore[union-attr]
    whole = "".join(texts)
    assert secret not in whole and "tok-SECRET" not in whole and "SECRET" not in whole
    assert texts[0].split("\n…")[0].endswith("[reda") and "\ncted][bold red]" in texts[1]  # cut after redaction
    assert "[bold red]x[/]" in whole and "\\u001b[2J" in whole and "\x1b" not in whole and "\u202e" not in whole
    assert all(f"part {i} of {first.parts}" in t for i, t in enumerate(texts, 1))
    assert "features (continued)" in texts[1]


def _drain(followed) -> list[bytes]:  # type: ignore[no-untyped-def]
    lines = []
    for _ in range(100):  # bounded: a poll hands out at most a block
        block = followed.poll()
        if block is None:
            break
        lines += block.data.splitlines()
    return lines


def _numbered(first: int, last: int, tag: str) -> bytes:
    return b"".join(b"%s-%06d\n" % (tag.encode(), i) for i in range(first, last))


def test_copytruncate_while_stopped_and_regrown_past_the_offset_loses_nothing(tmp_path):
    from app.ingest.source import FollowedFile

    path = tmp_path / "live.jsonl"
    path.write_bytes(_numbered(0, 10_000, "old"))
    first = FollowedFile(str(path))
    assert len(_drain(first)) == 10_000
    stored = first.position()  # what the store keeps at a stop
    first.close()
    with path.open("r+b") as handle:  # copytruncate: same inode, emptied, then the service writes on
        handle.truncate(0)
        handle.write(_numbered(0, 20_000, "new"))
    notes: list[str] = []
    again = FollowedFile(str(path), stored, note=notes.append)
    lines = _drain(again)
    again.close()
    assert lines == _numbered(0, 20_000, "new").splitlines()  # every new line, from the first
    assert "reading it from the start" in notes[0]


def test_copytruncate_regrown_past_the_offset_within_one_poll_loses_nothing(tmp_path):
    from app.ingest.source import FollowedFile

    path = tmp_path / "live.jsonl"
    path.write_bytes(_numbered(0, 10_000, "old"))
    notes: list[str] = []
    followed = FollowedFile(str(path), note=notes.append)
    assert len(_drain(followed)) == 10_000
    followed.position()
    with path.open("r+b") as handle:
        handle.truncate(0)
        handle.write(_numbered(0, 20_000, "new"))
    lines = _drain(followed)
    followed.close()
    assert lines == _numbered(0, 20_000, "new").splitlines()
    assert any("first bytes changed" in note for note in notes)


def test_a_symlink_swapped_to_another_file_is_refused_with_a_warning(tmp_path):
    from app.ingest.source import FollowedFile

    log, secret, link = tmp_path / "app.jsonl", tmp_path / "id_rsa", tmp_path / "current.jsonl"
    log.write_bytes(b"one\n")
    secret.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    link.symlink_to(log)
    notes: list[str] = []
    followed = FollowedFile(str(link), note=notes.append)
    assert _drain(followed) == [b"one"]
    link.unlink()
    link.symlink_to(secret)  # a new file at the path: it would be followed from its start
    assert _drain(followed) == [] and _drain(followed) == []
    followed.close()
    assert any("now points to" in note and "not followed" in note for note in notes)
    link.unlink()
    link.symlink_to(log)
    allowed = FollowedFile(str(link), allow_swapped_link=True)  # what a config that allows it gets
    assert _drain(allowed) == [b"one"]
    link.unlink()
    link.symlink_to(secret)
    assert _drain(allowed) + _drain(allowed) == [b"-----BEGIN PRIVATE KEY-----"]
    allowed.close()
