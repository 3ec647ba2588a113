"""Model cards: the stored card (``versions.card``, JSON ``{section name: Markdown}``) parsed and checked.

The required sections follow Mitchell et al., "Model Cards for Model Reporting" (2019). Teams name
their headings freely ("Intended uses", "2. Training dataset", "ethicalConsiderations"), so a heading
is classified by its words, not matched exactly. Mitchell's optional "Quantitative analyses" is not
required; "Ethical considerations" and "Caveats and recommendations" together count as one section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

# section id -> the title shown to people, in the paper's order.
REQUIRED_SECTIONS: dict[str, str] = {
    "model_details": "Model details",
    "intended_use": "Intended use",
    "factors": "Factors",
    "metrics": "Metrics",
    "evaluation_data": "Evaluation data",
    "training_data": "Training data",
    "caveats": "Ethical considerations / caveats and recommendations",
}

# A body that only says "fill me in" does not count as written.
_PLACEHOLDERS = {"", "todo", "tbd", "tba", "fixme", "-", "--", "?", "xxx", "lorem ipsum"}
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(heading: str) -> list[str]:
    text = _CAMEL.sub(" ", heading)
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and not w.isdigit()]


def classify_heading(heading: str) -> str | None:
    """The required section a heading stands for, or None (an extra section)."""
    words = _words(heading)
    if not words:
        return None

    def has(*prefixes: str) -> bool:
        return any(w.startswith(p) for w in words for p in prefixes)

    # Order matters: "evaluation metrics" is metrics, "evaluation data" is data, "training data" is training.
    if has("caveat", "ethic", "limitation", "recommendation", "risk"):
        return "caveats"
    if has("train"):
        return "training_data"
    if has("eval", "test", "validation", "holdout") and has("data"):
        return "evaluation_data"
    if has("metric") or (has("performance") and has("measure")):
        return "metrics"
    if has("factor"):
        return "factors"
    if has("intended", "usage", "use"):
        return "intended_use"
    if has("detail", "overview") or (has("model") and has("information", "info", "description")):
        return "model_details"
    return None


def _body_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # Structured sections (lists of metrics, dicts of fields) count by their content.
    if isinstance(value, (dict, list)) and not value:
        return ""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def is_placeholder(text: str) -> bool:
    return text.strip().lower().rstrip(".").strip() in _PLACEHOLDERS


def split_markdown(text: str) -> dict[str, str]:
    """A whole Markdown document as {heading: body}; text before the first heading is dropped
    unless there is no heading at all (then it is one untitled section)."""
    sections: dict[str, str] = {}
    heading: str | None = None
    lines: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _ATX_HEADING.match(line)
        if match:
            if heading is not None:
                sections[heading] = "\n".join(lines).strip()
            heading, lines = match.group(2).strip(), []
        else:
            lines.append(line)
    if heading is not None:
        sections[heading] = "\n".join(lines).strip()
    elif text.strip():
        sections[""] = text.strip()
    return sections


@dataclass
class ParsedCard:
    """What a card contains, by required section."""

    # section id -> (heading as written, body text), first heading wins when two map to one id.
    sections: dict[str, tuple[str, str]] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)  # ids whose heading exists but says nothing
    extras: list[str] = field(default_factory=list)  # headings that map to no required section
    raw: dict[str, str] = field(default_factory=dict)  # every heading -> body, in stored order

    @property
    def missing(self) -> list[str]:
        """Required ids absent or only a placeholder, in the paper's order."""
        return [sid for sid in REQUIRED_SECTIONS if sid not in self.sections]

    @property
    def present(self) -> list[str]:
        return [sid for sid in REQUIRED_SECTIONS if sid in self.sections]

    @property
    def complete(self) -> bool:
        return not self.missing


def parse_card(card: dict[str, Any] | str | None) -> ParsedCard:
    """Parse a stored card: a {section: Markdown} mapping, or a whole Markdown document."""
    if card is None:
        return ParsedCard()
    raw = split_markdown(card) if isinstance(card, str) else {str(k): _body_text(v) for k, v in card.items()}
    parsed = ParsedCard(raw=raw)
    for heading, body in raw.items():
        sid = classify_heading(heading)
        if sid is None:
            parsed.extras.append(heading)
        elif is_placeholder(body):
            if sid not in parsed.empty:
                parsed.empty.append(sid)
        elif sid not in parsed.sections:
            parsed.sections[sid] = (heading, body)
    parsed.empty = [sid for sid in REQUIRED_SECTIONS if sid in parsed.empty and sid not in parsed.sections]
    return parsed


def card_markdown(card: dict[str, Any] | str | None) -> str:
    """The card as one Markdown document, sections in stored order (for a Markdown viewer)."""
    if card is None:
        return ""
    if isinstance(card, str):
        return card
    parts = [f"## {heading}\n\n{_body_text(body).strip()}" for heading, body in card.items()]
    return "\n\n".join(parts) + ("\n" if parts else "")
