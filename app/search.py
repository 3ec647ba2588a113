"""Prediction-log search: parse a query, page through its results newest first, count them.

    searcher = Searcher(store.conn)
    query = searcher.parse('model:fraud since:2h features.amount>1000 -status:ok')
    page = searcher.page(query)                       # first 50, newest first
    older = searcher.page(query, after=page.last)     # keyset: page 1,000 costs what page 1 costs
    count = searcher.count(query)                     # bounded: "of more than 10,000"

The language lives in ``app.search_parse`` and its SQL in ``app.search_sql``; this module is
the part screens and commands use. One Searcher per connection (per thread).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator

from app.search_parse import FIELD_NAMES, FieldTerm, Query, SearchError, parse
from app.search_sql import (FTS_TABLE, Compiled, TextPlan, compile_query, ensure_feature_indexes, generated_columns,
                            select_sql, text_expressions)
from app.store.predictions import COLUMNS

__all__ = ["Searcher", "Query", "SearchError", "Page", "Cursor", "Count", "parse", "count_text",
           "ensure_feature_indexes", "FIELD_NAMES", "PAGE_SIZE", "COUNT_CAP"]

PAGE_SIZE = 50
COUNT_CAP = 10_000
ROW_COLUMNS = ("id", *COLUMNS)

# Free-text plans by how many rows match (see app.search_sql): few -> drive from the FTS
# matches; very many -> walk newest first and ask FTS per row; in between -> probe a set.
_DRIVE_UP_TO = 10_000
_SCAN_UP_TO = 50_000

# Keyset bounds on (ts, id). The leading ``ts <= ?`` is what lets an index on (..., ts) seek.
_OLDER = "ts <= ? AND (ts < ? OR id < ?)"
_NEWER = "ts >= ? AND (ts > ? OR id > ?)"


@dataclass(frozen=True)
class Cursor:
    """A position in the (ts, id) order."""

    ts: int
    id: int


@dataclass(frozen=True)
class Page:
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

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._generated = generated_columns(conn)
        self._plans: dict[tuple[str, int], TextPlan] = {}

    def parse(self, text: str, *, now: int | None = None) -> Query:
        return parse(text, now=now)

    def compile(self, query: Query, *, counting: bool = False) -> Compiled:
        return compile_query(query, generated=self._generated, text_plan=self._text_plan(query, counting))

    def _text_plan(self, query: Query, counting: bool) -> TextPlan:
        positive, negative = text_expressions(query)
        if positive is None and negative is None:
            return "drive"
        if positive is not None and any(
                isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id") and t.op == "="
                and not t.negated for t in query.terms):
            return "probe"  # a handful of rows by id: ask FTS about each
        if positive is not None and counting:
            return "drive"  # a bounded count stops after COUNT_CAP matches: drive from them
        key = (query.text, query.now)
        plan = self._plans.get(key)
        if plan is None:
            # A bounded count of the FTS matches alone: cheap (doclists only, no table rows).
            n = self._conn.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT ?)",
                (positive if positive is not None else negative, _SCAN_UP_TO + 1),
            ).fetchone()[0]
            if positive is None:
                plan = "probe" if n > _DRIVE_UP_TO else "drive"
            else:
                plan = "drive" if n <= _DRIVE_UP_TO else "scan" if n <= _SCAN_UP_TO else "probe"
            if len(self._plans) > 100:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def page(self, query: Query, *, after: Cursor | None = None, before: Cursor | None = None,
             limit: int = PAGE_SIZE) -> Page:
        """``limit`` rows newest first: the first page, those older than ``after``, or those newer than ``before``."""
        compiled = self.compile(query)
        newest_first = before is None
        if after is not None and before is not None:
            raise ValueError("page after or before a cursor, not both")
        keyset, bound = (None, ()) if after is None and before is None else (
            (_OLDER, (after.ts, after.ts, after.id)) if after is not None
            else (_NEWER, (before.ts, before.ts, before.id)))  # type: ignore[union-attr]
        sql = select_sql(ROW_COLUMNS, compiled, keyset=keyset, newest_first=newest_first)
        rows = [dict(zip(ROW_COLUMNS, r))
                for r in self._conn.execute(sql, (*compiled.params, *bound, limit + 1)).fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
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
