"""THE untrusted-text cleaner: log values, model names, cards, endpoint answers and audit details
made safe to show in the console, a terminal line or a Markdown report.

Nothing that comes from data is ever parsed as Rich/Textual markup or run as a terminal escape:
every C0/C1 control character (ESC included, so CSI, OSC 52 clipboard writes and OSC 8 links are
inert), DEL, the Unicode bidi overrides and isolates (the "trojan source" trick), zero-width
characters and the BOM are replaced by a visible escape (``\\x1b``, ``\\u200b``), and the result
is wrapped in ``rich.text.Text``, which never parses markup: ``[bold]`` shows as ``[bold]``.

This is the one copy of the rule: the TUI (``safe_text``), the CLI (``terminal_line``) and the
Markdown report (``app.checklist.report``) all call ``clean``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from rich.text import Text

# C0 controls, DEL and C1 controls; zero-width space/joiners and LRM/RLM (U+200B-U+200F), the
# bidi embeddings/overrides (U+202A-U+202E) and isolates (U+2066-U+2069), the word joiner and
# invisible operators (U+2060-U+2064), and the BOM/zero-width no-break space (U+FEFF).
_UNSAFE = "\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_CONTROL = re.compile(f"[{_UNSAFE}]")
# The same, but tab and newline survive (multi-line detail views such as a card or a JSON record).
_CONTROL_KEEP_LINES = re.compile(f"[{_UNSAFE.replace(chr(0) + '-' + chr(0x1f), chr(0) + '-' + chr(8) + chr(0xb) + '-' + chr(0x1f))}]")

ELLIPSIS = "…"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Secret values known to this process (bearer tokens read from the configured ``token_env`` variables):
# never shown, never stored. ``clean`` redacts them, so does everything that stores text from outside
# (the audit, health reasons, endpoint errors, checklist evidence).
_SECRETS: set[str] = set()
REDACTED = "[redacted]"
_MIN_SECRET_LEN = 6  # a shorter "token" would redact ordinary words


def add_secret(value: str | None) -> None:
    """Remember a secret value (a token read from the environment) so ``redact`` hides it everywhere."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``[redacted]``."""
    if _SECRETS:
        for secret in _SECRETS:
            if secret in text:
                text = text.replace(secret, REDACTED)
    return text


def clean(value: object, *, keep_newlines: bool = False) -> str:
    """``value`` as text with every unsafe character made visible (``\\x1b``, ``\\u202e``).

    ``keep_newlines`` keeps ``\\n`` and ``\\t`` (for multi-line detail views such as a card);
    ``\\r\\n`` becomes ``\\n`` and a lone ``\\r`` stays visible (it could overwrite a line).
    """
    text = redact("" if value is None else str(value))
    if keep_newlines:
        return _CONTROL_KEEP_LINES.sub(_visible, text.replace("\r\n", "\n"))
    return _CONTROL.sub(_visible, text)


def terminal_line(value: object) -> str:
    """One line that prints literally in a terminal (CLI output): newlines and tabs as spaces."""
    text = "" if value is None else str(value)
    return clean(text.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))


def truncate(text: str, width: int | None) -> str:
    """Cut ``text`` to ``width`` terminal cells (wide characters count two), ending with an ellipsis."""
    from rich.cells import cell_len  # here, not at import: the store and a no-op CLI never cut text (issue 18)

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


def clean_name(value: object, limit: int = 40) -> str:
    """An untrusted name to embed in a sentence (evidence, a notice): cleaned and bounded in length."""
    cleaned = clean(value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + ELLIPSIS


def safe_text(value: object, *, width: int | None = None, style: str = "", keep_newlines: bool = False) -> Text:
    """A ``Text`` showing ``value`` literally; cut to ``width`` cells for table cells."""
    from rich.text import Text  # only where text is drawn: the store and the CLI clean strings without it

    text = truncate(clean(value, keep_newlines=keep_newlines), width)
    return Text(text, style=style, no_wrap=not keep_newlines, end="")
