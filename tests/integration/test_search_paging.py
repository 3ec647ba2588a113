"""Keyset pagination: every row exactly once, newest first, while ingest keeps appending."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from app.search.searcher import Cursor, Searcher
from app.store import Store, StoreInterrupted
from app.store.bulk import write_all
from tests.support.search_records import BASE_MS, SPAN_MS, random_records, to_row

NOW = BASE_MS + SPAN_MS


def test_pages_cover_every_row_once_while_newer_rows_arrive(store_path: Path) -> None:
    records = random_records(1500, seed=3)
    with Store.open(store_path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
        expected = [r[0] for r in store.conn.execute(
            "SELECT id FROM predictions WHERE model = 'fraud' ORDER BY ts DESC, id DESC")]

    # A writer thread on its own connection ingests newer rows (some sharing the newest ts) between
    # our pages: after each page it commits one batch, so every page sees a store that moved.
    requests: queue.Queue[int | None] = queue.Queue()
    done: queue.Queue[int] = queue.Queue()
    appended = []

    def ingest() -> None:
        with Store.open(store_path) as writer:
            newest = writer.conn.execute("SELECT max(ts) FROM predictions").fetchone()[0]
            while (batch := requests.get(timeout=30)) is not None:
                fresh = random_records(10, seed=100 + batch, start=10_000 + batch * 10)
                for i, record in enumerate(fresh):
                    record["ts"] = newest + (batch * 10 + i) % 3 * 1000
                    record["model"] = "fraud"
                writer.predictions.append([to_row(r) for r in fresh])
                appended.extend(fresh)
                done.put(batch)

    with Store.open(store_path) as reader:
        searcher = Searcher(reader)
        query = searcher.parse("model:fraud", now=NOW)
        thread = threading.Thread(target=ingest)
        thread.start()
        try:
            first = searcher.page(query, limit=37)
            seen = [row["id"] for row in first.rows]
            page = first
            batch = 0
            while page.has_older:
                requests.put(batch)
                done.get(timeout=30)
                batch += 1
                page = searcher.page(query, after=page.last, limit=37)
                seen.extend(row["id"] for row in page.rows)
        finally:
            requests.put(None)
            thread.join(timeout=30)
        assert appended, "the writer did append while we paged"
        assert seen == expected  # nothing lost, nothing repeated, order kept
        # The rows that arrived meanwhile are newer than the first page: one page back finds them.
        newer = searcher.page(query, before=first.first, limit=1000)
        assert len(newer.rows) == len(appended)
        assert not newer.has_newer


def test_paging_back_returns_the_same_pages(store: Store) -> None:
    write_all(store.conn, [[to_row(r) for r in random_records(400, seed=4)]])
    searcher = Searcher(store)
    query = searcher.parse("-status:error", now=NOW)
    pages = [searcher.page(query, limit=25)]
    while pages[-1].has_older:
        pages.append(searcher.page(query, after=pages[-1].last, limit=25))
    assert not pages[0].has_newer and pages[-1].rows
    for newer, older in zip(pages, pages[1:]):
        back = searcher.page(query, before=older.first, limit=25)
        assert [r["id"] for r in back.rows] == [r["id"] for r in newer.rows]
        assert back.has_newer == newer.has_newer


def test_ties_on_ts_are_broken_by_id(store: Store) -> None:
    records = random_records(30, seed=9)
    for record in records:
        record["ts"] = BASE_MS
    write_all(store.conn, [[to_row(r) for r in records]])
    searcher = Searcher(store)
    query = searcher.parse("", now=NOW)
    ids: list[int] = []
    after: Cursor | None = None
    while True:
        page = searcher.page(query, after=after, limit=4)
        ids.extend(r["id"] for r in page.rows)
        if not page.has_older:
            break
        after = page.last
    assert ids == list(range(30, 0, -1))


def test_limit_caps_iteration(store: Store) -> None:
    write_all(store.conn, [[to_row(r) for r in random_records(120, seed=2)]])
    searcher = Searcher(store)
    query = searcher.parse("", now=NOW)
    assert len(list(searcher.iter_rows(query, limit=55, page_size=10))) == 55
    assert len(list(searcher.iter_rows(query, page_size=7))) == 120


def test_a_relative_window_searched_again_later_moves_with_the_clock(store: Store) -> None:
    # One Searcher keeps page SQL per query: a query parsed again at a later "now" must not
    # be answered with the window the first parse resolved.
    records = random_records(300, seed=5)
    write_all(store.conn, [[to_row(r) for r in records]])
    searcher = Searcher(store)
    day = 86_400_000
    for now in (BASE_MS + day, BASE_MS + 2 * day, BASE_MS + day):
        query = searcher.parse("since:1d", now=now)
        got = [r["id"] for r in searcher.iter_rows(query, page_size=40)]
        expected = [row[0] for row in store.conn.execute(
            "SELECT id FROM predictions WHERE ts >= ? ORDER BY ts DESC, id DESC", (now - day,))]
        assert got == expected and got
        # The same text again (the memoised parse and SQL): the same answer.
        assert [r["id"] for r in searcher.iter_rows(searcher.parse("since:1d", now=now), page_size=40)] == got


def test_an_interrupted_search_raises_the_stores_own_error(store: Store) -> None:
    # What the Logs screen sees when a newer query interrupts the running one: StoreInterrupted
    # (a StoreError), never a bare sqlite3 error, for pages, free-text pages and counts alike.
    write_all(store.conn, [[to_row(r) for r in random_records(200, seed=5)]])
    searcher = Searcher(store)
    query = searcher.parse("model:fraud", now=NOW)
    text_query = searcher.parse('"timeout"', now=NOW)
    store.conn.set_progress_handler(lambda: 1, 1)  # every statement stops at once, as interrupt() makes it
    try:
        for read in (lambda: searcher.page(query), lambda: searcher.page(text_query),
                     lambda: searcher.count(query)):
            with pytest.raises(StoreInterrupted, match="interrupted"):
                read()
    finally:
        store.conn.set_progress_handler(None, 1)
    assert searcher.page(query).rows  # the searcher still works afterwards
