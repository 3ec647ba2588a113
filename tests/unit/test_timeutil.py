import pytest

from app.timeutil import age_text, ms_to_iso, parse_duration_ms, parse_time_ref, parse_timestamp


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-24T10:00:00Z", 1795514400000),
        ("2026-11-24T12:00:00+02:00", 1795514400000),
        ("2026-11-24T10:00:00.123456Z", 1795514400123),
        (1795514400, 1795514400000),
        (1795514400.5, 1795514400500),
        (1795514400123, 1795514400123),
        ("1795514400", 1795514400000),
    ],
)
def test_timestamps_become_utc_epoch_ms(given, expected):
    assert parse_timestamp(given) == expected


@pytest.mark.parametrize("given", ["2026-11-24T10:00:00", "yesterday", True, None, float("nan"), [1]])
def test_ambiguous_or_invalid_timestamps_are_refused(given):
    with pytest.raises(ValueError):
        parse_timestamp(given)


def test_iso_round_trip():
    assert ms_to_iso(1795514400123) == "2026-11-24T10:00:00.123Z"
    assert parse_timestamp(ms_to_iso(1795514400123)) == 1795514400123


def test_durations_and_relative_times():
    assert parse_duration_ms("15m") == 900_000
    assert parse_time_ref("2h", now=10_000_000) == 10_000_000 - 7_200_000
    # as --at's help writes it, and as people say it
    assert parse_time_ref("2h ago", now=10_000_000) == parse_time_ref(" 2h AGO", now=10_000_000) == 2_800_000
    with pytest.raises(ValueError):
        parse_time_ref("ago", now=0)
    assert parse_time_ref("2026-11-24", now=0) == 1795478400000
    with pytest.raises(ValueError):
        parse_duration_ms("2 fortnights")
    assert age_text(3_700_000) == "1h"
