"""The Logs histogram's bars over a result set's own time range: round widths, aligned, within the screen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.views.logs import BAR_WIDTHS_MS, bar_grid

DAY = 86_400_000


@given(first=st.integers(0, 4_000_000_000_000), length=st.integers(0, 800 * DAY), buckets=st.integers(10, 200))
def test_bars_hold_the_range_in_round_aligned_widths_and_fit_the_screen(first: int, length: int, buckets: int) -> None:
    last = first + length
    start, end, bars = bar_grid(first, last, buckets)
    width = (end - start) // bars
    assert start <= first and last < end and (end - start) % bars == 0
    assert 0 < bars <= buckets  # at least one bar, never more than the screen has
    assert start % width == 0  # a bar starts on its own round time (the minute, the hour, the day ...)
    assert width in BAR_WIDTHS_MS or width % DAY == 0
    # The finest round width that fits: the next finer one would need more bars than the screen has.
    finer = [w for w in BAR_WIDTHS_MS if w < width]
    if finer:
        w = finer[-1]
        assert (last - (first - first % w)) // w + 1 > buckets


def test_a_few_matches_close_together_make_a_few_minute_bars() -> None:
    start, end, bars = bar_grid(10 * 3_600_000 + 5, 10 * 3_600_000 + 150_000, 76)
    assert (start, bars, (end - start) // bars) == (10 * 3_600_000, 3, 60_000)
