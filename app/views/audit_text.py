"""One audit entry's detail as a short line a person reads: ``to v3.1.2 · INC-4821: error rate… · from v3.2.0``.

The Activity table has one narrow cell per entry: raw JSON there shows ``{"to":"…`` and
nothing else. The keys that say what happened come first, then the free text (reason, note,
error); the whole JSON stays in the detail pane below the table.
"""

from __future__ import annotations

from typing import Any

# Keys that name what the action was about, in reading order ("to v3.2.0", "area features").
_LEADING = ("to", "area", "role", "rule", "severity", "version")
# Free text: what went wrong (labelled), then why it was done (as it is). Before the keys below,
# which a narrow cell can do without.
_TEXT = (("refused", "refused: "), ("error", "error: "), ("reason", ""), ("note", ""))
# Where it came from and what the read-back saw.
_TRAILING = ("from", "previous", "readback", "health")
# Shown only in the full JSON: where, ids and timings do not tell entries apart at a glance.
_SKIP = {"endpoint", "intent_id", "elapsed_ms", "read_error", "health_reason", "alert_id", "fired_at", "owner"}


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != ""


def audit_summary(detail: dict[str, Any] | None) -> str:
    """The detail in one line, most telling first ("—" when there is none)."""
    if not detail:
        return "—"
    parts = [f"{key} {detail[key]}" for key in _LEADING if _scalar(detail.get(key))]
    parts += [f"{label}{detail[key]}" for key, label in _TEXT if _scalar(detail.get(key))]
    parts += [f"{key} {detail[key]}" for key in _TRAILING if _scalar(detail.get(key))]
    # Anything else scalar (an action this module does not know yet), after the known keys.
    known = {*_LEADING, *(key for key, _ in _TEXT), *_TRAILING, *_SKIP}
    parts += [f"{key} {value}" for key, value in detail.items() if key not in known and _scalar(value)]
    return " · ".join(parts) or "—"
