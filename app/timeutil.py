"""Time conversions shared by ingest, search, drift and the screens.

The store keeps every timestamp as Unix epoch milliseconds in UTC; people see ISO-8601.
"""

from __future__ import annotations

import re
import time
from enum import Enum
from datetime import datetime, timedelta, timezone

# Epoch numbers are told apart by magnitude, as log shippers do: below 1e11 seconds (1e11 s is the
# year 5138), below 1e14 milliseconds, below 1e17 microseconds, above that nanoseconds (Go's
# UnixNano, OpenTelemetry). Whatever falls outside MIN_MS..MAX_MS is refused (the line is
# quarantined with the reason), so no stored time is beyond what datetime can show.
_EPOCH_MS_THRESHOLD = 100_000_000_000
_EPOCH_US_THRESHOLD = 100_000_000_000_000
_EPOCH_NS_THRESHOLD = 100_000_000_000_000_000
MIN_MS = 0  # 1970-01-01
MAX_MS = 7_258_118_400_000  # 2200-01-01

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d|w)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# A duration of more than this many digits is beyond any store (and beyond int64 once in ms).
_MAX_DURATION_DIGITS = 12


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def epoch_to_ms(value: float | int) -> int:
    """Epoch seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude) to epoch
    milliseconds; ValueError for a value outside 1970-2200 or not a finite number."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError("timestamp is not a finite number")
    size = abs(value)
    if size < _EPOCH_MS_THRESHOLD:
        ms = int(round(value * 1000))
    elif size < _EPOCH_US_THRESHOLD:
        ms = int(value)
    elif size < _EPOCH_NS_THRESHOLD:
        ms = int(value) // 1000 if isinstance(value, int) else int(value / 1000)
    else:
        ms = int(value) // 1_000_000 if isinstance(value, int) else int(value / 1_000_000)
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(f"timestamp {_short_number(value)} is outside 1970-2200 "
                         "(read as epoch s, ms, us or ns by its size)")
    return ms


def _short_number(value: float | int) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + f"... ({len(text)} digits)"


def in_range_ms(value: object) -> int | None:
    """An epoch-ms number from an endpoint or a registry (``created_at``) as an int, or None when it is
    not a finite number within 1970-2200 (``1e300`` would overflow every display of it)."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 20:
        value = int(value)  # protobuf JSON writes int64 as a string (MLflow's REST API may)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (MIN_MS <= value <= MAX_MS):
        return None  # also NaN and the infinities
    return int(value) if MIN_MS <= value <= MAX_MS else None


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
        return epoch_to_ms(value)  # ints exactly: float() of a huge int raises OverflowError
    if isinstance(value, str):
        stripped = value.strip()
        # Most log lines carry ISO text: don't make them pay for a failed float() (~2 us a line in ingest).
        if "T" not in stripped and stripped[4:5] != "-":
            try:
                number = int(stripped) if stripped.isdigit() else float(stripped)
            except ValueError:
                pass
            else:
                return epoch_to_ms(number)
        ms = iso_to_ms(stripped)
        if not MIN_MS <= ms <= MAX_MS:
            raise ValueError(f"timestamp {stripped[:40]!r} is outside 1970-2200")
        return ms
    raise ValueError(f"timestamp must be a string or a number, not {type(value).__name__}")


def ms_to_iso(ms: int) -> str:
    """Epoch ms to ISO-8601 UTC with millisecond precision, e.g. 2026-11-24T10:00:00.123Z."""
    try:
        dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return f"(epoch ms {_short_number(ms)})"  # a time from data beyond datetime: shown, never a crash
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
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(fmt.value)
    except (OverflowError, ValueError, OSError):
        return "?"  # beyond datetime (a time from an endpoint or an old store): never a crash


def parse_duration_ms(text: str) -> int:
    """``15m``, ``2h``, ``7d`` ... to milliseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration (use e.g. 15m, 2h, 7d): {text!r}")
    if len(match.group(1)) > _MAX_DURATION_DIGITS:
        raise ValueError(f"duration too long (at most {_MAX_DURATION_DIGITS} digits): {text!r}")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_time_ref(text: str, *, now: int | None = None) -> int:
    """A point in time: a duration back from now (``2h``, or ``2h ago`` as people say it), an ISO timestamp,
    or epoch."""
    reference = now_ms() if now is None else now
    back = text.strip()
    if back.lower().endswith(" ago"):
        back = back[:-4]
    try:
        return reference - parse_duration_ms(back)
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
