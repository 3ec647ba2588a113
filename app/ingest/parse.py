"""One JSON Lines block -> validated prediction rows and quarantined lines.

Pure functions of bytes, so they run unchanged in the parser worker processes of a big
load. Every line goes through ``orjson.loads`` then the pydantic ``Prediction`` model:
one strict JSON parser for reading and writing (``NaN`` and invalid UTF-8 are refused; a line
with an integer beyond SQLite's 64 bits is read again exactly and keeps that integer as text), and the place where ``--model`` can
fill a missing model. Measured against ``Prediction.model_validate_json``: 2 us a line
slower, a small share of the ~30 us of CPU a row costs end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterable, NamedTuple

import json

import orjson
from pydantic import ValidationError

from app.models import Outcome, Prediction, QuarantinedLine
from app.store.predictions import PredictionRow

# A quarantined line keeps at most this much raw text: enough to see what went wrong.
MAX_RAW_CHARS = 64 * 1024
# The longest line ingest reads (a prediction record is a few KB). A longer one is quarantined with its
# first OVERLONG_HEAD bytes; the line cutter (app/ingest/source.py) never holds more than this of it.
MAX_LINE_BYTES = 4 << 20
OVERLONG_HEAD = 4096
# How the cutter hands on an overlong line: NUL bytes cannot start a JSON line, so no real line reads so.
_OVERLONG = b"\x00modeldeck-overlong:"


def overlong_marker(length: int, head: bytes) -> bytes:
    """The stand-in for a line of ``length`` bytes beyond MAX_LINE_BYTES; ``head`` holds no newline."""
    return _OVERLONG + str(length).encode() + b"\x00" + head


@dataclass(slots=True)
class ParsedBlock:
    """What one block of complete lines became. ``lines`` counts blank lines too.

    ``rows`` are ``PredictionRow``s; a block that comes back from a parser process carries
    them as plain tuples in the same field order (all the writer needs): a namedtuple is
    pickled as a class call per row, which made unpickling in the writing process cost
    as much as inserting the row.
    """

    rows: list[PredictionRow] = field(default_factory=list)
    bad: list[QuarantinedLine] = field(default_factory=list)  # source and ingested_at not yet set
    blank: int = 0
    lines: int = 0
    outcomes: list[OutcomeRow] = field(default_factory=list)  # ``"kind": "outcome"`` lines (issue 17)

    def __reduce__(self) -> tuple:
        return (_parsed_block, ([tuple(row) for row in self.rows], self.bad, self.blank, self.lines,
                                [tuple(row) for row in self.outcomes]))


def _parsed_block(rows: list, bad: list[QuarantinedLine], blank: int, lines: int,
                  outcomes: list | None = None) -> ParsedBlock:
    return ParsedBlock(rows, bad, blank, lines, outcomes or [])


class OutcomeRow(NamedTuple):
    """A business outcome as the store keeps it (app/store/quality.py); missing keys are ''."""

    ts: int
    model: str
    request_id: str
    entity_id: str
    name: str
    value: float


def parse_block(data: bytes, first_line_no: int, model: str | None = None) -> ParsedBlock:
    """Parse ``data`` (complete lines; the last may lack its newline) numbered from ``first_line_no``."""
    parsed = ParsedBlock()
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline ending the block does not start another line
    parsed.lines = len(lines)
    rows, bad = parsed.rows, parsed.bad
    # One look at the whole block: most blocks hold no 19-digit run, and then no line is looked at again.
    long_digits = _has_long_digits(data)
    for line_no, line in enumerate(lines, start=first_line_no):
        if not line.strip():
            parsed.blank += 1
            continue
        if len(line) > MAX_LINE_BYTES:  # a block cut by another reader than the line cutter
            line = overlong_marker(len(line), line[:OVERLONG_HEAD])
        size, _, head = line[len(_OVERLONG):].partition(b"\x00") if line.startswith(_OVERLONG) else (b"", b"", b"")
        if size.isdigit():  # a line forged to look like the marker fails as JSON below instead (fuzz-found)
            bad.append(QuarantinedLine(line_no, raw_text(head), f"line longer than {MAX_LINE_BYTES:,} bytes "
                                       f"({int(size):,} bytes); its first {len(head):,} bytes are kept",
                                       model=model))
            continue
        result = _parse_line(line, model, long_digits)
        if type(result) is tuple:
            bad.append(QuarantinedLine(line_no, raw_text(line), result[0], model=result[1]))
        elif type(result) is OutcomeRow:
            parsed.outcomes.append(result)
        else:
            rows.append(result)
    return parsed


def parse_line(line: bytes, model: str | None = None) -> PredictionRow | OutcomeRow | str:
    """A row, or the reason the line is refused (a string: errors are data here, not exceptions)."""
    result = _parse_line(line, model)
    return result[0] if type(result) is tuple else result


# How much of a model's name a bad line may claim: a quarantine_rate rule matches it exactly, so a longer
# "name" is junk, not a model.
_MAX_MODEL_NAME = 200


def _named(record: dict[str, Any], given: str | None) -> str | None:
    """The model a refused record was for: ``--model``, else its own ``model`` when that is a plain name."""
    if given is not None:
        return given
    name = record.get("model")
    return name if type(name) is str and 0 < len(name) <= _MAX_MODEL_NAME else None


def _parse_line(line: bytes, model: str | None,
                long_digits: bool = True) -> "PredictionRow | OutcomeRow | tuple[str, str | None]":
    """A row, or (the reason the line is refused, the model it named when it got that far). ``long_digits``
    False: the caller knows the line holds no run of 19 digits."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return _json_error(line, exc), model
    if long_digits and _has_long_digits(line):
        # orjson reads an integer beyond 64 bits as a float (1e+23): read such a line again exactly and
        # keep every integer SQLite cannot hold as its digits, text (rare: only lines with 19+ digits).
        try:
            record = _big_ints_as_text(json.loads(line))
        except RecursionError:
            return "nested too deeply", model
    if type(record) is not dict:
        return f"not a JSON object (got {_json_kind(record)})", model
    if model is not None and record.get("model") in (None, ""):
        record["model"] = model
    if record.get("kind") == "outcome":
        outcome = _outcome(record)
        return (outcome, _named(record, model)) if isinstance(outcome, str) else outcome
    try:
        prediction = Prediction.model_validate(record)
    except ValidationError as exc:
        return describe_validation_error(exc), _named(record, model)
    if model is not None and prediction.model != model:
        # Not this run's model: counted against the model the line names (the --model is the odd one).
        return f"model: {prediction.model!r} is not the --model given ({model!r})", _named(record, None)
    try:
        return to_row(prediction)
    except (orjson.JSONEncodeError, OverflowError, RecursionError) as exc:  # a value no store column holds
        return f"cannot be stored: {exc}", prediction.model


# PredictionRow(...) runs a Python-level __new__; tuple.__new__ on the class builds the same
# namedtuple at C speed (this runs once per record).
_as_row = partial(tuple.__new__, PredictionRow)


def _outcome(record: dict[str, Any]) -> OutcomeRow | str:
    try:
        o = Outcome.model_validate(record)
    except ValidationError as exc:
        return describe_validation_error(exc)
    return OutcomeRow(o.ts, o.model, o.request_id or "", o.entity_id or "", o.name, o.value)


def to_row(p: Prediction) -> PredictionRow:
    features, context = p.features, p.context
    return _as_row((
        p.ts, p.model, p.version, p.request_id, p.entity_id, _scalar(p.prediction), p.score, _scalar(p.label),
        p.latency_ms, p.status, p.error,
        orjson.dumps(features).decode() if features is not None else None,
        orjson.dumps(context).decode() if context is not None else None,
        fts_text(features, context),
    ))


def fts_text(*objects: dict[str, Any] | None) -> str:
    """``key value`` for every text value in ``objects`` (nested too): what free-text search sees.

    Numbers and booleans stay out: they would double the FTS index (ARCHITECTURE.md, Measured choices) and are
    searched as ``features.x>1`` through the JSON columns instead. Keys come along so a
    phrase like ``"country DE"`` finds the value under its key.
    """
    words: list[str] = []
    for obj in objects:
        if obj:
            _collect_text(obj.items(), words, depth=0)
    return " ".join(words)


def _collect_text(items: Iterable[tuple[Any, Any]], words: list[str], depth: int) -> None:
    # type() checks, not isinstance(): this runs for every value of every record.
    for key, value in items:
        kind = type(value)
        if kind is str:
            if type(key) is str:
                words.append(key)
            words.append(value)
        elif (kind is dict or kind is list) and depth < 8:  # real features are flat; bound the odd ones
            _collect_text(value.items() if kind is dict else enumerate(value), words, depth + 1)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# Every byte an ASCII digit or not: a run of 19 digits (an integer that may be beyond 64 bits) becomes a run
# of 19 '0's, which bytes' own substring search finds. 1.5 us a line against 8-12 us for re's \d{19} (the
# log's many shorter digit runs make the regex try at each one); a block is looked at once.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS = b"0" * 19


def _has_long_digits(data: bytes) -> bool:
    """Whether ``data`` holds 19 ASCII digits in a row (what a bytes regex for 19 digits finds)."""
    return _NINETEEN_DIGITS in data.translate(_DIGITS_AS_ZERO)


def _big_ints_as_text(value: Any, depth: int = 0) -> Any:
    if type(value) is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
    if depth > 512:
        return value  # orjson refuses deeper documents anyway
    if type(value) is dict:
        return {key: _big_ints_as_text(item, depth + 1) for key, item in value.items()}
    if type(value) is list:
        return [_big_ints_as_text(item, depth + 1) for item in value]
    return value


def _scalar(value: Any) -> Any:
    """Numbers and text are stored as they are; objects and lists as JSON text; an integer beyond
    SQLite's 64 bits as its digits (text), losslessly, instead of an OverflowError at insert."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
        return str(value)
    return value


def raw_text(line: bytes) -> str:
    """The line as text for the quarantine: undecodable bytes shown as ``\\xff``, length capped."""
    text = line.rstrip(b"\r").decode("utf-8", "backslashreplace")
    if len(text) > MAX_RAW_CHARS:
        return f"{text[:MAX_RAW_CHARS]}... [{len(line)} bytes, truncated]"
    return text


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, joined: ``ts: timestamp has no UTC offset: '2026-...'``."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "record"
        if error["type"] == "missing":
            parts.append(f"{where}: missing")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] != "value_error":  # value errors already quote the input
            message += f" (got {_short_repr(error.get('input'))})"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _json_error(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8: byte 0x{line[bad.start]:02x} at column {bad.start + 1}"
    return f"not JSON: {exc}"


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
