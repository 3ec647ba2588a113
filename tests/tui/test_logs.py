"""The Logs screen driven by keys on a real store: query, page, open a record, copy, look around, export."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from textual.widgets import Input

from app.search.searcher import Searcher
from app.search.language import parse
from app.store import Store
from app.store.bulk import write_all
from app.store.json_keys import json_value
from app.store.predictions import record_from_row
from screens.logs import LogsScreen
from screens.model import ModelScreen
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row
from widgets.key_bar import KeyBar
from widgets.log_table import LogTable
from widgets.query_bar import QueryBar
from widgets.record_detail import RecordDetail
from tests.tui.conftest import settle_superseded as settle

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


def make_app(db: Path):  # type: ignore[no-untyped-def]
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    return ModeldeckApp(db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)


def expected_ids(db: Path, text: str) -> list[int]:
    with Store.open(db, read_only=True) as store:
        return [r["id"] for r in Searcher(store).iter_rows(parse(text, now=NOW))]


def status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#logs-status").render())


def detail_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one(RecordDetail).query_one("Static").render())


async def open_logs(pilot, query: str) -> LogsScreen:  # type: ignore[no-untyped-def]
    """`/` on the fleet: every model's logs, the query bar focused; then ``query`` typed and run (enter
    moves the focus to the results). With no query, the bar keeps the focus."""
    await settle(pilot)
    await pilot.press("slash")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen) and isinstance(screen.focused, QueryBar)
    assert screen.query_one(QueryBar).value == ""
    if query:
        await pilot.press(*query, "enter")
        await settle(pilot)
        assert isinstance(screen.focused, LogTable)
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
        # The long "did you mean ... fields: ..." message wraps at 80 columns instead of being cut.
        await pilot.pause()
        box = screen.query_one("#logs-error")
        assert box.size.width <= 80 and box.size.height >= 3
        assert len(error) > box.size.width and error.rstrip().endswith("(column 13)")
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
        # Full screen: the record under a title naming it, and the key bar says how to leave.
        assert screen.record_open and screen.query_one(LogTable).display is False
        assert screen.query_one(RecordDetail).region.height > 20  # the whole screen but title and key bar
        title = str(screen.query_one("#logs-title").render())
        assert "record" in title and newest["request_id"] in title
        keys = str(screen.query_one(KeyBar).render())
        assert keys.startswith("esc Back") and "c Copy id" in keys
        await pilot.press("escape")
        assert not screen.record_open and isinstance(app.screen, LogsScreen)
        assert isinstance(screen.focused, LogTable) and "record" not in str(screen.query_one("#logs-title").render())
        await pilot.press("c")
        assert app.clipboard == newest["request_id"]
        await pilot.press("a")
        await settle(pilot)
        bar = screen.query_one(QueryBar)
        assert bar.value.startswith("entity:cust-7 since:")
        rows = screen.window.rows
        # The cursor stays on the record we started from, not on the newest of the new results.
        assert screen.query_one(LogTable).cursor_row == [r["id"] for r in rows].index(newest["id"])
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
        # esc goes back where we came from: first the query before entity ±1h, then off the screen.
        assert "esc: previous query" in str(screen.query_one("#logs-title").render())
        assert "fleet › logs" in str(screen.query_one("#logs-title").render())  # the breadcrumb
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.query_text == "model:fraud" and bar.value == "model:fraud"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is not screen, (screen.focused, screen.previous_queries)


async def test_a_record_far_down_the_results_keeps_the_cursor(logs_db: Path) -> None:
    """`a` from a record: the new results open on that record even when it is pages down."""
    expected = expected_ids(logs_db, "model:fraud")
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        screen.run_query("model:fraud", anchor=expected[130])
        await settle(pilot)
        table = screen.query_one(LogTable)
        assert screen.window.offset + table.cursor_row == 130
        assert screen.window.rows[table.cursor_row]["id"] == expected[130]
        check_window(screen, expected)
        assert status(app).startswith(f"{screen.window.offset + int(table.scroll_y) + 1}-")
        # And by key: `a` on a record that is not its entity's newest in the hour around it.
        from app.timeutil import ms_to_iso

        for index, row in enumerate(screen.window.rows):
            if not row["entity_id"]:
                continue
            around = expected_ids(logs_db, f"entity:{row['entity_id']} since:{ms_to_iso(row['ts'] - 3_600_000)} "
                                           f"until:{ms_to_iso(row['ts'] + 3_600_001)}")
            if around.index(row["id"]) > 0:
                break
        else:
            pytest.fail("every record is its entity's newest: the data changed")
        table.focus()
        table.move_cursor(row=index)
        await pilot.pause()
        await pilot.press("a")
        await settle(pilot)
        assert screen.window.offset + table.cursor_row == around.index(row["id"])
        assert screen.window.rows[table.cursor_row]["id"] == row["id"] and row["request_id"] in detail_text(app)
        # esc: back to the query before, the cursor on the record it was on (not on the newest result).
        await pilot.press("escape")
        await settle(pilot)
        assert screen.query_text == "model:fraud" and not screen.previous_queries
        assert screen.window.rows[table.cursor_row]["id"] == row["id"]
        assert screen.window.offset + table.cursor_row == expected.index(row["id"])
        assert screen.overview is not None  # the histogram of the query is back too


async def test_versions_and_models_readable_at_80_columns(logs_db: Path) -> None:
    """At 80 columns v3.1.2 and v3.2.1 stay apart, and whole model names fit (the request id gives way)."""
    records = random_records(40, seed=5)
    for i, record in enumerate(records):
        record["model"] = ("credit-limit", "churn-predictor", "fraud-scorer")[i % 3]
        record["version"] = ("v3.1.2", "v3.2.1", "2024-01-15-build-7f3a9c")[i % 3]
    db = logs_db.parent / "versions.db"
    if not db.exists():
        with Store.open(db) as store:
            write_all(store.conn, [[to_row(r) for r in records]])
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        table = screen.query_one(LogTable)
        cells = {str(table.get_row_at(i)[table.shown_columns.index("version")]) for i in range(table.row_count)}
        assert {"v3.1.2", "v3.2.1"} <= cells
        long = next(c for c in cells if c.startswith("2024"))
        assert "…" in long and long.startswith("2024-") and long.endswith("7f3a9c")  # cut in the middle: both ends kept
        models = {str(table.get_row_at(i)[table.shown_columns.index("model")]) for i in range(table.row_count)}
        assert models == {"credit-limit", "churn-predictor", "fraud-scorer"}
        assert "request_id" not in table.shown_columns  # least useful here: left to the detail below
        await pilot.resize_terminal(130, 30)  # under WIDE: the table has the whole width
        await pilot.pause()
        assert "request_id" in table.shown_columns and "entity_id" in table.shown_columns


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
        assert box.value.endswith(".jsonl") and Path(box.value).is_absolute()
        assert str(Path.cwd().resolve()) in " ".join(str(s.render()) for s in app.screen.query("Static"))
        target = tmp_path / f"hits.{suffix}"
        box.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert progress[-1] == (len(expected), len(expected))  # the bar knew the total and reached it
        assert not screen.query_one("#logs-export").has_class("running")
        assert screen.query_one("#logs-export-bar").percentage == 1
    with Store.open(logs_db, read_only=True) as store:
        rows = list(Searcher(store).iter_rows(parse(query, now=NOW)))
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


async def _opened_logs(pilot, open_it) -> LogsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await open_it()
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, LogsScreen), screen
    return screen


async def test_every_way_of_opening_logs_focuses_the_query_bar_at_its_end(logs_db: Path) -> None:
    """Fleet `/` and `l`, model `l`, `:logs`, `:search`, the palette: the same screen state each time: the
    query bar focused holding the query (empty or model:NAME), the cursor at its end, that query's
    results read below; what the operator types next extends the query (no single-letter action fires)."""
    from app.console.app import ModeldeckApp
    from tests.tui.test_console import _palette_run

    async def fleet_slash(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("slash")

    async def fleet_l(pilot) -> None:  # type: ignore[no-untyped-def]
        from widgets.fleet_table import FleetTable

        table = pilot.app.screen.query_one(FleetTable)
        for row in range(table.row_count):
            table.move_cursor(row=row)
            if table.current_model == "churn":
                break
        assert table.current_model == "churn"
        await pilot.press("l")

    async def model_l(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.open_model("churn")
        await settle(pilot)
        await pilot.press("l")

    async def command_logs(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("colon", *"logs churn", "enter")

    async def command_search(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("colon", *"search model:churn", "enter")

    async def palette_model(pilot) -> None:  # type: ignore[no-untyped-def]
        await _palette_run(pilot, "search logs churn", "Search logs: churn")

    async def palette_all(pilot) -> None:  # type: ignore[no-untyped-def]
        from textual.command import CommandList

        await pilot.press("ctrl+p", *"search logs")
        for _ in range(100):  # bounded (5 s): the palette searches asynchronously
            await pilot.pause(0.05)
            commands = pilot.app.screen.query(CommandList)
            if commands and commands.first().option_count:
                break
        options = commands.first()
        options.highlighted = next(i for i in range(options.option_count)
                                   if "Search logs" in str(options.get_option_at_index(i).prompt)
                                   and "Search logs:" not in str(options.get_option_at_index(i).prompt))
        await pilot.press("enter")

    ways = {"palette": (palette_all, ""), "fleet /": (fleet_slash, ""), "fleet l": (fleet_l, "model:churn"), "model l": (model_l, "model:churn"),
            ":logs": (command_logs, "model:churn"), ":search": (command_search, "model:churn"),
            "palette model": (palette_model, "model:churn")}
    for way, (open_it, query) in ways.items():
        app: ModeldeckApp = make_app(logs_db)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await _opened_logs(pilot, lambda: open_it(pilot))
            bar = screen.query_one(QueryBar)
            assert screen.focused is bar, (way, screen.focused)
            assert bar.value.startswith(query) and bar.cursor_position == len(bar.value), (way, bar.value)
            # The opening query's results are already there below the bar.
            assert screen.window.rows, way
            if query:
                assert {row["model"] for row in screen.window.rows} == {"churn"}, way
            # Typing goes into the query (`a`, `f`, `x` would be actions on the results) as a term of its own
            # (a pre-filled model:NAME ends with a space), enter runs it.
            await pilot.press(*"status:error", "enter")
            await settle(pilot)
            assert screen.query_text == f"{query} status:error".strip(), way
            assert isinstance(screen.focused, LogTable) and app.screen is screen, way
            assert screen.window.rows and {row["status"] for row in screen.window.rows} == {"error"}, way
            # `/` goes back to the bar, the cursor at the end of the query shown.
            await pilot.press("slash")
            assert screen.focused is bar and bar.cursor_position == len(bar.value), way


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
        assert isinstance(screen, LogsScreen) and screen.query_one(QueryBar).value == "model:churn "
        assert {row["model"] for row in screen.window.rows} == {"churn"}
        await pilot.press("escape")  # the query bar -> the results
        assert isinstance(screen.focused, LogTable)
        await pilot.press("escape")
        assert isinstance(app.screen, ModelScreen)
        await pilot.press("colon", *"search entity:cust-3", "enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        assert [row["id"] for row in screen.window.rows] == expected[:50]


async def test_pages_of_a_query_share_one_store_and_searcher_until_the_screen_closes(logs_db: Path) -> None:
    import threading

    def lane_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("modeldeck-logs-")]

    expected = expected_ids(logs_db, "model:fraud status:error")
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:fraud status:error")
        lane = screen.lane("page")
        searcher = lane.searcher
        assert searcher is not None and lane.opens == 1
        compiled = len(searcher._search._sql)  # the SQL compiled for this query's pages (first page, older ones)
        # Page down far enough for several older pages: each one is read through the same Searcher.
        for _ in range(60):
            await pilot.press("pagedown")
            await settle(pilot)
            if screen.window.offset >= 2 * 50:
                break
        check_window(screen, expected)
        assert screen.window.offset >= 2 * 50  # at least four older pages were read
        assert lane.searcher is searcher and lane.opens == 1
        assert 0 < len(searcher._search._sql) <= compiled + 1  # compiled once for the first page, once for "older"
        assert screen.lane("count").opens == 1
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, LogsScreen)
    for thread in lane_threads():
        thread.join(timeout=5)
    assert not lane_threads() and lane.searcher is None  # the screen's stores are closed with it


async def test_key_bar_says_enter_opens_the_record_and_help_explains_the_query_language(logs_db: Path) -> None:
    from app.search import language as search_parse
    from screens.help import HelpScreen

    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:fraud")
        assert isinstance(screen.focused, LogTable)
        keys = str(screen.query_one(KeyBar).render())
        assert keys.startswith("esc Back  ⏎ Record")  # at 80 columns, the second thing the bar says
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "Query language (press /)" in text
        # Every field the parser knows, the operators, negation, quoting and time bounds are there...
        for part in ("request:", "entity:", "model:", "version:", "status:ok|error", "score", "latency_ms",
                     "prediction", "label", "features.KEY", "context.KEY", "since:", "until:", "differs:V@KEY",
                     ">=", "-term", 'KEY="a b"', "15m 2h 7d"):
            assert part in text, part
        # ...and every example the help gives is a query the parser accepts.
        for _, meaning in search_parse.reference():
            example = meaning.rpartition("(")[2].rstrip(")")
            if "(" in meaning:
                search_parse.parse(example, now=NOW)
        # The language comes before the generic keys, so it is on the first pages of help.
        assert text.index("Query language") < text.index("Everywhere")
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("enter")
        await pilot.pause()
        assert screen.record_open
        # Other screens' help has no query-language section.
        await pilot.press("escape", "escape")
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert "Query language" not in text


async def test_names_resolve_and_an_empty_answer_says_why(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:chu status:error")
        # A unique prefix: the results of the one model it names, and a note saying so.
        assert "model:chu means churn" in str(screen.query_one("#logs-error").render())
        assert screen.window.rows and {row["model"] for row in screen.window.rows} == {"churn"}
        assert "of " in status(app)
        # A likely typo: an error naming the closest model, no rows.
        await pilot.press("slash")
        screen.query_one(QueryBar).value = ""
        await pilot.press(*"model:frawd", "enter")
        await settle(pilot)
        assert "did you mean fraud?" in str(screen.query_one("#logs-error").render())
        assert not screen.window.rows
        # The fix is typed: the query bar has the focus back, the cursor after the typo.
        bar = screen.query_one(QueryBar)
        assert app.focused is bar and bar.cursor_position == len("model:frawd")
        # A valid query that finds nothing says which part found nothing, not just "no results".
        await pilot.press("slash")
        screen.query_one(QueryBar).value = ""
        await pilot.press(*"entity:nobody", "enter")
        await settle(pilot)
        assert not screen.window.rows
        assert "no record with entity 'nobody'" in status(app)
        assert "no record with entity 'nobody'" in detail_text(app)


async def test_q_shows_the_quarantined_lines_escaped_and_back(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from app.models import QuarantinedLine

    path = tmp_path / "q.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(30, seed=2)]])
        store.quarantine.add_many([QuarantinedLine(12, "{broken", "not JSON: unexpected end", "/logs/day.jsonl", NOW),
                                   QuarantinedLine(13, HOSTILE, "not JSON", "/logs/day.jsonl", NOW)])
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        await pilot.press("escape")  # the query bar -> the results
        assert isinstance(screen.focused, LogTable)
        await pilot.press("Q")
        await settle(pilot)
        table = screen.query_one("#logs-quarantine", DataTable)
        assert screen.showing_quarantine and table.display and not screen.query_one(LogTable).display
        assert table.row_count == 2 and "2 quarantined lines" in status(app)
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[1] == "day.jsonl:13" and "[bold red]x[/]\\x1b[2J\\x07" in cells[3]  # shown, never run
        assert "day.jsonl:12" in str(table.get_row_at(1)[1])
        await pilot.press("Q")
        assert not screen.showing_quarantine and screen.query_one(LogTable).display


async def test_n_and_N_walk_the_errors_across_pages(logs_db: Path) -> None:
    with Store.open(logs_db, read_only=True) as store:
        rows = list(Searcher(store).iter_rows(parse("model:eta", now=NOW), limit=400))
    errors = [i for i, row in enumerate(rows) if row["status"] == "error"]
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:eta")
        table = screen.query_one(LogTable)
        # From the top, n lands on each error in turn: well past the first page of 50.
        for expected in errors[:12]:
            await pilot.press("n")
            await settle(pilot)
            assert screen.window.offset + table.cursor_row == expected
        assert errors[11] >= 50
        await pilot.press("N")
        await settle(pilot)
        assert screen.window.offset + table.cursor_row == errors[10]


class _FollowedIngest:
    """`modeldeck ingest --follow` of a JSON Lines file (app.ingest.run.ingest, incremental: a commit per
    batch) into the store, in a thread of its own with its own connection, as a second process would;
    ``write`` appends records to the file as a service writes its log. Always stopped."""

    def __init__(self, store_path: Path, log: Path) -> None:
        import threading

        self.log, self.stop = log, threading.Event()
        log.touch()
        self.thread = threading.Thread(target=self._run, args=(store_path,), daemon=True)

    def _run(self, store_path: Path) -> None:
        from app.ingest.run import ingest

        with Store.open(store_path) as store:
            ingest(store, [str(self.log)], follow=True, stop=self.stop, poll_s=0.05, workers=0)

    def write(self, records: list[dict]) -> None:  # type: ignore[type-arg]
        with self.log.open("ab") as out:
            out.write(b"".join(orjson.dumps(r) + b"\n" for r in records))

    def __enter__(self) -> "_FollowedIngest":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def _late(n: int, first: int, *, ts: int) -> list[dict]:  # type: ignore[type-arg]
    """``n`` error records newer than everything in the store, newest last (as a log is written)."""
    records = random_records(n, seed=first, start=first)
    for i, record in enumerate(records):
        record.update(ts=ts + i, status="error", error=f"written while following {first + i}",
                      request_id=f"late-{first + i}")
    return records


async def _until(pilot, check, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Bounded wait (follow mode keeps a watcher thread: settle's wait for every worker is not the test)."""
    for _ in range(int(timeout_s / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError("timed out")


async def test_f_follows_records_as_a_real_ingest_writes_them_and_keeps_the_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """F: what `ingest --follow` commits shows on top within moments, the status saying how many came;
    moving the cursor off the newest pauses following (the place is kept, new records are counted
    above); F goes back to the newest; F again stops (and the watcher thread ends)."""
    import threading

    # Only the store's change probe may bring the records: the fallback poll is pushed past the test.
    monkeypatch.setattr("app.views.logs.FOLLOW_FALLBACK_S", 3600.0)

    path = tmp_path / "follow.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(400, seed=8)]])
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "status:error")
        table = screen.query_one(LogTable)
        errors_before = len(expected_ids(path, "status:error"))
        await pilot.press("F")
        await settle(pilot)  # the newest page (the watcher is a thread of its own, not a worker)
        assert screen.following and status(app).startswith("following · 0 new")
        with _FollowedIngest(path, tmp_path / "service.jsonl") as service:
            service.write(_late(3, 1000, ts=NOW))
            await _until(pilot, lambda: screen.window.rows and screen.window.rows[0]["request_id"] == "late-1002")
            assert [r["request_id"] for r in screen.window.rows[:3]] == ["late-1002", "late-1001", "late-1000"]
            assert table.cursor_row == 0
            await _until(pilot, lambda: status(app).startswith("following · 3 new"))
            await _until(pilot, lambda: f"of {errors_before + 3:,}" in status(app))  # the count went up too
            # Scroll away from the newest (like scrolling up in less +F): following pauses, the place stays.
            for _ in range(5):
                await pilot.press("down")
            await pilot.pause()
            held = screen.window.rows[table.cursor_row]
            assert status(app).startswith("following paused")
            service.write(_late(4, 2000, ts=NOW + 1000))
            await _until(pilot, lambda: "4 new above" in status(app) and f"of {errors_before + 7:,}" in status(app))
            assert screen.window.rows[table.cursor_row] is held and table.cursor_row == 5  # not moved
            assert not any(r["request_id"].startswith("late-200") for r in screen.window.rows)
            # Numbered where it now is: 4 newer records above it.
            assert screen.window.offset == 4
            assert status(app).startswith(f"following paused · 4 new above · F: newest · {4 + int(table.scroll_y) + 1}-")
            # F: back to the newest, following again.
            await pilot.press("F")
            await _until(pilot, lambda: screen.window.rows[0]["request_id"] == "late-2003" and not screen._fetching)
            assert table.cursor_row == 0 and status(app).startswith("following · 7 new")  # 3 + the 4 counted
            await _until(pilot, lambda: f"of {errors_before + 7:,}" in status(app))
            # A record open full screen is being read: what arrives meanwhile does not replace it.
            await pilot.press("enter")
            assert screen.record_open
            reading = screen.window.rows[0]["request_id"]
            service.write(_late(2, 3000, ts=NOW + 2000))
            await _until(pilot, lambda: "2 new above" in status(app))
            assert screen.window.rows[table.cursor_row]["request_id"] == reading and reading in detail_text(app)
            # esc closes the record (following goes on): the new records come in above it, the cursor stays.
            await pilot.press("escape")
            await _until(pilot, lambda: screen.window.rows[0]["request_id"] == "late-3001" and not screen._fetching)
            assert screen.following and not screen.record_open
            assert screen.window.rows[table.cursor_row]["request_id"] == reading
            assert status(app).startswith("following paused · 2 new above")
            await pilot.press("F")  # to the newest again
            await _until(pilot, lambda: table.cursor_row == 0 and not screen._fetching)
            assert status(app).startswith("following · 9 new")  # 3 + 4 + 2
            watch = screen._watch
            assert watch is not None and watch.running and watch.checks > 0
            await pilot.press("F")  # at the newest: F stops
            assert not screen.following and screen._watch is None
            watch.join(timeout=5)
            assert not watch.running
            assert not [t for t in threading.enumerate() if t.name == "modeldeck-logs-follow"]


async def test_query_history_outlives_the_session(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_logs(pilot, "status:error entity:cust-4")
    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "")
        await settle(pilot)
        bar = screen.query_one(QueryBar)
        await pilot.press("up")
        assert bar.value == "status:error entity:cust-4"


async def test_histogram_bar_moves_the_window_and_a_facet_narrows_the_query(logs_db: Path) -> None:
    app = make_app(logs_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, "model:eta since:10d")
        await settle(pilot)
        overview = screen.overview
        assert overview is not None and sum(overview.histogram.counts) == len(expected_ids(logs_db, "model:eta since:10d"))
        bars = str(screen.query_one("#logs-histogram").render())
        assert len(bars) == len(overview.histogram.counts) and any(ch in bars for ch in "▁▂▃▄▅▆▇█")
        # Choose a bar in the middle: the results move to its newest match.
        for _ in range(len(overview.histogram.counts) // 2):
            await pilot.press("less_than_sign")
        start, end = screen.bar_range(screen.bar)
        await pilot.press("t")
        await settle(pilot)
        # The cursor is on the bar's newest match, numbered where it is among all results (the
        # window then reads the page above it, as it does anywhere).
        table = screen.query_one(LogTable)
        current = screen.window.rows[table.cursor_row]
        assert start <= current["ts"] < end
        newer = sum(overview.histogram.counts[screen.bar + 1:])
        assert screen.window.offset + table.cursor_row == newer
        # Facets: status, versions, errors; choosing one adds it to the query.
        await pilot.press("f")
        await pilot.pause()
        from screens.facets import FacetPicker

        picker = app.screen
        assert isinstance(picker, FacetPicker)
        assert {f.field for f in picker.facets} == {"error", "version", "status"}
        versions = next(f for f in picker.facets if f.field == "version")
        key = next(k for k, term in picker.terms.items() if term.startswith("version:"))
        picker.query_one("OptionList").highlighted = next(
            i for i in range(picker.query_one("OptionList").option_count)
            if picker.query_one("OptionList").get_option_at_index(i).id == key)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen and screen.query_text == f"model:eta since:10d {picker.terms[key]}"
        wanted = picker.terms[key].split(":", 1)[1]
        assert screen.window.rows and {r["version"] for r in screen.window.rows} == {wanted}
        assert versions.values[0][0] == wanted


async def test_a_click_on_a_histogram_bar_moves_the_results_there(logs_db: Path) -> None:
    """The mouse path of `<`/`>` then `t`: clicking a bar chooses it and moves the results to its newest match."""
    app = make_app(logs_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, "model:eta since:10d")
        await settle(pilot)
        assert screen.overview is not None
        counts = screen.overview.histogram.counts
        index = next(i for i in range(len(counts) // 3, len(counts) - 1) if counts[i])  # an older bar with matches
        assert screen.bar == len(counts) - 1  # the newest is chosen until then
        await pilot.click("#logs-histogram", offset=(1 + index, 0))  # one cell of padding before the bars
        await settle(pilot)
        assert screen.bar == index
        start, end = screen.bar_range(index)
        table = screen.query_one(LogTable)
        current = screen.window.rows[table.cursor_row]
        assert start <= current["ts"] < end
        assert screen.window.offset + table.cursor_row == sum(counts[index + 1:])
        assert screen.query_one("#logs-histogram").render().spans[index].style.reverse  # drawn chosen


async def test_a_facet_of_a_feature_or_context_key_asked_for_narrows_the_query(logs_db: Path) -> None:
    """Facets list each features./context. key the query names; choosing a value adds `KEY=VALUE`."""
    from screens.facets import FacetPicker

    query = "model:eta since:10d -features.country=DE -context.region=nowhere"
    app = make_app(logs_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, query)
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, FacetPicker)
        fields = {f.field: f for f in picker.facets}
        assert {"features.country", "context.region"} <= set(fields)
        assert "DE" not in {value for value, _ in fields["features.country"].values}
        for field, wanted in (("features.country", "FR"), ("context.region", "us-east")):
            if app.screen is not picker:
                await pilot.press("f")
                await pilot.pause()
                picker = app.screen
            key = next(k for k, term in picker.terms.items() if term == f"{field}={wanted}")
            options = picker.query_one("OptionList")
            options.highlighted = next(i for i in range(options.option_count)
                                       if options.get_option_at_index(i).id == key)
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is screen and screen.query_text.endswith(f" {field}={wanted}")
        assert screen.query_text == f"{query} features.country=FR context.region=us-east"
        # Each narrowing is a step esc goes back through (then off the screen).
        assert "esc: previous query (2)" in str(screen.query_one("#logs-title").render())
        rows = [{k: json_value(r[k]) for k in ("features", "context")} for r in screen.window.rows]
        assert rows and all(r["features"]["country"] == "FR" and r["context"]["region"] == "us-east" for r in rows)
        assert len(rows) == min(50, len(expected_ids(logs_db, screen.query_text)))
        await pilot.press("escape")
        await settle(pilot)
        assert screen.query_text == f"{query} features.country=FR" and screen.query_one(QueryBar).value == screen.query_text
        await pilot.press("escape")
        await settle(pilot)
        assert screen.query_text == query



async def test_a_query_typed_in_one_burst_after_slash_goes_into_the_bar(logs_db: Path) -> None:
    """Over SSH keystrokes arrive bunched: `/`, ctrl+u, `status:error`, enter handed over in one read all
    reach the results table before `/` has moved the focus. They are the query, typed in order, not `a`
    (entity ±1h), `t` (jump to a bar), `x` ... on the results."""
    from textual import events
    from textual.keys import _character_to_key

    app = make_app(logs_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_logs(pilot, "model:churn")
        assert isinstance(screen.focused, LogTable)
        keys = [events.Key("slash", "/"), events.Key("ctrl+u", None),
                *[events.Key(_character_to_key(c), c) for c in "status:error"], events.Key("enter", "\r")]
        for key in keys:
            app.post_message(key)  # queued together, as one terminal read hands them over
        await settle(pilot)
        assert screen.query_text == "status:error" and not screen.previous_queries
        assert isinstance(screen.focused, LogTable) and app.screen is screen
        assert screen.window.rows and {r["status"] for r in screen.window.rows} == {"error"}


@pytest.fixture(scope="module")
def days_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten days of ok records up to NOW; errors only on days 2 to 5, the word "gateway" only on days 3 and 4."""
    path = tmp_path_factory.mktemp("days") / "days.db"
    records = random_records(3000, seed=44)
    day = 86_400_000
    for i, record in enumerate(records):
        record.update(status="ok", error=None)
        if i % 10 == 0:  # every tenth: an error between day 2 and day 5
            record.update(ts=BASE_MS + 2 * day + (i * 7_919_000) % (3 * day), status="error", error="scoring failed")
            if BASE_MS + 3 * day <= record["ts"] < BASE_MS + 5 * day and i % 20 == 0:
                record["error"] = "bureau-gateway 504"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
    return path


def _match_ts(db: Path, text: str) -> list[int]:
    with Store.open(db, read_only=True) as store:
        return [r["ts"] for r in Searcher(store).iter_rows(parse(text, now=NOW))]


@pytest.mark.parametrize("text", ["status:error", "gateway"])
async def test_without_since_the_histogram_spans_the_matches_own_days(days_db: Path, text: str) -> None:
    """No since:/until:: the bars cover the result set's real range (the zone map's hours for a status
    query, the newest and oldest match for free text), days away from now, not an empty last day; every
    match is counted in a bar, and choosing an older bar moves the results to it."""
    matches = _match_ts(days_db, text)
    assert matches and NOW - max(matches) > 4 * 86_400_000  # nothing in the last day: the old histogram's span
    app = make_app(days_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, text)
        await settle(pilot)
        assert screen.overview is not None
        histogram = screen.overview.histogram
        bars = len(histogram.counts)
        end = histogram.start + bars * histogram.width
        assert histogram.start <= min(matches) < histogram.start + histogram.width  # the oldest bar holds the oldest
        assert end - histogram.width <= max(matches) < end  # and the newest bar the newest
        assert 10 <= bars <= 96 and not histogram.capped  # a screenful of round bars at most (100 columns - 4)
        assert sum(histogram.counts) == len(matches)
        assert histogram.counts[0] and histogram.counts[-1]
        index = next(i for i in range(bars // 2) if histogram.counts[i])  # an old bar with matches
        for _ in range(bars - 1 - index):
            await pilot.press("less_than_sign")
        assert screen.bar == index
        start, stop = screen.bar_range(index)
        await pilot.press("t")
        await settle(pilot)
        table = screen.query_one(LogTable)
        current = screen.window.rows[table.cursor_row]
        assert start <= current["ts"] < stop
        assert screen.window.offset + table.cursor_row == sum(histogram.counts[index + 1:])


async def test_with_since_and_until_the_histogram_is_exactly_that_window(days_db: Path) -> None:
    from app.timeutil import ms_to_iso

    day = 86_400_000
    since, until = BASE_MS + 3 * day + 1_234_567, BASE_MS + 6 * day
    text = f"status:error since:{ms_to_iso(since)} until:{ms_to_iso(until)}"
    app = make_app(days_db)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, text)
        await settle(pilot)
        assert screen.overview is not None
        histogram = screen.overview.histogram
        end = histogram.start + len(histogram.counts) * histogram.width
        # Hour bars (counted from the zone map) from the hour since: falls in to the one until: ends.
        assert histogram.start <= since < histogram.start + histogram.width
        assert end - histogram.width < until <= end
        assert sum(histogram.counts) == len(_match_ts(days_db, text))


async def test_following_updates_the_histograms_newest_bar_and_the_facets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """F with a real `ingest --follow`: the errors it commits are shown, and a moment later the histogram's
    newest bar and the facet counts include them too (read again in a worker, not on every commit)."""
    monkeypatch.setattr("app.views.logs.FOLLOW_FALLBACK_S", 3600.0)  # only the store's change probe
    monkeypatch.setattr("screens.logs.OVERVIEW_REFRESH_S", 0.2)
    path = tmp_path / "follow.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(400, seed=8)]])
    errors_before = len(expected_ids(path, "status:error"))
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_logs(pilot, "status:error")
        assert screen.overview is not None
        before = screen.overview

        def status_facet() -> int:
            assert screen.overview is not None
            return dict(next(f for f in screen.overview.facets if f.field == "status").values).get("error", 0)

        assert sum(before.histogram.counts) == status_facet() == errors_before
        await pilot.press("F")
        await settle(pilot)
        with _FollowedIngest(path, tmp_path / "service.jsonl") as service:
            late = _late(3, 1000, ts=NOW + 60_000)
            for record in late:
                record["error"] = "bureau-gateway 504 while following"
            service.write(late)
            await _until(pilot, lambda: screen.window.rows[0]["request_id"] == "late-1002")
            await _until(pilot, lambda: status_facet() == errors_before + 3)
            overview = screen.overview
            assert overview is not None and overview is not before
            histogram = overview.histogram
            assert sum(histogram.counts) == errors_before + 3
            start, end = screen.bar_range(len(histogram.counts) - 1)
            assert start <= NOW + 60_000 < end and histogram.counts[-1] >= 3  # the newest bar holds them
            assert screen.bar == len(histogram.counts) - 1  # and stays the chosen one
            errors = dict(next(f for f in overview.facets if f.field == "error").values)
            assert errors["bureau-gateway 504 while following"] == 3
            # Paused (the cursor moved off the newest): what arrives is counted, and still reaches the overview.
            for _ in range(3):
                await pilot.press("down")
            service.write(_late(2, 2000, ts=NOW + 120_000))
            await _until(pilot, lambda: "2 new above" in status(app))
            await _until(pilot, lambda: status_facet() == errors_before + 5)
            assert screen.query_one(LogTable).cursor_row == 3
        await pilot.press("F", "F")  # to the newest, then stop
        assert not screen.following
