"""The Logs screen driven by keys on a real store: query, page, open a record, copy, look around, export."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from textual.widgets import Input

from app.search import Searcher
from app.search_parse import parse
from app.store import Store
from app.store.bulk import write_all
from app.store.predictions import record_from_row
from screens.logs import LogsScreen
from screens.model import ModelScreen
from tests.integration.search_support import BASE_MS, SPAN_MS, random_records, to_row
from widgets.log_table import LogTable
from widgets.query_bar import QueryBar
from widgets.record_detail import RecordDetail

NOW = BASE_MS + SPAN_MS
N = 10_300  # more than the count cap (10,000): the empty query says "more than"
HOSTILE = "[bold red]x[/]\x1b[2J\x07\u202e"


@pytest.fixture(scope="module")
def logs_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "logs.db"
    records = random_records(N, seed=31)
    records[0]["context"] = {"client": HOSTILE, "region": "eu-west"}
    records[0]["ts"] = NOW - 1000  # the newest record: first on the screen
    records[0]["entity_id"] = "cust-7"
    records[0]["model"] = "fraud"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
    return path


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let every read finish and be shown (a superseded read is cancelled: that is fine here)."""
    from textual.worker import WorkerCancelled

    for _ in range(4):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        await pilot.pause()


def make_app(db: Path):  # type: ignore[no-untyped-def]
    from app.config import Settings, UIConfig
    from app.tui import ModeldeckApp

    return ModeldeckApp(db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)


def expected_ids(db: Path, text: str) -> list[int]:
    with Store.open(db, read_only=True) as store:
        return [r["id"] for r in Searcher(store.conn).iter_rows(parse(text, now=NOW))]


def status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#logs-status").render())


def detail_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(RecordDetail).query_one("Static").render())


async def open_logs(pilot, query: str) -> LogsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen) and isinstance(screen.focused, QueryBar)
    if query:
        await pilot.press(*query, "enter")
        await settle(pilot)
    return screen


def check_window(screen: LogsScreen, expected: list[int]) -> None:
    window = screen.window
    held = [row["id"] for row in window.rows]
    assert held == expected[window.offset: window.offset + len(held)]
    assert len(held) <= window.max_rows  # never more than a page either side of the one on screen
    assert screen.query_one(LogTable).row_count == len(held)


async def test_type_a_query_and_page_through_every_result(logs_db: Path) -> None:
    expected = expected_ids(logs_db, "model:fraud status:error")
    assert 300 < len(expected) < 10_000
    app = make_app(logs_db)
    async with app.run_test(size=(80, 60)) as pilot:
        screen = await open_logs(pilot, "")
        assert "1-" in status(app) and "of more than 10,000" in status(app)  # bounded count, never a full one
        await pilot.press("slash")
        assert isinstance(screen.focused, QueryBar)
        screen.query_one(QueryBar).value = ""
        await pilot.press(*"model:fraud status:error", "enter")
        await settle(pilot)
        assert isinstance(screen.focused, LogTable)
        assert status(app).startswith(f"1-") and f"of {len(expected):,}" in status(app)
        check_window(screen, expected)
        # Page down to the very last result: the table slides, holding three pages at most.
        seen = set()
        table = screen.query_one(LogTable)
        for _ in range(len(expected)):
            await pilot.press("pagedown")
            await settle(pilot)
            check_window(screen, expected)
            seen.update(row["id"] for row in screen.window.rows)
            if screen.window.offset + table.cursor_row == len(expected) - 1:
                break
        assert seen == set(expected)  # every result was reachable
        assert screen.window.offset > 0 and not screen.window.has_older
        assert f"of {len(expected):,}" in status(app) and status(app).split(" of ")[0].endswith(f"{len(expected):,}")
        # And back up to the first one.
        for _ in range(len(expected)):
            await pilot.press("pageup")
            await settle(pilot)
            check_window(screen, expected)
            if screen.window.offset == 0 and table.cursor_row == 0:
                break
        assert status(app).startswith("1-")


async def test_bad_query_names_the_token_and_runs_nothing(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        before = screen.generation
        screen.query_one(QueryBar).value = ""
        await pilot.press(*"model:fraud latncy>5")
        error = str(screen.query_one("#logs-error").render())
        assert "did you mean latency_ms" in error and "column 13" in error
        assert error.splitlines()[0] == " " * 12 + "^" * len("latncy>5")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.generation == before and isinstance(screen.focused, QueryBar)


async def test_open_a_record_copy_its_id_and_look_around(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, "model:fraud")
        newest = screen.window.rows[0]
        assert newest["context"] and "cust-7" == newest["entity_id"]
        text = detail_text(app)
        # Every field, and the log's hostile text shown literally: markup and escapes are data.
        for part in (newest["request_id"], "ground truth", "features", "context", "[bold red]x[/]", "\\u001b[2J",
                     "\\u0007", "\\u202e", '"region": "eu-west"'):
            assert part in text, part
        assert not any(ch in text for ch in "\x1b\x07\u202e")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.maximized is screen.query_one(RecordDetail)
        await pilot.press("escape")
        assert screen.maximized is None and isinstance(app.screen, LogsScreen)
        await pilot.press("c")
        assert app.clipboard == newest["request_id"]
        await pilot.press("a")
        await settle(pilot)
        bar = screen.query_one(QueryBar)
        assert bar.value.startswith("entity:cust-7 since:")
        rows = screen.window.rows
        assert rows and all(r["entity_id"] == "cust-7" and abs(r["ts"] - newest["ts"]) <= 3_600_001 for r in rows)
        assert rows == [r for r in rows if r["model"] in ("fraud", "churn", "eta")]  # every model of the entity
        # Up in the query bar brings back the query before.
        await pilot.press("slash", "up")
        assert bar.value == "model:fraud"
        await pilot.press("escape")
        assert isinstance(screen.focused, LogTable)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ModelScreen) and app.screen.model == "fraud"
        await pilot.press("escape")
        assert app.screen is screen


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
async def test_export_the_results_with_a_progress_bar(logs_db: Path, tmp_path: Path, suffix: str) -> None:
    query = "status:error"
    expected = expected_ids(logs_db, query)
    app = make_app(logs_db)
    progress: list[tuple[int, int | None]] = []

    def hook(message) -> None:  # type: ignore[no-untyped-def]
        if isinstance(message, LogsScreen.ExportProgress):
            progress.append((message.written, message.total))

    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        screen = await open_logs(pilot, query)
        await pilot.press("x")
        await pilot.pause()
        box = app.screen.query_one(Input)
        assert box.value.endswith(".jsonl")
        target = tmp_path / f"hits.{suffix}"
        box.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert progress[-1] == (len(expected), len(expected))  # the bar knew the total and reached it
        assert not screen.query_one("#logs-export").has_class("running")
        assert screen.query_one("#logs-export-bar").percentage == 1
    with Store.open(logs_db, read_only=True) as store:
        rows = list(Searcher(store.conn).iter_rows(parse(query, now=NOW)))
    assert [r["id"] for r in rows] == expected
    if suffix == "jsonl":
        assert [orjson.loads(line) for line in target.read_bytes().splitlines()] == [record_from_row(r) for r in rows]
    else:
        table = list(csv.DictReader(target.open(newline="")))
        assert [t["request_id"] for t in table] == [r["request_id"] for r in rows]


async def test_export_never_overwrites_a_file(logs_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "keep.jsonl"
    target.write_text("precious\n")
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "status:error")
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert not screen.query_one("#logs-export").has_class("running")
    assert target.read_text() == "precious\n"


async def test_completion_of_fields_and_models(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        bar = screen.query_one(QueryBar)
        bar.value = ""
        await pilot.press(*"mod")
        await pilot.pause()
        await pilot.press("tab")
        assert bar.value == "model:"
        await pilot.press(*"fr")
        await pilot.pause()
        await pilot.press("tab")
        assert bar.value == "model:fraud"
        await pilot.press(*" features.am")
        await pilot.pause()
        await pilot.press("tab")
        assert bar.value == "model:fraud features.amount"


async def test_from_a_model_screen_and_from_the_command_line(logs_db: Path) -> None:
    expected = expected_ids(logs_db, "entity:cust-3")
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_model("churn")
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen) and screen.query_one(QueryBar).value == "model:churn"
        assert {row["model"] for row in screen.window.rows} == {"churn"}
        await pilot.press("escape")
        assert isinstance(app.screen, ModelScreen)
        await pilot.press("colon", *"search entity:cust-3", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        assert [row["id"] for row in screen.window.rows] == expected[:50]
