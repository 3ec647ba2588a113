"""Completion for the search bar: finish the word being typed from the language's vocabulary.

Pure functions over text (no store): the Logs screen hands in the model and feature names it
has read. ``complete(text)`` returns the whole query with its last word finished, or None;
the query bar shows the rest as a suggestion that tab (or right arrow) accepts.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from app.text import clean

# Field names as the user types them, most used first (the first match wins).
FIELDS = ("model:", "entity:", "request:", "status:", "since:", "until:", "version:", "label:", "score",
          "latency_ms", "prediction", "features.", "context.")
STATUS_VALUES = ("error", "ok")
TIME_VALUES = ("15m", "1h", "2h", "24h", "7d")
_BARE = re.compile(r"^[^\s\"]+$")


def quote_value(value: str) -> str:
    """``value`` as the query language reads it back: bare when it can be, else double-quoted.

    Control, bidi and zero-width characters are written as ``\\xNN`` / ``\\uNNNN`` inside the quotes
    (app/search/language.py reads them back): a query built from data (``entity:<id>`` on ``a``,
    ``model:<name>``) never puts an escape sequence into the query bar, which draws its value raw.
    """
    if _BARE.match(value) and not value.startswith("-") and clean(value) == value:
        return value
    return '"' + clean(value.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _last_word(text: str) -> tuple[str, str] | None:
    """(text before the last word, the last word) or None when the cursor is in a quote or a space."""
    if not text or text[-1].isspace() or text.count('"') % 2:
        return None
    cut = max(text.rfind(" "), text.rfind("\t")) + 1
    return text[:cut], text[cut:]


def _first(prefix: str, candidates: Iterable[str]) -> str | None:
    lowered = prefix.lower()
    for candidate in candidates:
        if len(candidate) > len(prefix) and candidate.lower().startswith(lowered):
            return candidate
    return None


def complete(text: str, *, models: Sequence[str] = (), features: Sequence[str] = (),
             contexts: Sequence[str] = ()) -> str | None:
    """``text`` with its last word completed, or None when there is nothing to add."""
    if text.count('"') % 2 and models:
        # Inside an open quote after model: (names with spaces): finish the name and close the quote.
        head, _, partial = text.rpartition('"')
        if head.endswith("model:") and (len(head) == 6 or head[-7] in " -"):
            name = _first(partial, [m for m in models if '"' not in m and "\\" not in m])
            return None if name is None else f'{text}{name[len(partial):]}"'
        return None
    split = _last_word(text)
    if split is None:
        return None
    head, word = split
    sign = "-" if word.startswith("-") else ""
    word = word[len(sign):]
    if not word:
        return None
    field, colon, value = word.partition(":")
    if colon:
        pool: Sequence[str] = {"model": [quote_value(m) for m in models], "status": STATUS_VALUES,
                               "since": TIME_VALUES, "until": TIME_VALUES}.get(field.lower(), ())
        done = _first(value, pool) if value else (pool[0] if pool else None)
        return None if done is None else f"{head}{sign}{field}{colon}{done}"
    names = [*FIELDS, *(f"features.{name}" for name in features if " " not in name),
             *(f"context.{name}" for name in contexts if " " not in name)]
    if word.startswith(("features.", "context.")):
        names = names[len(FIELDS):]  # past the dot: only real keys
    done = _first(word, names)
    if done is None:
        return None
    # Keep what was typed (case included) and add the rest of the candidate.
    return f"{head}{sign}{word}{done[len(word):]}"
