"""What the Logs screen's record detail shows: one part of one record, built off the UI thread.

A record is laid out as a sequence of fields (ids, time, model, status, error, prediction, score, ground
truth, latency, features, context). The fields' values, end to end, are cut into parts of at most
``PART_CHARS`` characters: a multi-MB feature blob is read part by part (PageUp/PageDown on the screen)
and never built whole in a widget. A JSON value up to ``PRETTY_MAX`` characters is parsed and indented;
a bigger one is never parsed (shown as stored, compact).

Everything here came from a log, so it is data: every slice goes through app.text.clean (no markup,
controls and bidi overrides shown as ``\\x1b`` / ``\\u202e``); Rich's JSON highlighter only styles spans.
Secrets are redacted on the whole value before it is cut, so a token split by a part boundary is hidden too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.text import Text

from app.store.json_keys import json_text
from app.text import clean, redact

PART_CHARS = 16 * 1024  # about 200 screen lines at 80 columns: quick to lay out when mounted
PRETTY_MAX = 64 * 1024  # JSON up to this size is parsed and indented; bigger is shown as stored
LABEL_WIDTH = 13
LOADING = "loading…"


@dataclass(frozen=True)
class _Field:
    label: str
    body: str  # redacted, not yet cleaned: cleaning runs on the slice shown
    style: str = ""
    hint: str = ""
    block: bool = False  # label on its own line, the value under it (JSON)
    json: bool = False  # highlight as JSON


@dataclass(frozen=True)
class RecordPart:
    """One part of a record's detail, ready to mount."""

    row_id: Any
    part: int  # 1-based
    parts: int
    start: int  # first character of the values shown (0-based) ...
    end: int  # ... and one past the last
    total: int  # characters of all the record's values
    text: Text


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _json_body(value: Any) -> tuple[str, bool]:
    """(text, highlight): indented JSON when small enough to parse, else the stored text as it is."""
    import orjson

    if isinstance(value, str):
        if len(value) > PRETTY_MAX:
            return value, False  # never parsed: compact, as stored
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value, False
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode(), True
    except TypeError:
        return str(value), False


def record_fields(row: dict[str, Any]) -> list[_Field]:
    """The record's fields in display order (keys: id and the predictions columns)."""
    from app.timeutil import ms_to_iso

    def scalar(label: str, value: Any, *, style: str = "", hint: str = "") -> _Field:
        shown = "—" if value is None or value == "" else str(value)
        return _Field(label, redact(shown), style, hint)

    error = row.get("status") == "error"
    fields = [
        scalar("request", row.get("request_id"), hint="c: copy"),
        scalar("time", ms_to_iso(row["ts"])),
        scalar("model", f"{row.get('model')}  version {row.get('version')}", hint="m: open model"),
        scalar("entity", row.get("entity_id"), hint="a: around this time" if row.get("entity_id") else ""),
        scalar("status", row.get("status"), style="bold red" if error else "green"),
    ]
    if row.get("error") is not None:
        fields.append(scalar("error", row.get("error"), style="red"))
    prediction = row.get("prediction")
    if isinstance(prediction, str) and prediction[:1] in "{[":
        body, highlight = _json_body(prediction)
        fields.append(_Field("prediction", redact(body), json=highlight))
    else:
        fields.append(scalar("prediction", None if prediction is None else _number(prediction)))
    fields.append(scalar("score", None if row.get("score") is None else _number(row["score"])))
    label = row.get("label")
    if label is None:
        fields.append(_Field("ground truth", "not known yet", style="dim"))
    else:
        agrees = label == prediction or str(label) == str(prediction)
        fields.append(scalar("ground truth", _number(label),
                             hint="matches the prediction" if agrees else "differs from the prediction"))
    fields.append(scalar("latency", None if row.get("latency_ms") is None else f"{_number(row['latency_ms'])} ms"))
    for key in ("features", "context"):
        value = json_text(row.get(key))  # a coded store's search row is decoded here, when shown
        if value is None:
            fields.append(_Field(key, "—", style="dim", block=True))
        else:
            body, highlight = _json_body(value)
            fields.append(_Field(key, redact(body), block=True, json=highlight))
    return fields


def record_part(row: dict[str, Any], part: int = 1, *, part_chars: int = PART_CHARS,
                cancelled: Callable[[], bool] = lambda: False) -> RecordPart | None:
    """Part ``part`` (1-based, clamped) of the record's detail; None when ``cancelled()`` says the
    record changed meanwhile. Blocking: call it from a worker."""
    from rich.highlighter import JSONHighlighter

    fields = record_fields(row)
    if cancelled():
        return None
    total = sum(len(f.body) for f in fields)
    parts = max(1, -(-total // part_chars))
    part = min(max(1, part), parts)
    lo, hi = (part - 1) * part_chars, min(total, part * part_chars)
    text = Text(end="")
    if parts > 1:
        text.append(f"part {part} of {parts}", style="bold reverse")
        text.append(f"  characters {lo + 1:,}-{hi:,} of {total:,}; pgup/pgdn: other parts; "
                    "x exports the records whole\n", style="dim")
    highlighter = JSONHighlighter()
    offset = 0
    for field in fields:
        size = len(field.body)
        first, last = max(lo - offset, 0), min(hi - offset, size)
        offset += size
        if first >= last:
            continue
        label = field.label if first == 0 else f"{field.label} (continued)"
        piece = field.body[first:last]
        if field.block:
            text.append(f"{label}\n", style="bold")
            shown = Text(clean(piece, keep_newlines=True), style=field.style)
            if field.json:
                highlighter.highlight(shown)
            text.append_text(shown)
        else:
            text.append(f"{label:<{LABEL_WIDTH}}", style="bold")
            text.append(clean(piece), style=field.style)
            if field.hint and last == size:
                text.append(f"  {field.hint}", style="dim")
        if last < size:
            text.append(f"\n… continues in part {part + 1} of {parts} (pgdn)", style="bold yellow")
        text.append("\n")
        if cancelled():
            return None
    if part == parts:
        text.append(f"store id {clean(row.get('id'))}", style="dim")
    return RecordPart(row.get("id"), part, parts, lo, hi, total, text)
