"""A Logs-screen read that must go through many rows says how far it has got, and esc stops it at once
(issue 18). The read is held at its first progress report (a threading.Event: the only stand-in here,
so the test does not depend on the machine's speed); everything else is the real screen on a real store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import app.store.search as store_search
import screens.logs as logs_screen
from app.store import Store
from app.store.bulk import write_all
from tests.support.search_records import random_records, to_row
from widgets.query_bar import QueryBar
from tests.tui.test_logs import make_app, open_logs, settle, status


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "scan.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(3000, seed=12)]])
    return path


async def test_a_long_read_shows_progress_and_esc_stops_it(db: Path, monkeypatch) -> None:
    monkeypatch.setattr(store_search, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(store_search, "PROGRESS_STEPS", 500)
    armed, release = threading.Event(), threading.Event()

    class HeldAtFirstReport(logs_screen.Throttled):
        def __call__(self, progress) -> None:  # type: ignore[no-untyped-def]
            first = self._last < 0
            super().__call__(progress)
            if first and armed.is_set():
                release.wait(10)  # the page lane's thread, inside SQLite: the read is "still going"

    monkeypatch.setattr(logs_screen, "Throttled", HeldAtFirstReport)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")  # the query bar has the focus
        screen.query_one(QueryBar).value = "context.region=nowhere"  # nothing in the zone map judges it
        await settle(pilot)
        armed.set()
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.02)
            if "searching" in status(app):
                break
        assert "searching" in status(app) and "esc stops" in status(app)
        await pilot.press("escape")
        assert app.screen is screen  # esc stopped the read; it did not leave the screen
        assert "search stopped (esc)" in status(app)
        release.set()
        await settle(pilot)
        assert "search stopped (esc)" in status(app)  # the interrupted read ended quietly
