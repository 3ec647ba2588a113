"""Which version the rollback modal starts on: what served last, but not a version a rollback fled."""

from dataclasses import dataclass

from app.rollback.history import choose_default

HOUR = 3_600_000


@dataclass
class Target:
    version: str
    created_at: int | None
    last_active_at: int | None
    rolled_back_from_at: int | None = None


def test_the_version_that_served_last_is_the_default():
    older, newer = Target("v1", 1, 5 * HOUR), Target("v2", 2, 9 * HOUR)
    assert choose_default([older, newer]) is newer


def test_a_version_traffic_was_rolled_back_away_from_yields_to_another_that_served():
    fled = Target("v3.2.0", 3, 9 * HOUR, rolled_back_from_at=9 * HOUR)
    good = Target("v3.0.0", 1, 2 * HOUR)
    assert choose_default([fled, good]) is good


def test_it_is_not_the_default_even_when_it_is_the_only_one_that_served():
    # The demo's credit-limit: v3.2.0 was rolled back for the last incident; v3.0.0 never served in the
    # log's time span. The default is the older archived version, never the incident's.
    active = Target("v3.1.2", 2, 10 * HOUR)
    fled = Target("v3.2.0", 3, 9 * HOUR, rolled_back_from_at=9 * HOUR)
    never = Target("v3.0.0", 1, None)
    assert choose_default([fled, never], active) is never


def test_it_is_the_default_when_it_is_the_only_candidate():
    fled = Target("v3.2.0", 3, 9 * HOUR, rolled_back_from_at=9 * HOUR)
    assert choose_default([fled]) is fled


def test_an_outcome_whose_read_back_failed_never_says_nothing_serving():
    from app.rollback.actions import Outcome

    failed_read = Outcome("fraud", "disable", "unknown", None, readback=None, read_back=False)
    assert "read back failed" in failed_read.describe() and "nothing serving" not in failed_read.describe()
    unsent = Outcome("fraud", "disable", "failed", None, read_back=False, sent=False)
    assert "nothing was sent" in unsent.describe() and "nothing serving" not in unsent.describe()
    read = Outcome("fraud", "disable", "succeeded", None, readback=None)
    assert "read back: nothing serving" in read.describe()
