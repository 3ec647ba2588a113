"""The Logs screen's query history file (app.search.history) on a real state directory: per store, and
two consoles on one store keep both their queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.search import history


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(history.ENV, str(tmp_path / "state"))
    return tmp_path


def test_two_consoles_on_one_store_keep_both_their_queries(state: Path) -> None:
    store = state / "prod.db"
    # Console A opened (read nothing yet), console B too; they run queries in turn.
    history.add(store, "status:error")  # A
    history.add(store, "model:fraud since:2h")  # B
    history.add(store, "entity:cust-4")  # A
    history.add(store, "status:error")  # B runs A's first query again: it moves to the end, once
    assert history.load(store) == ["model:fraud since:2h", "entity:cust-4", "status:error"]
    # Another store has its own history; a query with a newline stays one entry.
    other = state / "staging.db"
    history.add(other, "model:churn\nstatus:error")
    assert history.load(other) == ["model:churn status:error"]
    assert len(history.load(store)) == 3


def test_the_history_keeps_the_newest_entries_only(state: Path) -> None:
    store = state / "prod.db"
    for i in range(history.KEEP + 5):
        history.add(store, f"entity:cust-{i}")
    kept = history.load(store)
    assert len(kept) == history.KEEP and kept[-1] == f"entity:cust-{history.KEEP + 4}" and kept[0] == "entity:cust-5"
