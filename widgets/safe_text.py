"""Untrusted text (log values, model names, cards, audit details) made safe to show.

Nothing that comes from the store is ever parsed as Rich/Textual markup or ANSI: it is
wrapped in ``rich.text.Text`` (which never parses markup) after every control character,
ESC included, has been replaced by a visible ``\\xNN`` escape. So ``[bold]`` shows as
``[bold]`` and ``\\x1b[31m`` shows as the seven characters ``\\x1b[31m``, and nothing in the
data can move the cursor, change colours or ring the bell.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.text import Text

# C0 controls, DEL and C1 controls; also the Unicode bidi overrides and isolates, which
# can visually reorder a line (the "trojan source" trick).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

ELLIPSIS = "…"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text with control characters made visible (``\\x1b``).

    ``keep_newlines`` keeps ``\\n`` and ``\\t`` (for multi-line detail views such as a card).
    """
    text = "" if value is None else str(value)
    if keep_newlines:
        text = text.replace("\r\n", "\n")
        return _CONTROL_KEEP_LINES.sub(_visible, text)
    return _CONTROL.sub(_visible, text)


def truncate(text: str, width: int | None) -> str:
    """Cut ``text`` to ``width`` terminal cells (wide characters count two), ending with an ellipsis."""
    if width is None or cell_len(text) <= width:
        return text
    if width <= 0:
        return ""
    # Not rich's set_cell_size: it pads with a space when a wide character would straddle the cut.
    room, kept = width - 1, []
    for char in text:
        room -= cell_len(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def safe_text(value: object, *, width: int | None = None, style: str = "", keep_newlines: bool = False) -> Text:
    """A ``Text`` showing ``value`` literally; cut to ``width`` cells for table cells."""
    text = truncate(clean(value, keep_newlines=keep_newlines), width)
    return Text(text, style=style, no_wrap=not keep_newlines, end="")
