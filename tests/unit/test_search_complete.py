"""Query-bar completion, value quoting, and the result window the Logs screen pages with."""

from __future__ import annotations

import pytest

from app.search.searcher import Page
from app.search.complete import complete, quote_value
from app.search.language import FieldTerm, parse
from app.views.search_window import ResultWindow

MODELS = ["churn-predictor", "fraud-scorer", "fraud v2"]


@pytest.mark.parametrize("typed, completed", [
    ("mod", "model:"), ("-sta", "-status:"), ("model:fr", "model:fraud-scorer"), ("model:", "model:churn-predictor"),
    ("status:e", "status:error"), ("since:", "since:15m"), ("lat", "latency_ms"), ("x features.am", "x features.amount"),
    ("features.co", "features.country"), ("context.re", "context.region"), ("model:\"fr", 'model:"fraud-scorer"'), ("model:zz", None),
    ("", None), ("model:fraud ", None), ("qqq", None), ("model:fraud-scorer", None),
])
def test_completes_the_last_word(typed: str, completed: str | None) -> None:
    assert complete(typed, models=MODELS, features=["amount", "country"], contexts=["region"]) == completed


def test_a_model_name_with_a_space_is_completed_quoted_and_parses_back() -> None:
    assert complete("model:fraud", models=["fraud v2"]) is None  # a suggestion only ever adds to the text
    done = complete('x -model:"fraud', models=["fraud v2"])
    assert done == 'x -model:"fraud v2"'
    assert complete('"fraud', models=["fraud v2"]) is None  # free text in quotes: nothing to complete
    assert parse(done, now=0).terms[1] == FieldTerm("model", "=", "fraud v2", negated=True)


@pytest.mark.parametrize("value", ["cust-42", "a b", 'say "hi"', "back\\slash", "-dash", "x:y>z", "ünï"])
def test_quoted_values_read_back_as_the_same_value(value: str) -> None:
    (term,) = parse(f"entity:{quote_value(value)}", now=0).terms
    assert term == FieldTerm("entity_id", "=", value)


def _page(ids: range, *, older: bool) -> Page:
    return Page([{"id": i, "ts": 1000 - i} for i in ids], has_older=older, has_newer=False)


def test_the_window_holds_three_pages_and_tracks_its_offset() -> None:
    window = ResultWindow(page_size=10, max_pages=3)
    window.reset(_page(range(0, 10), older=True))
    assert (window.offset, len(window.rows), window.has_newer) == (0, 10, False)
    assert window.near_bottom(8, 3) and not window.near_top(0, 3)
    for start in (10, 20):
        assert window.add_older(_page(range(start, start + 10), older=True)) == 0
    assert window.add_older(_page(range(30, 40), older=True)) == 10  # the page furthest away goes
    assert [r["id"] for r in window.rows] == list(range(10, 40)) and window.offset == 10 and window.has_newer
    assert window.last is not None and window.last.id == 39
    # Back up: the page above comes back, the bottom one goes, the numbering follows.
    assert window.add_newer(Page([{"id": i, "ts": 1000 - i} for i in range(0, 10)], True, False)) == 10
    assert [r["id"] for r in window.rows] == list(range(0, 30)) and window.offset == 0 and window.has_older
    assert window.first is not None and window.first.id == 0


def test_the_window_reaches_the_end() -> None:
    window = ResultWindow(page_size=10, max_pages=2)
    window.reset(_page(range(0, 10), older=True))
    window.add_older(_page(range(10, 14), older=False))
    assert not window.has_older and not window.near_bottom(13, 3) and len(window.rows) == 14
