"""The Logs screen's record detail on a real store holding a record with a 5 MB field of hostile text:
it is built in a worker (the screen answers keys while it loads), read in parts (pgdn/pgup, ctrl+end)
and never shows an escape or parses markup.

The one stand-in: a gate (threading.Event) holds the real view function (app.views.record.record_part)
before it runs, so the test can press keys while a part is loading without relying on timing. The
function itself, the store, the worker and the screen are the real ones.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.store import Store
from app.store.bulk import write_all
from app.views import record as record_view
from app.views.record import LOADING, PART_CHARS
from screens.logs import LogsScreen
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row
from widgets.log_table import LogTable
from widgets.record_detail import RecordDetail
from tests.tui.conftest import settle_superseded as settle

NOW = BASE_MS + SPAN_MS
HOSTILE = "[bold red]LATE[/]\x1b[2J\x07\u202eOSC\x1b]52;c;cGF3bmVk\x07"
BLOB = "x" * 5_000_000 + HOSTILE + " the end"


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("detail") / "detail.db"
    records = random_records(40, seed=7)
    records[0]["ts"] = NOW - 1000  # the newest: first on the screen
    records[0]["request_id"] = "req-big"
    records[0]["features"] = {"blob": BLOB, "amount": 12}
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
    return path


def detail_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(RecordDetail).query_one("Static").render())


async def test_the_detail_loads_off_the_ui_thread_and_pages_through_a_5_mb_field(
        big_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    gate = threading.Event()
    gate.set()
    real = record_view.record_part

    def gated(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert gate.wait(30), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(record_view, "record_part", gated)
    app = ModeldeckApp(big_db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")  # every model's logs, the query bar focused
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        table = screen.query_one(LogTable)
        await pilot.press("escape")  # the query bar -> the results
        assert screen.focused is table
        assert screen.window.rows[0]["request_id"] == "req-big"
        assert "req-big" in detail_text(app) and "part 1 of " in detail_text(app)

        # While a part is loading (held at the gate), the screen answers: the cursor moves, enter opens
        # the record, and the detail says so instead of freezing.
        gate.clear()
        await pilot.press("down")
        assert table.cursor_row == 1 and detail_text(app) == LOADING
        await pilot.press("up")
        assert table.cursor_row == 0 and detail_text(app) == LOADING
        await pilot.press("enter")
        assert screen.record_open and "req-big" in str(screen.query_one("#logs-title").render())
        await pilot.press("pagedown")
        assert detail_text(app) == LOADING
        gate.set()
        await settle(pilot)
        first = detail_text(app)
        assert first.startswith("part 1 of ") and "req-big" in first  # the record under the cursor, not a stale one
        parts = int(first.split("part 1 of ")[1].split()[0])
        assert parts == -(-(len(BLOB) + 1000) // PART_CHARS) or parts > 5_000_000 // PART_CHARS

        # pgdn reads on: through the part, then into the next one, which names itself.
        for _ in range(200):  # bounded: a part is a few hundred lines
            await pilot.press("pagedown")
            await settle(pilot)
            if detail_text(app).startswith("part 2 of"):
                break
        second = detail_text(app)
        assert second.startswith(f"part 2 of {parts}") and "features (continued)" in second
        assert len(second) < PART_CHARS + 1000  # a part, never the whole field, is in the widget

        # The last part: the hostile tail shown literally, no escape reaches the screen.
        await pilot.press("ctrl+end")
        await settle(pilot)
        last = detail_text(app)
        assert last.startswith(f"part {parts} of {parts}") and "the end" in last and "store id" in last
        assert "[bold red]LATE[/]" in last and "\\u001b[2J" in last and "\\u202e" in last
        assert not any(ch in last for ch in "\x1b\x07\u202e")
        # pgup at the top of a part goes to the end of the one before.
        await pilot.press("ctrl+pageup")
        await settle(pilot)
        assert detail_text(app).startswith(f"part {parts - 1} of {parts}")
        await pilot.press("pageup")
        await settle(pilot)
        assert detail_text(app).startswith(f"part {parts - 2} of {parts}")
        assert screen.query_one(RecordDetail).scroll_y > 0  # landed on the end of that part
        # Reading the results again (ctrl+r) keeps the cursor on this record and the part being read.
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert screen.record_open and detail_text(app).startswith(f"part {parts - 2} of {parts}")

        # The screen goes while a part loads: its worker is cancelled and nothing is mounted.
        gate.clear()
        await pilot.press("ctrl+home")
        await pilot.pause()
        loading = [w for w in app.workers if w.group == "logs-detail" and not w.is_finished]
        assert loading and detail_text(app) == LOADING
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, LogsScreen)
        gate.set()
        await settle(pilot)
        assert all(w.is_cancelled for w in loading)
