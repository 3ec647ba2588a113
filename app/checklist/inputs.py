"""Evidence an operator gives the checklist without the demo or a registry (issue 13): a version's model
card and its offline metrics (benchmarks). Both are audited (who, when) and refused when modeldeck
runs read-only. The readiness rules read ``versions.card`` / ``versions.metrics`` whoever wrote them.
"""

from __future__ import annotations

import math
from typing import Any

from app.checklist.evaluate import ChecklistError
from app.checklist.model_card import REQUIRED_SECTIONS, parse_card, split_markdown
from app.store.identity import current_actor
from app.timeutil import now_ms

# A local card or metrics carry this source; a registry sync uses its own name and never overwrites it.
LOCAL_SOURCE = "local"
MAX_CARD_BYTES = 1 << 20


def parse_figures(pairs: list[str]) -> dict[str, float]:
    """``["accuracy=0.93", "p95_latency_ms=41"]`` as numbers; a one-line ChecklistError otherwise."""
    figures: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ChecklistError(f"expected NAME=NUMBER, got {pair!r}")
        try:
            number = float(value)
        except ValueError:
            raise ChecklistError(f"{name}: {value!r} is not a number") from None
        figures[name] = number
    return check_figures(figures)


def check_figures(figures: Any) -> dict[str, float]:
    """A JSON object of finite numbers (what ``--from FILE.json`` must hold)."""
    if not isinstance(figures, dict) or not figures:
        raise ChecklistError("metrics must be a non-empty JSON object of NAME: NUMBER")
    out: dict[str, float] = {}
    for name, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ChecklistError(f"{name}: {value!r} is not a finite number")
        out[str(name)] = value
    return out


def set_card(store: Any, model: str, version: str, markdown: str, *, read_only: str | None = None,
             actor: str | None = None) -> list[str]:
    """Store ``markdown`` as ``version``'s card (untrusted text, kept as given, by section) and audit it.
    Returns the required sections still missing. ``read_only`` is why changes are refused, if they are."""
    if read_only:
        raise ChecklistError(f"refused: {read_only}")
    if len(markdown.encode()) > MAX_CARD_BYTES:
        raise ChecklistError("the card is larger than 1 MiB")
    card = split_markdown(markdown)
    if not card:
        raise ChecklistError("the card is empty")
    who, now = actor or current_actor(), now_ms()
    missing = [REQUIRED_SECTIONS[sid] for sid in parse_card(card).missing]
    with store.write():
        store.registry.set_card(model, version, card, source=LOCAL_SOURCE, by=who, at=now)
        store.audit.append("card.set", model, actor=who, ts=now, outcome="set",
                           detail={"version": version, "sections": len(card), "missing": missing})
    return missing


def set_metrics(store: Any, model: str, version: str, figures: dict[str, float], *, read_only: str | None = None,
                actor: str | None = None) -> dict[str, Any]:
    """Merge ``figures`` into ``version``'s offline metrics and audit it; returns the metrics now stored."""
    if read_only:
        raise ChecklistError(f"refused: {read_only}")
    figures = check_figures(figures)
    who, now = actor or current_actor(), now_ms()
    with store.write():
        stored = store.registry.set_metrics(model, version, figures, source=LOCAL_SOURCE, by=who, at=now)
        store.audit.append("metrics.set", model, actor=who, ts=now, outcome="set",
                           detail={"version": version, "figures": figures})
    return stored
