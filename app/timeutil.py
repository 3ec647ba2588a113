"""Time conversions shared by ingest, search, drift and the screens.

The store keeps every timestamp as Unix epoch milliseconds in UTC; people see ISO-8601.
"""

from __future__ import annotations

import re
import time
from enum import Enum
from datetime import datetime, timedelta, timezone

# Epoch values above this are taken as milliseconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 100_000_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def epoch_to_ms(value: float) -> int:
    """Epoch seconds or milliseconds (told apart by magnitude) to epoch milliseconds."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("timestamp is not a finite number")
    if abs(value) >= _EPOCH_MS_THRESHOLD:
        return int(value)
    return int(round(value * 1000))


def iso_to_ms(text: str) -> int:
    """ISO-8601 with an explicit offset (``Z`` or ``+02:00``) to UTC epoch milliseconds.

    A timestamp without an offset is refused: guessing the zone of a log line is how
    incidents get misdated.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp has no UTC offset: {text!r}")
    # Integer arithmetic on the timedelta's parts: exact, and ~1 us faster than dividing timedeltas.
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_timestamp(value: object) -> int:
    """A record's ``ts`` (ISO string, epoch number, or digits in a string) to epoch ms."""
    if isinstance(value, bool):
        raise ValueError("timestamp is a boolean")
    if isinstance(value, (int, float)):
        return epoch_to_ms(float(value))
    if isinstance(value, str):
        stripped = value.strip()
        # Most log lines carry ISO text: don't make them pay for a failed float() (~2 us a line in ingest).
        if "T" not in stripped and stripped[4:5] != "-":
            try:
                return epoch_to_ms(float(stripped))
            except ValueError:
                pass
        return iso_to_ms(stripped)
    raise ValueError(f"timestamp must be a string or a number, not {type(value).__name__}")


def ms_to_iso(ms: int) -> str:
    """Epoch ms to ISO-8601 UTC with millisecond precision, e.g. 2026-11-24T10:00:00.123Z."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class TimeFormat(Enum):
    """The named ways a UTC time is shown (every screen and command uses these, never ISO slicing)."""

    DATE = "%Y-%m-%d"  # 2026-11-24
    MONTH_DAY = "%m-%d"  # 11-24 (day labels on a chart axis, narrow tables)
    MINUTE = "%Y-%m-%d %H:%M"  # 2026-11-24 10:15
    DAY_MINUTE = "%m-%d %H:%M"  # 11-24 10:15 (narrow tables, chart axes)
    DAY_SECONDS = "%m-%d %H:%M:%S"  # 11-24 10:15:02 (log rows)
    CLOCK = "%H:%M"  # 10:15
    CLOCK_SECONDS = "%H:%M:%S"  # 10:15:02


def format_ms(ms: int | None, fmt: TimeFormat, *, missing: str = "—") -> str:
    """Epoch ms as ``fmt`` in UTC; ``missing`` for no time."""
    if ms is None:
        return missing
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(fmt.value)


def parse_duration_ms(text: str) -> int:
    """``15m``, ``2h``, ``7d`` ... to milliseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration (use e.g. 15m, 2h, 7d): {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_time_ref(text: str, *, now: int | None = None) -> int:
    """A point in time: a duration back from now (``2h``), an ISO timestamp, or epoch."""
    reference = now_ms() if now is None else now
    try:
        return reference - parse_duration_ms(text)
    except ValueError:
        pass
    try:
        return parse_timestamp(text)
    except ValueError:
        # A bare date or a naive timestamp on the command line means UTC.
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"not a time (use 2h, 7d or an ISO timestamp): {text!r}") from None
        return (parsed.replace(tzinfo=parsed.tzinfo or timezone.utc) - _EPOCH) // timedelta(milliseconds=1)


def age_text(ms_ago: int) -> str:
    """A compact age for tables: 4s, 3m, 2h, 5d."""
    seconds = max(0, ms_ago) // 1000
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
