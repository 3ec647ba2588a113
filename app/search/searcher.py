"""Prediction-log search: parse a query, page through its results newest first, count them.

    searcher = Searcher(store.conn)
    query = searcher.parse('model:fraud since:2h features.amount>1000 -status:ok')
    page = searcher.page(query)                       # first 50, newest first
    older = searcher.page(query, after=page.last)     # keyset: page 1,000 costs what page 1 costs
    count = searcher.count(query)                     # bounded: "of more than 10,000"

The language lives in ``app.search.language`` and its SQL in ``app.search.sql``; this module is
the part screens and commands use. One Searcher per connection (per thread).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator, Literal, NamedTuple

from app.search.language import FIELD_NAMES, FieldTerm, Query, SearchError, TextTerm, parse
from app.search.sql import (FTS_TABLE, Compiled, TextPlan, compile_query, ensure_feature_indexes, generated_columns,
                            select_sql, text_expressions)
from app.store.predictions import COLUMNS

__all__ = ["Searcher", "Query", "SearchError", "Page", "Cursor", "Count", "parse", "count_text",
           "ensure_feature_indexes", "FIELD_NAMES", "PAGE_SIZE", "COUNT_CAP"]

PAGE_SIZE = 50
COUNT_CAP = 10_000
ROW_COLUMNS = ("id", *COLUMNS)

# Free text, by how many rows match: up to this many, drive from the FTS matches (fetch them
# all, sort, take a page: app.search.sql); more, and a page is found by walking the other
# filters newest first in chunks, asking FTS which ids of each chunk match (``_walk_page``).
_DRIVE_UP_TO = 10_000
_WALK_CHUNK = 64
_WALK_CHUNK_MAX = 8192
# Ids closer than this share one FTS range query: rows ingested together have near ids.
_RUN_GAP = 256

# Keyset bounds on (ts, id). The leading ``ts <= ?`` is what lets an index on (..., ts) seek.
_OLDER = "ts <= ? AND (ts < ? OR id < ?)"
_NEWER = "ts >= ? AND (ts > ? OR id > ?)"


@dataclass(frozen=True)
class Cursor:
    """A position in the (ts, id) order."""

    ts: int
    id: int


class Page(NamedTuple):
    """One page of results. A NamedTuple: immutable, and built in half the time of a frozen
    dataclass (~0.5 us saved of an id lookup's whole ~10 us page)."""

    rows: list[dict[str, Any]]  # newest first; keys: id and app.store.predictions.COLUMNS
    has_older: bool
    has_newer: bool

    @property
    def first(self) -> Cursor | None:
        return Cursor(self.rows[0]["ts"], self.rows[0]["id"]) if self.rows else None

    @property
    def last(self) -> Cursor | None:
        return Cursor(self.rows[-1]["ts"], self.rows[-1]["id"]) if self.rows else None


@dataclass(frozen=True)
class Count:
    value: int  # exact when not capped, else the cap
    capped: bool


def count_text(start: int, end: int, count: Count | None) -> str:
    """``1-50 of 12,345``, ``1-50 of more than 10,000``, ``no results`` (start/end are 1-based)."""
    if count is not None and count.value == 0 and not count.capped:
        return "no results"
    shown = f"{start:,}-{end:,}" if end >= start else "0"
    if count is None:
        return f"{shown} of …"
    return f"{shown} of more than {count.value:,}" if count.capped else f"{shown} of {count.value:,}"


class Searcher:
    """Runs queries against one open store connection."""

    def __init__(self, conn: sqlite3.Connection, *, drive_up_to: int = _DRIVE_UP_TO,
                 walk_chunk: int = _WALK_CHUNK) -> None:
        self._conn = conn
        self._drive_up_to = drive_up_to
        self._walk_chunk = walk_chunk
        self._generated = generated_columns(conn)
        self._plans: dict[tuple[str | None, str | None], TextPlan | Literal["walk"]] = {}
        # Page SQL by the identity of a query's terms (app.search.language hands out the same terms
        # tuple for the same text): a lookup without hashing the AST. The entry holds the terms,
        # so an id is never reused while its entry lives, and ``is`` confirms the hit.
        self._sql: dict[tuple[int, str | None], tuple[tuple[object, ...], str, tuple[object, ...]]] = {}

    # The module function itself (no wrapper frame): parse(text, *, now=None) -> Query.
    parse = staticmethod(parse)

    def compile(self, query: Query, *, counting: bool = False) -> Compiled:
        plan = self._text_plan(query, counting)
        # As one statement, a walk is the per-row FTS probe (what a bounded count uses).
        return compile_query(query, generated=self._generated, text_plan="probe" if plan == "walk" else plan)

    def _text_plan(self, query: Query, counting: bool) -> TextPlan | Literal["walk"]:
        positive, negative = text_expressions(query)
        if positive is None and negative is None:
            return "drive"
        if positive is not None and any(
                isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id") and t.op == "="
                and not t.negated for t in query.terms):
            return "probe"  # a handful of rows by id: ask FTS about each
        if positive is not None and counting:
            return "drive"  # a bounded count stops after COUNT_CAP matches: drive from them
        # The choice depends only on the FTS expression (not on the query's "now" or other terms):
        # keyed by it, a query typed again, or parsed again a second later, reuses it.
        key = (positive, negative)
        plan: TextPlan | Literal["walk"] | None = self._plans.get(key)
        if plan is None:
            # A bounded count of the FTS matches alone: cheap (doclists only, no table rows).
            n = self._conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT ?)",
                (positive if positive is not None else negative, self._drive_up_to + 1),
            ).fetchone()[0]
            plan = "walk" if n > self._drive_up_to else "drive"
            if len(self._plans) > 100:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def page(self, query: Query, *, after: Cursor | None = None, before: Cursor | None = None,
             limit: int = PAGE_SIZE) -> Page:
        """``limit`` rows newest first: the first page, those older than ``after``, or those newer than ``before``."""
        newest_first = before is None
        if after is not None and before is not None:
            raise ValueError("page after or before a cursor, not both")
        if after is not None:
            keyset, bound = _OLDER, (after.ts, after.ts, after.id)
        elif before is not None:
            keyset, bound = _NEWER, (before.ts, before.ts, before.id)
        else:
            keyset, bound = None, ()
        # Pages of one query share their SQL: compile it once (a page of an id lookup is ~10 us,
        # so a few us of text planning and compiling per call would be a third of it).
        key = (id(query.terms), keyset)
        cached = self._sql.get(key)
        if cached is None or cached[0] is not query.terms:
            if self._text_plan(query, False) == "walk":
                return self._walk_page(query, after, before, limit)  # not one statement: not cached
            compiled = self.compile(query)
            cached = (query.terms, select_sql(ROW_COLUMNS, compiled, keyset=keyset, newest_first=newest_first),
                      compiled.params)
            if len(self._sql) > 100:
                self._sql.clear()
            self._sql[key] = cached
        _, sql, params = cached
        raw = self._conn.execute(sql, (*params, *bound, limit + 1)).fetchall()
        more = len(raw) > limit
        if more:
            del raw[limit:]
        rows = [dict(zip(ROW_COLUMNS, r)) for r in raw]  # the records (~0.7 us a row: most of a page's Python)
        if newest_first:
            return Page(rows, has_older=more, has_newer=after is not None)
        rows.reverse()
        return Page(rows, has_older=True, has_newer=more)

    def _walk_page(self, query: Query, after: Cursor | None, before: Cursor | None, limit: int) -> Page:
        """A page of a query whose free text matches many rows, without asking FTS row by row.

        The other filters are walked in (ts, id) order a chunk of ids at a time; one FTS query per
        run of near ids (``rowid BETWEEN``, a doclist range read) says which of them match. A
        common word finds its page in the first chunk: ~0.3 ms at 10,000,000 rows, where a
        probe per row costs ~80 us a row and sorting every match costs seconds.
        """
        positive, negative = text_expressions(query)
        expression, keep = (positive, True) if positive is not None else (negative, False)
        rest = Query(query.text, tuple(t for t in query.terms if not isinstance(t, TextTerm)), query.now)
        compiled = compile_query(rest, generated=self._generated)
        newest_first = before is None
        keyset = _OLDER if newest_first else _NEWER
        first_sql = select_sql(("id", "ts"), compiled, keyset=None, newest_first=newest_first)
        next_sql = select_sql(("id", "ts"), compiled, keyset=keyset, newest_first=newest_first)
        range_sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid BETWEEN ? AND ?"
        cursor = after if newest_first else before
        found: list[int] = []
        chunk_size = self._walk_chunk
        while len(found) <= limit:
            if cursor is None:
                chunk = self._conn.execute(first_sql, (*compiled.params, chunk_size)).fetchall()
            else:
                chunk = self._conn.execute(next_sql, (*compiled.params, cursor.ts, cursor.ts, cursor.id,
                                                      chunk_size)).fetchall()
            if not chunk:
                break
            hits: set[int] = set()
            for low, high in _runs(sorted(row_id for row_id, _ in chunk)):
                hits.update(r[0] for r in self._conn.execute(range_sql, (expression, low, high)))
            for row_id, _ in chunk:
                if (row_id in hits) == keep:
                    found.append(row_id)
                    if len(found) > limit:
                        break
            if len(chunk) < chunk_size:
                break
            cursor = Cursor(chunk[-1][1], chunk[-1][0])
            chunk_size = min(chunk_size * 2, _WALK_CHUNK_MAX)  # a rarer word: bigger strides
        more = len(found) > limit
        found = found[:limit]
        by_id: dict[int, dict[str, Any]] = {}
        if found:
            marks = ", ".join("?" * len(found))
            for r in self._conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM predictions WHERE id IN ({marks})",
                                        found):
                by_id[r[0]] = dict(zip(ROW_COLUMNS, r))
        rows = [by_id[row_id] for row_id in found]
        if newest_first:
            return Page(rows, has_older=more, has_newer=after is not None)
        rows.reverse()
        return Page(rows, has_older=True, has_newer=more)

    def iter_rows(self, query: Query, *, limit: int | None = None, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every matching row newest first, fetched a page at a time (for streaming and export).

        Each page is its own short statement, so a long export never pins a read snapshot
        that would stop the WAL from checkpointing under a live ingest.
        """
        remaining = limit
        after: Cursor | None = None
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            page = self.page(query, after=after, limit=size)
            yield from page.rows
            if remaining is not None:
                remaining -= len(page.rows)
            if not page.has_older or not page.rows:
                return
            after = page.last

    def count(self, query: Query, *, cap: int = COUNT_CAP) -> Count:
        """How many rows match, counting no further than ``cap`` (never a whole-table count)."""
        compiled = self.compile(query, counting=True)
        n = self._conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM predictions WHERE {compiled.where} LIMIT ?)",
            (*compiled.params, cap + 1),
        ).fetchone()[0]
        return Count(min(n, cap), n > cap)


def _runs(ids: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted ids as (low, high) ranges, split where two neighbours are more than _RUN_GAP apart."""
    low = previous = ids[0]
    for row_id in ids[1:]:
        if row_id - previous > _RUN_GAP:
            yield low, previous
            low = row_id
        previous = row_id
    yield low, previous
