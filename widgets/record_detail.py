"""One prediction record, every field of it: ids, time, model version, outcome, ground truth,
then features and context as indented JSON.

Everything here came from a log, so it is data: no markup is parsed, control characters and
bidi overrides are shown as ``\\x1b`` / ``\\u202e`` escapes (app.text), and the JSON
is coloured by Rich's JSON highlighter, which styles spans of plain text and interprets nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from app.text import clean

_HIGHLIGHT = JSONHighlighter()
_LABEL_WIDTH = 13
# A field shows at most this much of itself: a 20 MB record (or 100k features) drawn whole froze the
# console for 32 s. The rest is one export away (x on the Logs screen writes the records whole).
MAX_SHOWN_CHARS = 64 * 1024


def _truncated_note(total: int) -> Text:
    return Text(f"\n… {MAX_SHOWN_CHARS:,} of {total:,} characters shown; x exports the records whole\n",
                style="bold yellow")


def _iso(ms: int) -> str:
    from app.timeutil import ms_to_iso

    return ms_to_iso(ms)


def _pretty(value: Any) -> Text:
    """Indented JSON of a stored JSON text (or any value), highlighted, with controls made visible."""
    if isinstance(value, str) and len(value) > MAX_SHOWN_CHARS:
        # Too big to parse and indent on the UI thread: its head as stored (compact JSON), unhighlighted.
        text = Text(clean(value[:MAX_SHOWN_CHARS], keep_newlines=True))
        text.append_text(_truncated_note(len(value)))
        return text
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return Text(clean(value, keep_newlines=True))
    dumped = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    # orjson escapes C0 controls already; clean() also catches DEL, C1 and bidi overrides.
    text = Text(clean(dumped[:MAX_SHOWN_CHARS], keep_newlines=True))
    _HIGHLIGHT.highlight(text)
    if len(dumped) > MAX_SHOWN_CHARS:
        text.append_text(_truncated_note(len(dumped)))
    return text


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return clean(value)


def record_text(row: dict[str, Any]) -> Text:
    """The detail of a stored row (keys: id and the predictions columns)."""
    text = Text(end="")

    def line(label: str, value: Any, *, style: str = "", hint: str = "") -> None:
        text.append(f"{label:<{_LABEL_WIDTH}}", style="bold")
        shown = "—" if value is None or value == "" else str(value)
        text.append(clean(shown[:MAX_SHOWN_CHARS]), style=style)
        if len(shown) > MAX_SHOWN_CHARS:
            text.append_text(_truncated_note(len(shown)))
        if hint:
            text.append(f"  {hint}", style="dim")
        text.append("\n")

    error = row.get("status") == "error"
    line("request", row.get("request_id"), hint="c: copy")
    line("time", _iso(row["ts"]))
    line("model", f"{row.get('model')}  version {row.get('version')}", hint="m: open model")
    line("entity", row.get("entity_id"), hint="a: around this time" if row.get("entity_id") else "")
    line("status", row.get("status"), style="bold red" if error else "green")
    if row.get("error") is not None:
        line("error", row.get("error"), style="red")
    prediction = row.get("prediction")
    if isinstance(prediction, str) and prediction[:1] in "{[":
        text.append(f"{'prediction':<{_LABEL_WIDTH}}", style="bold")
        text.append_text(_pretty(prediction))
        text.append("\n")
    else:
        line("prediction", None if prediction is None else _number(prediction))
    line("score", None if row.get("score") is None else _number(row["score"]))
    label = row.get("label")
    if label is None:
        line("ground truth", "not known yet", style="dim")
    else:
        agrees = label == prediction or str(label) == str(prediction)
        line("ground truth", _number(label), hint="matches the prediction" if agrees else "differs from the prediction")
    line("latency", None if row.get("latency_ms") is None else f"{_number(row['latency_ms'])} ms")
    for key in ("features", "context"):
        text.append(f"{key}\n", style="bold")
        value = row.get(key)
        if value is None:
            text.append("  —\n", style="dim")
        else:
            text.append_text(_pretty(value))
            text.append("\n")
    text.append(f"store id {row.get('id')}", style="dim")
    return text


class RecordDetail(VerticalScroll):
    """Scrollable detail of one record; ``show(None)`` for the empty state."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    RecordDetail {
        padding: 0 1;
        border-top: solid $panel-lighten-1;
    }
    RecordDetail > Static {
        width: 100%;
    }
    """

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(Text("no record selected", style="dim"), markup=False)

    def show(self, row: dict[str, Any] | None, *, empty: str = "no record selected") -> None:
        body = self.query_one(Static)
        body.update(record_text(row) if row is not None else Text(empty, style="dim"))
        self.scroll_home(animate=False)
