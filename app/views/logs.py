"""What the Logs screen reads: field names for completion, pages of results, the bounded count, and the
export of every result, each a blocking call from one of the screen's thread workers (pages and counts
run on a search lane, app.views.search_lane, so successive pages share one read-only store).

A newer query interrupts the statements of the older one: the reads here turn such an interruption into
"nothing" (None) when the caller says the read was superseded, and let every other error through.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from app.models import QuarantinedLine
    from app.store.search import Facet, Histogram
    from app.search.language import Query
    from app.search.searcher import Count, Page, Searcher
    from app.store.location import StoreLocation

NAME_ROWS = 300  # completion offers the feature and context keys of this many newest records
MODEL_NAMES = 1000


@dataclass(frozen=True)
class LogNames:
    """What completion offers: models with logs, feature keys and context keys."""

    models: list[str]
    features: list[str]
    contexts: list[str]


def field_names(location: "StoreLocation") -> LogNames:
    with location.open(read_only=True) as store:
        models = store.predictions.logged_models(MODEL_NAMES)
        features = store.predictions.recent_keys("features", NAME_ROWS)
        contexts = store.predictions.recent_keys("context", NAME_ROWS)
    return LogNames(sorted(models), features, contexts)


OVERVIEW_SPAN_MS = 86_400_000  # when nothing matches (or the matches' range could not be read): the last day
OVERVIEW_BUCKETS = 60
_MINUTE, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
# The widths a histogram of the matches' own range is cut into: round steps, so each bar starts on the
# minute, the hour or the day (UTC); the finest that fits the range into the bars the screen has.
BAR_WIDTHS_MS = (*(m * _MINUTE for m in (1, 2, 5, 10, 15, 30)), *(h * _HOUR for h in (1, 2, 3, 6, 12)),
                 *(d * _DAY for d in (1, 2, 7)))


def bar_grid(first: int, last: int, buckets: int) -> tuple[int, int, int]:
    """(start, end, bars) of a histogram over matches from ``first`` to ``last`` (epoch ms, both included):
    at most ``buckets`` bars of one round width, aligned to it (never narrower than a minute, so a few
    matches close together make a few bars, not a screenful of empty ones)."""
    buckets = max(1, buckets)
    days = -(-(last + 1 - first) // (buckets * _DAY))  # beyond the ladder (years of logs): whole days a bar
    for width in itertools.chain(BAR_WIDTHS_MS, (d * _DAY for d in itertools.count(max(1, days)))):
        start = first - first % width
        bars = (last - start) // width + 1
        if bars <= buckets:
            return start, start + bars * width, bars
    raise AssertionError("unreachable: the widths grow without end")


@dataclass(frozen=True)
class Overview:
    """Above and beside the results: the hit histogram and the facets of the result set."""

    histogram: "Histogram"
    facets: list["Facet"]


def overview_fields(query: "Query") -> list[str]:
    """What the facets show: error messages, versions, status, and every features./context. key asked for."""
    from app.search.language import AnyOf, JsonTerm

    fields = ["error", "version", "status"]

    def walk(terms: tuple[Any, ...]) -> None:
        for term in terms:
            if isinstance(term, AnyOf):
                for alternative in term.alternatives:
                    walk(alternative)
            elif isinstance(term, JsonTerm) and '"' not in term.key:
                name = f"{term.column}.{term.key}"
                if name not in fields:
                    fields.append(name)

    walk(query.terms)
    return fields


def overview(searcher: "Searcher", query: "Query", now: int, buckets: int = OVERVIEW_BUCKETS) -> Overview | None:
    """The histogram and the facets of the query's results; None when a newer query interrupted it.
    ``query`` is resolved (the first page's read resolved it).

    The histogram covers the query's window: exactly its ``since:``/``until:``; without ``since:``, the
    result set's own range in time (``Searcher.span``: from the zone map, narrowed by the newest and oldest
    match), in round bars (``bar_grid``); the last day when nothing matches."""
    from app.search.language import Query as _Query
    from app.search.language import TimeTerm
    from app.store import StoreInterrupted

    since = max((t.at for t in query.terms if isinstance(t, TimeTerm) and t.bound == "since" and not t.negated),
                default=None)
    until = min((t.at for t in query.terms if isinstance(t, TimeTerm) and t.bound == "until" and not t.negated),
                default=None)
    end = until if until is not None else now + 1
    try:
        if since is not None and since < end:
            start, bars = since, buckets  # the window asked for
        else:
            span = searcher.span(query)
            if span is None:  # nothing matches: an empty last day of the window
                start, bars = end - OVERVIEW_SPAN_MS, buckets
            else:
                last = span.last if span.last is not None else end - 1
                first = span.first if span.first is not None else last + 1 - OVERVIEW_SPAN_MS
                start, end, bars = bar_grid(first, max(first, last), buckets)
        # The facets of what the histogram shows: the same window (an unbounded sample of a rare term
        # would walk the whole table newest first).
        windowed = _Query(query.text, (*query.terms, TimeTerm("since", start), TimeTerm("until", end)), query.now)
        return Overview(searcher.histogram(query, start, end, buckets=bars),
                        searcher.facets(windowed, overview_fields(query)))
    except StoreInterrupted:
        return None


FOLLOW_CHECK_S = 0.25  # F: how often the store is asked whether anything was written (no row read)
FOLLOW_FALLBACK_S = 5.0  # and, whatever that says, a read at least this often (the old poll, kept as a net)


def change_token(store: Any) -> int:
    """A number that changes when another process writes to the store: SQLite's data_version (any
    commit: rows, labels), else the newest prediction id (PostgreSQL: an index probe)."""
    return store.data_version() if store.kind == "sqlite" else store.predictions.latest_id()


class StoreWatch:
    """Tells ``changed()`` soon after ingest (any other writer) commits to the store, from a thread of
    its own with its own read-only connection: every ``every_s`` it reads ``change_token`` (no rows, a
    few microseconds, so following costs no CPU worth measuring), and at least every ``fallback_s``
    it calls ``changed()`` anyway. ``stop()`` ends it (within ``every_s``) and closes the store."""

    def __init__(self, location: "StoreLocation", changed: Callable[[], None], *,
                 every_s: float | None = None, fallback_s: float | None = None) -> None:
        self._location, self._changed = location, changed
        self._every = every_s if every_s is not None else FOLLOW_CHECK_S
        self._fallback = fallback_s if fallback_s is not None else FOLLOW_FALLBACK_S
        self._stop = threading.Event()
        self.checks = 0  # probes made (a test reads it: cheap checks, not reads)
        self._thread = threading.Thread(target=self._run, name="modeldeck-logs-follow", daemon=True)

    def start(self) -> "StoreWatch":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            with self._location.open(read_only=True) as store:
                token, last = change_token(store), time.monotonic()
                while not self._stop.wait(self._every):
                    now, self.checks = change_token(store), self.checks + 1
                    if now != token or time.monotonic() - last >= self._fallback:
                        token, last = now, time.monotonic()
                        self._changed()
        except Exception:  # noqa: BLE001 - a store that cannot be probed: fall back to the plain poll
            while not self._stop.wait(self._fallback):
                self._changed()


QUARANTINE_ROWS = 500  # the Logs screen's quarantine view: the newest bad lines


def quarantined(location: "StoreLocation", limit: int = QUARANTINE_ROWS) -> list["QuarantinedLine"]:
    """The newest lines ingest quarantined (every source), for the Logs screen's toggle."""
    with location.open(read_only=True) as store:
        return store.quarantine.lines(limit=limit)


@dataclass(frozen=True)
class PageRead:
    page: "Page"
    elapsed_ms: float
    skipped: int = 0  # rows before ``previous`` (or ``page``): its absolute position
    previous: "Page | None" = None  # the page above ``page`` when reading down to an anchor
    # "first" reads only: the query with model:/version: resolved to the store's names (later pages,
    # the count and an export use it), what the resolution told, why nothing matched, or the error
    # of a name that is most likely a typo (no rows then).
    query: "Query | None" = None
    notices: tuple[str, ...] = ()
    why_empty: str | None = None
    error: str | None = None


def progress_text(progress: Any) -> str:
    """A long read in a few words, for the CLI's stderr line and the Logs status line:
    ``searching 2.1 s: 120,000 of 1,000,000 rows, back to 2026-11-20 14:00``."""
    from app.timeutil import TimeFormat, format_ms

    line = f"searching {progress.seconds:.1f} s"
    if progress.rows_read is not None and progress.rows_in_scope:
        line += f": {progress.rows_read:,} of {progress.rows_in_scope:,} rows"
    if progress.back_to is not None:
        line += f", back to {format_ms(progress.back_to, TimeFormat.MINUTE)}"
    return line


class Throttled:
    """Hands on at most one progress report per ``every_s`` (SQLite reports every ~ms)."""

    def __init__(self, tell: Callable[[Any], None], every_s: float = 0.25) -> None:
        self._tell = tell
        self._every = every_s
        self._last = -1.0

    def __call__(self, progress: Any) -> None:
        if progress.seconds - self._last >= self._every:
            self._last = progress.seconds
            self._tell(progress)


def read_page(searcher: "Searcher", query: "Query", kind: str, cursor: Any, *, page_size: int,
              anchor: int | None = None, anchor_pages: int = 0, cancelled: Callable[[], bool] = lambda: False,
              superseded: Callable[[], bool] = lambda: False) -> PageRead | None:
    """``kind`` "older" / "newer": the page after / before ``cursor``; "first": the first page, or with an
    ``anchor`` (a store id) the pages down to the one holding it (at most ``anchor_pages``). None when the
    read was cancelled, or interrupted by a newer query (``superseded``)."""
    from app.search.resolve import UnknownName
    from app.store import StoreInterrupted

    try:
        started = time.perf_counter()
        skipped, previous = 0, None
        notices: tuple[str, ...] = ()
        if kind == "first":
            try:
                resolution = searcher.resolve(query)
            except UnknownName as exc:
                from app.search.searcher import Page

                return PageRead(Page([], False, False), (time.perf_counter() - started) * 1000, error=str(exc))
            query, notices = resolution.query, resolution.notices
        if kind in ("older", "jump"):  # jump: the page older than a chosen time (a histogram bar)
            page = searcher.page(query, after=cursor, limit=page_size)
        elif kind in ("newer", "follow"):  # follow: what ingest wrote above ``cursor`` (None: the newest page)
            page = searcher.page(query, before=cursor, limit=page_size)
        else:
            page = searcher.page(query, limit=page_size)
            # `a`: read on (keyset pages, bounded) to the page holding the record we came from.
            for _ in range(anchor_pages):
                if anchor is None or not page.has_older or any(r["id"] == anchor for r in page.rows):
                    break
                if cancelled():
                    return None
                skipped += len(previous.rows) if previous is not None else 0
                previous, page = page, searcher.page(query, after=page.last, limit=page_size)
        elapsed = (time.perf_counter() - started) * 1000
        why = searcher.why_empty(query) if kind == "first" and not page.rows else None
    except StoreInterrupted:
        if superseded():
            return None  # superseded by a newer query
        raise
    if kind != "first":
        return PageRead(page, elapsed, skipped, previous)
    return PageRead(page, elapsed, skipped, previous, query=query, notices=notices, why_empty=why)


def count_results(searcher: "Searcher", query: "Query") -> "Count | None":
    """The bounded count (it stops at COUNT_CAP: never a whole-table count); None when interrupted."""
    from app.search.resolve import UnknownName
    from app.store import StoreInterrupted

    try:
        query = searcher.resolve(query).query
    except UnknownName:
        from app.search.searcher import Count

        return Count(0, False)  # the page read tells the error
    try:
        return searcher.count(query)
    except StoreInterrupted:
        return None


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


class Connections:
    """The connections of running reads, by group, so a newer query (or the screen going) can interrupt them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Interruptible] = {}

    def set(self, group: str, conn: Interruptible) -> None:
        with self._lock:
            self._open[group] = conn

    def unset(self, group: str, conn: Interruptible) -> None:
        with self._lock:
            if self._open.get(group) is conn:  # a newer read may have registered meanwhile
                del self._open[group]

    def interrupt(self, *groups: str) -> None:
        with self._lock:
            for group in groups:
                conn = self._open.get(group)
                if conn is not None:
                    conn.interrupt()  # safe from any thread: the statement raises StoreInterrupted


class ExportFailed(Exception):
    """The export stopped (a file or store error, or cancelled); the cause is the original error."""


def export_results(location: "StoreLocation", query: "Query", path: Path, fmt: str, total: int | None, *,
                   progress: Callable[[int, int | None], None], connections: Connections,
                   group: str = "export") -> int:
    """Write every result of ``query`` to ``path`` (``fmt``: "jsonl" or "csv"); returns the records written.
    ``progress(written, total)`` is called as it goes (it may raise InterruptedError to stop)."""
    from app.search.export import export_file
    from app.search.searcher import Searcher
    from app.store import StoreError

    try:
        with location.open(read_only=True) as store:
            connections.set(group, store)
            try:
                searcher = Searcher(store)
                if total is None:
                    # Exact, for the bar: an export reads every matching row anyway.
                    total = searcher.count(query, cap=10**12).value
                    progress(0, total)
                known = total
                return export_file(searcher.iter_rows(query), path, fmt,  # type: ignore[arg-type]
                                   progress=lambda written: progress(written, known))
            finally:
                connections.unset(group, store)
    except (OSError, StoreError, InterruptedError) as exc:
        raise ExportFailed(str(exc)) from exc
