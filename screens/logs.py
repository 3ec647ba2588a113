"""The Logs screen: search the prediction log, page through any number of results, read one record.

    query bar   history on up/down, completion of fields, models and feature names (tab)
    results     newest first; the table holds the page on screen plus at most a page either side
                (app.views.search_window), the next keyset page is read when the cursor nears an edge
    detail      every field of the highlighted record, features and context as JSON

Every read runs in a thread worker; the query bar only parses (pure Python), so typing never
waits for SQLite. Each worker calls one app.views.logs function. Pages and counts each go through
a search lane (app.views.search_lane): one thread that keeps its read-only store and Searcher for
the screen's life, so the next page reuses the compiled SQL and text plan of the one before instead
of reopening the store. A newer query interrupts the statements of the older one instead of
letting them run on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Input, ProgressBar, Static
from textual.worker import Worker, get_current_worker

from app.console.errors import one_line, worker_failure
from app.search.complete import complete, quote_value
from app.search.language import Query, SearchError, parse, reference
from app.text import clean, safe_text
from app.views.logs import (Connections, ExportFailed, Overview, PageRead, StoreWatch, Throttled, count_results,
                            progress_text, read_page)
from app.views.search_lane import LaneClosed, SearchLane
from app.views.search_window import ResultWindow
from screens.base import OnConsole, OwnBackground
from widgets.hit_histogram import HitHistogram
from widgets.key_bar import KeyBar
from widgets.log_table import LogTable
from widgets.query_bar import QueryBar
from widgets.record_detail import RecordDetail

if TYPE_CHECKING:
    from app.search.searcher import Count, Page, Searcher
    from app.views.record import RecordPart
    from app.store.location import StoreLocation

PAGE_SIZE = 50
JUMP_PAGES = 20  # n/N read at most this many pages looking for an error
FOLLOW_READ = 150  # F: new records read per change at most (more at once: the newest page instead)
FOLLOW_COUNT = 1000  # while following is paused, new records are counted up to this many ("1,000+ new")
# F: the histogram and facets are read again this long after new records arrive (once for a burst, and at
# most this often while they keep coming: each read is ~0.1-0.2 s of a lane's thread, never the UI's).
OVERVIEW_REFRESH_S = 1.0
EDGE_MARGIN = 10  # read the next page when the cursor is this close to the end of what is held
AROUND_MS = 3_600_000  # `a`: the entity's predictions an hour either side
ANCHOR_PAGES = 40  # `a` reads at most this many pages looking for the record it started from
WIDE = 140  # at this width and above the detail sits beside the results


def for_model(model: str) -> "LogsScreen":
    """The screen pre-filtered to one model (the model screen's `l`)."""
    return LogsScreen(f"model:{quote_value(model)}")


@dataclass(frozen=True)
class _Fetch:
    # "first" | "older" | "newer" | "jump" (the page older than a histogram bar's end) | "follow" (what
    # ingest wrote above the newest record known)
    kind: str
    generation: int
    anchor: int | None = None  # "first" only: the store id of the record the cursor should land on
    limit: int = PAGE_SIZE
    paused: bool = False  # "follow" only: read while the operator had scrolled away from the newest


class LogsScreen(OwnBackground, OnConsole, Screen):
    """Search the prediction log."""

    BINDINGS = [
        Binding("slash", "focus_query", "Query", id="logs.query"),
        Binding("l", "focus_query", "Query", id="logs.query_l", show=False),
        Binding("c", "copy", "Copy id", id="logs.copy"),
        Binding("a", "around", "Entity ±1h", id="logs.around"),
        Binding("x", "export", "Export", id="logs.export"),
        Binding("m", "open_model", "Model", id="logs.open_model"),
        Binding("Q", "quarantine", "Quarantine", id="logs.quarantine"),
        Binding("n", "next_error(1)", "Next error", id="logs.next_error"),
        Binding("N", "next_error(-1)", "Prev error", id="logs.previous_error", show=False),
        Binding("F", "follow", "Follow", id="logs.follow"),
        Binding("f", "facets", "Facets", id="logs.facets"),
        Binding("less_than_sign", "bar(-1)", "Older bar", id="logs.bar_older", show=False),
        Binding("greater_than_sign", "bar(1)", "Newer bar", id="logs.bar_newer", show=False),
        Binding("t", "jump_to_bar", "Go to bar", id="logs.jump", show=False),
        Binding("escape", "back", "Back", id="logs.back"),
        Binding("ctrl+r", "refresh", "Refresh", id="logs.refresh", show=False),
    ]

    DEFAULT_CSS = """
    LogsScreen #logs-error { height: auto; padding: 0 1; color: $error; display: none; }
    LogsScreen #logs-error.shown { display: block; }
    LogsScreen #logs-error.note { color: $text-muted; }
    LogsScreen #logs-body { height: 1fr; }
    LogsScreen #logs-table { height: 1fr; min-height: 4; }
    LogsScreen #logs-detail { height: 1fr; min-height: 4; }
    LogsScreen #logs-body.wide { layout: horizontal; }
    LogsScreen #logs-body.wide #logs-table { width: 3fr; height: 1fr; }
    LogsScreen #logs-body.wide #logs-detail { width: 2fr; height: 1fr; border-top: none;
                                             border-left: solid $panel-lighten-1; }
    /* enter: the record alone under the title, with the key bar (esc goes back to the results) */
    LogsScreen.record #logs-query, LogsScreen.record #logs-error, LogsScreen.record #logs-table,
    LogsScreen.record #logs-status { display: none; }
    LogsScreen.record #logs-body #logs-detail { border-top: none; border-left: none; width: 1fr; }
    LogsScreen #logs-quarantine { height: 1fr; display: none; }
    LogsScreen #logs-histogram { height: 1; padding: 0 1; }
    LogsScreen.record #logs-histogram, LogsScreen.quarantine #logs-histogram { display: none; }
    /* Q: the quarantined lines instead of the results */
    LogsScreen.quarantine #logs-quarantine { display: block; }
    LogsScreen.quarantine #logs-table, LogsScreen.quarantine #logs-detail { display: none; }
    LogsScreen #logs-export { height: 1; padding: 0 1; display: none; }
    LogsScreen #logs-export.running { display: block; }
    LogsScreen #logs-export Static { width: auto; margin-right: 1; }
    LogsScreen #logs-export ProgressBar { width: 1fr; }
    """

    class PageLoaded(Message):
        def __init__(self, fetch: _Fetch, page: "Page", elapsed_ms: float, *, skipped: int = 0,
                     previous: "Page | None" = None, read: PageRead | None = None) -> None:
            super().__init__()
            self.read = read  # a "first" read: the resolved query, notices, why empty, a name error
            self.fetch = fetch
            self.page = page
            self.elapsed_ms = elapsed_ms
            self.skipped = skipped  # rows before ``previous`` (or ``page``): its absolute position
            self.previous = previous  # the page above ``page`` when reading down to an anchor

    class ScanProgressed(Message):
        """A page read that must read many rows, telling how far it has got (from the page lane)."""

        def __init__(self, generation: int, progress: Any) -> None:
            super().__init__()
            self.generation = generation
            self.progress = progress

    class CountLoaded(Message):
        def __init__(self, generation: int, count: "Count") -> None:
            super().__init__()
            self.generation = generation
            self.count = count

    class NamesLoaded(Message):
        def __init__(self, models: list[str], features: list[str], contexts: list[str],
                     history: list[str] | None = None) -> None:
            super().__init__()
            self.history = history or []  # this store's queries of earlier sessions, oldest first
            self.models = models
            self.features = features
            self.contexts = contexts

    class OverviewLoaded(Message):
        def __init__(self, generation: int, overview: Overview) -> None:
            super().__init__()
            self.generation = generation
            self.overview = overview

    class StoreChanged(Message):
        """Ingest (another process) committed to the store while following (from the StoreWatch thread)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogsScreen.StoreChanged)  # a burst of commits costs one read

    class QuarantineLoaded(Message):
        def __init__(self, lines: list[Any]) -> None:
            super().__init__()
            self.lines = lines  # app.models.QuarantinedLine, newest first

    class ExportProgress(Message):
        def __init__(self, written: int, total: int | None) -> None:
            super().__init__()
            self.written = written
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogsScreen.ExportProgress)  # a flood of updates costs one repaint

    class ExportDone(Message):
        def __init__(self, path: Path, written: int, error: str | None = None) -> None:
            super().__init__()
            self.path = path
            self.written = written
            self.error = error

    class DetailLoaded(Message):
        def __init__(self, token: int, part: "RecordPart", at_end: bool) -> None:
            super().__init__()
            self.token = token
            self.part = part
            self.at_end = at_end

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self._detail_token = 0  # the record detail's newest request: older parts are dropped
        self._detail_row: Any = None  # the id of the record the detail shows (or is loading)
        self.initial_query = query
        self.query_text = query  # the query whose results are shown
        # The queries this screen showed before a jump (entity ±1h): esc goes back through them, newest
        # first, before it leaves the screen (a query typed in the bar is not a jump: up recalls it).
        self.previous_queries: list[str] = []
        self._previous_records: list[int | None] = []  # the record the cursor was on, per previous query
        self.parsed: Query | None = None
        self.window = ResultWindow(page_size=PAGE_SIZE)
        self.result_count: Count | None = None
        self.generation = 0
        self._scanning = False  # the current read has reported progress (esc stops it)
        self.elapsed_ms: float | None = None
        self._fetching = False
        self._connections = Connections()  # the export's connection
        # One thread each (started by their first read), closed on unmount.
        self._lanes = {name: SearchLane(f"logs-{name}") for name in ("page", "count", "overview")}
        self.overview: Overview | None = None  # the histogram and facets of the current query
        self._jump_skipped = 0
        self.bar = -1  # the chosen histogram bar (-1: none yet; the newest once the overview arrives)
        self._models: list[str] = []
        self._features: list[str] = []
        self._contexts: list[str] = []
        self._record_open = False
        self.empty_reason: str | None = None  # why the current query found nothing (or its name error)
        self._jump: tuple[int, int] | None = None  # n/N waiting for a page: (step, pages left to read)
        # F: new matching records as ingest writes them, like less +F. The cursor on the newest record
        # follows; moved away from it, following pauses (the place is kept) and only counts what arrives.
        self.following = False
        self._watch: StoreWatch | None = None
        self._follow_new = 0  # records shown since F
        self._follow_unseen = 0  # records that arrived while paused, above what the table holds
        self._follow_more = False  # more arrived than were counted: the numbers are "at least"
        self._follow_seen: Any = None  # while paused: the newest record counted (a Cursor)
        self._follow_dirty = False  # a change arrived while a read was under way
        self._overview_due: Timer | None = None  # following: the histogram and facets' next read

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        history = self.console_context.search_history
        yield Static(id="logs-title", classes="title-bar")
        yield QueryBar(history, self._complete, value=self.initial_query, id="logs-query",
                       placeholder="model:NAME entity:ID since:2h status:error score>=0.9 \"text\"   (tab completes)")
        yield Static(id="logs-error", markup=False)
        yield HitHistogram(id="logs-histogram")
        with Container(id="logs-body"):
            yield LogTable(id="logs-table")
            yield RecordDetail(id="logs-detail")
            # The quarantined lines' table (Q) is mounted on its first showing (``action_quarantine``).
        # Its label and progress bar are mounted by the first export (``_export_to``): most visits never
        # show them, and every opening paid their compose, styles and layout on the UI thread.
        yield Horizontal(id="logs-export")
        yield Static(id="logs-status", classes="status-line")
        yield KeyBar()

    def on_mount(self) -> None:
        self._show_title()
        self._layout_for(self.size.width)
        # The same however the screen was opened (fleet `/` or `l`, model `l`, `:search`, the palette):
        # the query bar has the focus, its query (empty, or model:NAME) with the cursor at the end, while
        # that query's results are read below. What an operator types first is always query text, never
        # a single-letter action fired by surprise; enter (or esc, tab) goes to the results, `/` back.
        bar = self.query_one(QueryBar)
        self.set_focus(bar)
        if bar.value and not bar.value.endswith(" "):
            # A pre-filled model:NAME ends with a space: the first word typed is a term of its own,
            # not the end of the model's name (`model:fraud-scorerstatus:error`).
            bar.value += " "
        bar.cursor_position = len(bar.value)
        self._load_names(self.console_context.store)
        self.run_query(self.initial_query)

    def on_resize(self) -> None:
        self._layout_for(self.size.width)
        self.query_one(LogTable).refit()

    def _layout_for(self, width: int) -> None:
        self.query_one("#logs-body").set_class(width >= WIDE, "wide")

    def _show_title(self) -> None:
        # A breadcrumb: where esc goes back to (the screens below, and earlier queries of this one).
        below = [getattr(screen, "model", None) or type(screen).__name__.removesuffix("Screen").lower()
                 for screen in self.app.screen_stack[:-1]]
        crumb = " › ".join(clean(str(name)) for name in below)
        title = Text.assemble((f"{crumb} › " if crumb else "", "dim"), ("logs", "bold"), "  ",
                              safe_text(self.console_context.store.name, style="dim"))
        if self.previous_queries:
            title.append(f"  esc: previous query ({len(self.previous_queries)})", style="dim")
        row = self._current() if self._record_open else None
        if row is not None:
            title = Text.assemble(("logs", "bold"), " › ", ("record ", "bold"),
                                  safe_text(row.get("request_id"), style="bold", width=40), "  ",
                                  safe_text(row.get("model"), style="dim", width=24), " ",
                                  safe_text(row.get("version"), style="dim", width=16))
        self.query_one("#logs-title", Static).update(title)

    def on_unmount(self) -> None:
        self._stop_following()
        self._connections.interrupt("export")
        for lane in self._lanes.values():
            lane.interrupt()
            lane.close()

    def lane(self, name: str) -> SearchLane:
        """The search lane of the "page" or "count" reads."""
        return self._lanes[name]

    def _interrupt_reads(self) -> None:
        for lane in self._lanes.values():
            lane.interrupt()

    # -- completion ------------------------------------------------------------------------
    def _complete(self, text: str) -> str | None:
        models = self._models or list(self.console_context.model_names)
        return complete(text, models=models, features=self._features, contexts=self._contexts)

    @work(thread=True, exclusive=True, group="logs-names", exit_on_error=False, description="read field names")
    def _load_names(self, location: StoreLocation) -> None:
        from app.views.logs import field_names

        from app.search import history

        names = field_names(location)
        try:
            earlier = history.load(location.path)
        except OSError:
            earlier = []  # history is a convenience: an unreadable file never stops a search
        self.post_message(self.NamesLoaded(names.models, names.features, names.contexts, earlier))

    def on_logs_screen_names_loaded(self, message: NamesLoaded) -> None:
        self._models, self._features, self._contexts = message.models, message.features, message.contexts
        context = self.console_context
        if message.history and context.search_history_of != context.store.path:
            # Once per store and session: earlier sessions' queries come before this one's.
            context.search_history_of = context.store.path
            bar = self.query_one(QueryBar)
            bar.history[:0] = [q for q in message.history if q not in bar.history]
            bar.remember("")

    @work(thread=True, group="logs-history", exit_on_error=False, description="save the query history")
    def _save_history(self, location: StoreLocation, query: str) -> None:
        from app.search import history

        try:
            history.add(location.path, query)  # merged with the file: another console's queries stay
        except OSError:
            pass  # a read-only home: the history lives for this session only

    # -- running a query -------------------------------------------------------------------
    def run_query(self, text: str, *, anchor: int | None = None, follow: bool = False) -> None:
        """Parse (here: cheap, no store) and start reading the first page and the bounded count.

        ``anchor``: the store id of a record among the results to put the cursor on.
        """
        context = self.console_context
        try:
            query = parse(text, now=context.now_ms())
        except SearchError as exc:
            self._show_error(text, exc)
            return
        self._show_error(text, None)
        self.query_text, self.parsed = text, query
        self.generation += 1
        self.result_count = None
        self.empty_reason = None
        if not follow:
            self.overview, self.bar = None, -1
            self._show_histogram()
            if self._overview_due is not None:  # a new query reads its own
                self._overview_due.stop()
                self._overview_due = None
        self.elapsed_ms = None
        self._fetching = True
        self._scanning = False
        # The older query's reads stop now instead of competing with the new one.
        self._interrupt_reads()
        if not follow:
            self._stop_following()  # a new query (or ctrl+r) ends follow mode
            self._status(Text("searching…", style="dim"))
        self._fetch(context.store, query, _Fetch("first", self.generation, anchor), None)
        self._count(context.store, query, self.generation)

    def _show_note(self, error: str | None, notices: tuple[str, ...]) -> None:
        """Under the query bar: a name that is most likely a typo (as an error), or what a short name
        or a glob was taken to mean."""
        box = self.query_one("#logs-error", Static)
        if error is None and not notices:
            return
        box.set_class(True, "shown")
        box.set_class(error is None, "note")
        box.update(Text(clean(error) if error else " · ".join(clean(n) for n in notices)))

    def _show_error(self, text: str, error: SearchError | None) -> None:
        box = self.query_one("#logs-error", Static)
        box.set_class(error is not None, "shown")
        box.set_class(False, "note")
        if error is None:
            return
        # A caret under the offending token (the bar has one cell of padding).
        caret = " " * (error.column - 1) + "^" * max(1, min(len(error.token), 60))
        # The message wraps (a Static of plain Text), so a long "did you mean" list is read whole.
        box.update(Text.assemble((caret, "bold"), "\n", (f"{clean(error.message)} (column {error.column})", "")))

    @on(Input.Changed, "#logs-query")
    def _typed(self, event: Input.Changed) -> None:
        # Check the syntax as it is typed (pure Python); the store is only read on enter.
        if not event.value.strip():
            self._show_error(event.value, None)
            return
        try:
            parse(event.value, now=self.console_context.now_ms())
        except SearchError as exc:
            self._show_error(event.value, exc)
        else:
            self._show_error(event.value, None)

    @on(Input.Submitted, "#logs-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        bar = self.query_one(QueryBar)
        try:
            parse(text, now=self.console_context.now_ms())
        except SearchError as exc:
            self._show_error(text, exc)
            return
        bar.remember(text)
        self._save_history(self.console_context.store, text)
        self.run_query(text)
        self.set_focus(self.query_one(LogTable))

    def _push_query(self, text: str) -> None:
        if text != self.query_text:
            self.previous_queries.append(self.query_text)
            row = self._current()
            self._previous_records.append(None if row is None else row["id"])

    @work(thread=True, exclusive=True, group="logs-page", exit_on_error=False, description="read a page of results")
    def _fetch(self, location: StoreLocation, query: Query, fetch: _Fetch, cursor: Any) -> None:
        worker = get_current_worker()

        def read(searcher: Searcher) -> PageRead | None:
            # On the page lane's thread: the page (and for `a`, the pages up to its record). A read that
            # runs long tells its progress (post_message is thread-safe); esc stops it (action_back).
            searcher.watch(Throttled(lambda p: self.post_message(self.ScanProgressed(fetch.generation, p))))
            try:
                return read_page(searcher, query, fetch.kind, cursor, page_size=fetch.limit, anchor=fetch.anchor,
                                 anchor_pages=ANCHOR_PAGES, cancelled=lambda: worker.is_cancelled,
                                 superseded=lambda: fetch.generation != self.generation)
            finally:
                searcher.watch(None)

        try:
            result = self.lane("page").call(location, read)
        except LaneClosed:
            return  # the screen has gone
        if result is not None:
            self.post_message(self.PageLoaded(fetch, result.page, result.elapsed_ms, skipped=result.skipped,
                                              previous=result.previous, read=result))

    @work(thread=True, exclusive=True, group="logs-count", exit_on_error=False, description="count results")
    def _count(self, location: StoreLocation, query: Query, generation: int) -> None:
        try:
            result = self.lane("count").call(location, partial(count_results, query=query))
        except LaneClosed:
            return  # the screen has gone
        if result is not None:  # None: interrupted by a newer query
            self.post_message(self.CountLoaded(generation, result))

    def on_logs_screen_scan_progressed(self, message: ScanProgressed) -> None:
        if message.generation == self.generation and self._fetching:
            self._scanning = True
            self._status(Text(progress_text(message.progress) + "; esc stops", style="yellow"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        failure = worker_failure(event)
        if failure is not None and event.worker.group in ("logs-page", "logs-count"):
            self._fetching = False
            self._status(Text(f"cannot search: {failure}", style="red"))

    def on_logs_screen_page_loaded(self, message: PageLoaded) -> None:
        if message.fetch.generation != self.generation:
            return
        self._fetching = self._scanning = False
        if message.fetch.kind == "follow":
            self._followed(message.fetch, message.page)
            return
        table = self.query_one(LogTable)
        window = self.window
        read = message.read
        if message.fetch.kind == "first" and read is not None:
            if read.query is not None:
                self.parsed = read.query  # model:/version: as the store's names: later pages and the count
                if read.error is None and not self.following:
                    self._overview(self.console_context.store, read.query, self.generation)
                elif read.error is None:
                    self._overview_soon()  # F (or a burst read as the newest page): the overview of what is new
            self.empty_reason = read.error or read.why_empty
            self._show_note(read.error, read.notices)
            if read.error is not None and isinstance(self.focused, LogTable):
                # A value the store cannot resolve (an unknown model, a typo): the fix is typed, so the
                # query bar takes the focus back (enter had given it to the results before they came).
                bar = self.query_one(QueryBar)
                self.set_focus(bar)
                bar.cursor_position = len(bar.value)
        if message.fetch.kind == "jump":
            window.reset(message.page)
            window.offset = self._jump_skipped  # the matches in the bars newer than the chosen one
            window.has_newer = True
            table.show(window.rows, 0)
        elif message.fetch.kind == "first":
            if message.previous is None:
                window.reset(message.page)
            else:
                # Read down to an anchor: hold the page above it too, numbered where they are.
                window.reset(message.previous)
                window.add_older(message.page)
                window.offset, window.has_newer = message.skipped, message.skipped > 0
            self.elapsed_ms = message.elapsed_ms
            anchor = message.fetch.anchor
            at = next((i for i, r in enumerate(window.rows) if r["id"] == anchor), 0) if anchor is not None else 0
            table.show(window.rows, at)
        else:
            cursor = table.cursor_row
            on_screen = cursor - int(table.scroll_y)
            if message.fetch.kind == "older":
                cursor -= window.add_older(message.page)
            else:
                cursor += window.add_newer(message.page)
            table.show(window.rows, cursor, keep_screen_row=on_screen)
        if not window.rows:
            self._show_detail(None, empty=self.empty_reason or "no results")
        self._show_range()
        if message.fetch.kind != "first":
            self._resume_jump()
        if self.following and self._follow_dirty and not self._fetching:
            self._follow_read()  # ingest wrote while this page was read

    def on_logs_screen_count_loaded(self, message: CountLoaded) -> None:
        if message.generation == self.generation:
            self.result_count = message.count
            if not self._scanning:  # a page read still going keeps its progress on the line
                self._show_range()

    # -- paging ----------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#logs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        index = event.cursor_row
        if index != self.query_one(LogTable).cursor_row:
            return  # stale: posted while the table was being refilled (the cursor passes row 0)
        if 0 <= index < len(self.window.rows):
            if self._detail_row != self.window.rows[index]["id"]:
                # A refill that keeps the cursor on the record shown (follow, a new page) keeps its part.
                self._show_detail(self.window.rows[index])
            if self._record_open:
                self._show_title()  # the title names the record shown (ctrl+r may have moved the cursor)
        if self.following and self._follow_unseen and self._at_newest():
            # Scrolled back up to the newest: what was counted is shown now.
            self._follow_new += self._follow_unseen
            self._follow_unseen, self._follow_seen = 0, None
        self._maybe_fetch(index)
        self.call_after_refresh(self._show_range)

    # -- record detail -----------------------------------------------------------------------
    def _show_detail(self, row: dict[str, Any] | None, part: int = 1, *, at_end: bool = False,
                     empty: str = "no record selected") -> None:
        """Build part ``part`` of ``row``'s detail in a worker; "loading…" meanwhile. A newer call
        cancels the older worker and its result is dropped (the token)."""
        self._detail_token += 1
        self._detail_row = None if row is None else row["id"]
        detail = self.query_one(RecordDetail)
        if row is None:
            self.workers.cancel_group(self, "logs-detail")
            detail.show_empty(empty)
            return
        detail.show_loading()
        self._build_detail(row, part, self._detail_token, at_end)

    @work(thread=True, exclusive=True, group="logs-detail", exit_on_error=False, description="record detail")
    def _build_detail(self, row: dict[str, Any], part: int, token: int, at_end: bool) -> None:
        from app.views.record import record_part

        worker = get_current_worker()
        stale = lambda: worker.is_cancelled or token != self._detail_token  # noqa: E731
        built = record_part(row, part, cancelled=stale)
        if built is not None and not stale():
            self.post_message(self.DetailLoaded(token, built, at_end))

    def on_logs_screen_detail_loaded(self, message: DetailLoaded) -> None:
        if message.token == self._detail_token:
            self.query_one(RecordDetail).mount_part(message.part, at_end=message.at_end)

    @on(RecordDetail.PartWanted)
    def _part_wanted(self, message: RecordDetail.PartWanted) -> None:
        row = self._current()
        if row is not None:
            self._show_detail(row, message.part, at_end=message.at_end)

    # -- histogram and facets --------------------------------------------------------------
    @work(thread=True, exclusive=True, group="logs-overview", exit_on_error=False, description="histogram and facets")
    def _overview(self, location: StoreLocation, query: Query, generation: int) -> None:
        from app.views.logs import overview

        now = self.console_context.now_ms()
        width = max(10, min(120, self.size.width - 4))
        try:
            result = self.lane("overview").call(location, partial(overview, query=query, now=now, buckets=width))
        except LaneClosed:
            return
        if result is not None:
            self.post_message(self.OverviewLoaded(generation, result))

    def on_logs_screen_overview_loaded(self, message: OverviewLoaded) -> None:
        if message.generation != self.generation:
            return
        newest = len(message.overview.histogram.counts) - 1
        if self.overview is not None and 0 <= self.bar < len(self.overview.histogram.counts) - 1:
            # Read again while following: a bar chosen (not the newest) stays chosen where it still starts.
            start, _ = self.bar_range(self.bar)
            histogram = message.overview.histogram
            index, off_grid = divmod(start - histogram.start, histogram.width)
            self.bar = index if not off_grid and 0 <= index <= newest else newest
        else:
            self.bar = newest
        self.overview = message.overview
        self._show_histogram()

    def _overview_soon(self) -> None:
        """Following, new matching records came: read the histogram and facets again in a moment (one read
        for a burst of commits; while records keep coming, one read every OVERVIEW_REFRESH_S)."""
        if self._overview_due is None:
            self._overview_due = self.set_timer(OVERVIEW_REFRESH_S, self._overview_refresh)

    def _overview_refresh(self) -> None:
        self._overview_due = None
        if self.parsed is not None and not self._fetching:
            self._overview(self.console_context.store, self.parsed, self.generation)
        elif self.following:
            self._overview_soon()  # a page read is under way (its query may be resolved anew): after it

    def _show_histogram(self) -> None:
        self.query_one(HitHistogram).show(None if self.overview is None else self.overview.histogram, self.bar)

    def bar_range(self, index: int) -> tuple[int, int]:
        histogram = self.overview.histogram  # type: ignore[union-attr]
        start = histogram.start + index * histogram.width
        return start, start + histogram.width

    def action_bar(self, step: int) -> None:
        """< and >: choose an older / newer bar of the hit histogram (t moves the results there)."""
        if self.overview is not None:
            self._choose_bar(self.bar + step)

    @on(HitHistogram.BarChosen)
    def _bar_clicked(self, message: HitHistogram.BarChosen) -> None:
        """A click on a bar: choose it and move the results there at once (the mouse's `t`)."""
        if self.overview is not None:
            self._choose_bar(message.index)
            self.action_jump_to_bar()

    def _choose_bar(self, index: int) -> None:
        assert self.overview is not None
        self.bar = max(0, min(len(self.overview.histogram.counts) - 1, index))
        self._show_histogram()
        from app.timeutil import TimeFormat, format_ms

        start, end = self.bar_range(self.bar)
        n = self.overview.histogram.counts[self.bar]
        at_least = "at least " if start < self.overview.histogram.complete_from else ""
        self._status(Text(f"{format_ms(start, TimeFormat.DAY_MINUTE)}–{format_ms(end, TimeFormat.DAY_MINUTE)}: "
                          f"{at_least}{n:,} matches · t: show them", style="bold"))

    def action_jump_to_bar(self) -> None:
        """t: the result window moves to the chosen bar (its newest match first)."""
        from app.search.searcher import Cursor

        if self.overview is None or self.parsed is None or self.bar < 0:
            return
        _, end = self.bar_range(self.bar)
        skipped = sum(self.overview.histogram.counts[self.bar + 1:])
        self._stop_following()
        self._fetching = True
        self._fetch_jump(self.console_context.store, self.parsed, _Fetch("jump", self.generation),
                         Cursor(end - 1, 2**62), skipped)

    def _fetch_jump(self, location: StoreLocation, query: Query, fetch: _Fetch, cursor: Any, skipped: int) -> None:
        self._jump_skipped = skipped
        self._fetch(location, query, fetch, cursor)

    def action_facets(self) -> None:
        """f: the top error messages, versions, status (and keys asked for) of the results; choosing one
        adds it to the query."""
        from screens.facets import FacetPicker

        if self.overview is None:
            self.notify("the facets are still being read", markup=False, timeout=3)
            return
        self.app.push_screen(FacetPicker(self.overview.facets), self._narrow)

    def _narrow(self, term: str | None) -> None:
        if not term:
            return
        text = f"{self.query_text} {term}".strip()
        bar = self.query_one(QueryBar)
        bar.value = text
        bar.remember(text)
        self._save_history(self.console_context.store, text)
        self._push_query(text)  # a narrowing is a jump, as `a` is: esc goes back to the wider query
        self._show_title()
        self.run_query(text)
        self.set_focus(self.query_one(LogTable))

    # -- n / N: the next or previous error -------------------------------------------------
    def action_next_error(self, step: int) -> None:
        """n: the next error below the cursor (older); N: the previous one (newer). Reads on, a page
        at a time (at most JUMP_PAGES), when the rows held have none."""
        self._jump = None
        self._find_error(step, JUMP_PAGES)

    def _find_error(self, step: int, pages: int) -> None:
        table, rows = self.query_one(LogTable), self.window.rows
        index = table.cursor_row + step
        while 0 <= index < len(rows):
            if rows[index].get("status") == "error":
                table.move_cursor(row=index)
                return
            index += step
        more = self.window.has_older if step > 0 else self.window.has_newer
        if not more or pages <= 0 or self.parsed is None:
            self.notify(f"no {'older' if step > 0 else 'newer'} error in these results", markup=False, timeout=3)
            return
        if self._fetching:
            self._jump = (step, pages)  # the read under way may bring one
            return
        self._jump = (step, pages - 1)
        self._fetching = True
        kind, cursor = ("older", self.window.last) if step > 0 else ("newer", self.window.first)
        self._fetch(self.console_context.store, self.parsed, _Fetch(kind, self.generation), cursor)

    def _resume_jump(self) -> None:
        """A page arrived while n/N waited: search on (the cursor kept its row, so the rows already
        searched are passed over again, cheaply)."""
        if self._jump is not None:
            step, pages = self._jump
            self._jump = None
            self._find_error(step, pages)

    # -- F: follow -------------------------------------------------------------------------
    def action_follow(self) -> None:
        """F: show new matching records as ingest writes them (the cursor on the newest), like less +F.
        Moving the cursor off the newest record pauses following and keeps the place (new records are
        counted above it); F then goes back to the newest; F there, esc or a new query stops."""
        if self.following and not self._at_newest():
            self._follow_from_newest()
            return
        if self.following:
            self._stop_following()
            self._show_range()
            return
        self.following = True
        self._follow_new, self._follow_unseen, self._follow_more = 0, 0, False
        self.set_focus(self.query_one(LogTable))
        location = self.console_context.store
        self._watch = StoreWatch(location, lambda: self.post_message(self.StoreChanged())).start()
        self._follow_from_newest()

    def _follow_from_newest(self) -> None:
        """The newest page again, the cursor on it (F, or more arrived at once than a follow read takes)."""
        self._follow_new += self._follow_unseen  # counted while paused: shown now
        self._follow_unseen, self._follow_seen, self._follow_dirty = 0, None, False
        self.run_query(self.query_text, follow=True)

    def _stop_following(self) -> None:
        self.following = False
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _at_newest(self) -> bool:
        """The cursor is on the newest matching record read (following shows what arrives there). A record
        open full screen is being read: following pauses under it instead of swapping it for a newer one."""
        window = self.window
        return (not window.has_newer and window.offset == 0 and self.query_one(LogTable).cursor_row <= 0
                and not self._record_open)

    def on_logs_screen_store_changed(self, _message: StoreChanged) -> None:
        if not self.following or self.parsed is None or self.showing_quarantine:
            return
        if self._fetching:
            self._follow_dirty = True  # read once the read under way is in
            return
        self._follow_read()

    def _follow_read(self) -> None:
        self._follow_dirty = False
        paused = not self._at_newest()
        if paused and self._follow_unseen >= FOLLOW_COUNT:
            self._follow_more = True  # enough counted: F (or scrolling up) reads the rest
            self._show_range()
            return
        cursor = self._follow_seen if paused and self._follow_seen is not None else self.window.first
        self._fetching = True
        self._fetch(self.console_context.store, self.parsed,
                    _Fetch("follow", self.generation, limit=FOLLOW_READ, paused=paused), cursor)

    def _followed(self, fetch: _Fetch, page: "Page") -> None:
        """A follow read is in: at the newest, the new records go on top with the cursor; paused, they
        are only counted (the table and the cursor stay where the operator put them)."""
        from app.search.searcher import Cursor

        window, table = self.window, self.query_one(LogTable)
        rows = page.rows
        if not fetch.paused and self._at_newest():
            if page.has_newer:  # more than a read takes arrived at once: show the newest page
                self._follow_new += len(rows)
                self._follow_more = True
                self._follow_from_newest()
                return
            if rows:
                if window.rows:
                    window.add_newer(page)
                else:
                    window.reset(page)
                self._follow_new += len(rows)
                table.show(window.rows, 0)
                self._count(self.console_context.store, self.parsed, self.generation)
                self._overview_soon()  # the newest bar and the facets count them too
        elif fetch.paused and self._at_newest():
            # Back at the newest meanwhile (paged up to it): read again from what is held now.
            self._follow_unseen, self._follow_seen, self._follow_dirty = 0, None, True
        elif rows:
            self._follow_unseen += len(rows)
            self._follow_seen = Cursor(rows[0]["ts"], rows[0]["id"])
            # The records above push the ones held down: their numbering follows, and scrolling up
            # reads the new ones (keyset pages "newer" than the top held).
            window.offset += len(rows)
            window.has_newer = True
            self._count(self.console_context.store, self.parsed, self.generation)  # "of N" grows too
            self._overview_soon()  # and so do the histogram and facets
            if page.has_newer:
                self._follow_dirty = True  # count on (up to FOLLOW_COUNT)
        self._show_range()
        if self._follow_dirty and self.following and not self._fetching:
            self._follow_read()

    def _follow_text(self) -> Text:
        more = "+" if self._follow_more else ""
        if self._at_newest():
            return Text.assemble(("following", "bold green"), f" · {self._follow_new:,}{more} new · ")
        return Text.assemble(("following paused", "bold yellow"),
                             f" · {self._follow_unseen:,}{more} new above · F: newest · ")

    def _maybe_fetch(self, index: int) -> None:
        if self._fetching or self.parsed is None:
            return
        window = self.window
        if window.near_bottom(index, EDGE_MARGIN):
            kind, cursor = "older", window.last
        elif window.near_top(index, EDGE_MARGIN):
            kind, cursor = "newer", window.first
        else:
            return
        self._fetching = True
        self._fetch(self.console_context.store, self.parsed, _Fetch(kind, self.generation), cursor)

    def _show_range(self) -> None:
        from app.search.searcher import count_text

        window = self.window
        if self._fetching and not window.rows:
            return
        table = self.query_one(LogTable)
        visible = max(1, table.size.height - 1)  # minus the header
        top = min(int(table.scroll_y), max(0, len(window.rows) - 1))
        start = window.offset + top + 1 if window.rows else 0
        end = window.offset + min(len(window.rows), top + visible)
        count = self.result_count
        if count is None and not window.has_older and not window.has_newer and window.offset == 0:
            from app.search.searcher import Count

            count = Count(len(window.rows), False)  # everything fits in what is held: exact already
        text = Text(count_text(start, end, count), style="bold" if window.rows else "dim")
        if self.following:
            text = Text.assemble(self._follow_text(), text)
        if not window.rows and self.empty_reason and not self._fetching:
            # Never a silent empty answer: say which part of the query found nothing.
            text = Text(self.empty_reason if self.empty_reason.startswith("no results") else
                        f"no results: {self.empty_reason}", style="bold yellow")
        if self.elapsed_ms is not None:
            text.append(f" · {self.elapsed_ms:.0f} ms", style="dim")
        if self.query_text:
            text.append("  ")
            text.append_text(safe_text(self.query_text, style="dim", width=max(10, self.size.width - 40)))
        self._status(text)

    def _status(self, text: Text) -> None:
        self.query_one("#logs-status", Static).update(text)

    # -- keys ------------------------------------------------------------------------------
    def _current(self) -> dict[str, Any] | None:
        table = self.query_one(LogTable)
        index = table.cursor_row
        return self.window.rows[index] if 0 <= index < len(self.window.rows) else None

    def help_extra(self) -> Text:
        """For help (``?``): the query language, from the parser's own field list."""
        text = Text("Query language (press /)\n", style="bold")
        for syntax, meaning in reference():
            text.append(f"  {syntax:<22}", style="bold")
            if len(syntax) > 22:  # too long to share a line: the meaning goes under it
                text.append("\n" + " " * 24)
            text.append(f"{meaning}\n")
        text.rstrip()
        return text

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the query bar `/` is text: the key bar then says what enter, tab and up do instead.
        if action == "focus_query" and isinstance(self.focused, QueryBar):
            return False
        return True

    def action_focus_query(self) -> None:
        self._close_record()
        self.set_focus(self.query_one(QueryBar))

    def _open_record(self) -> None:
        self._record_open = True
        self.add_class("record")
        self._show_title()
        self.set_focus(self.query_one(RecordDetail))

    def _close_record(self) -> None:
        if self._record_open:
            self._record_open = False
            self.remove_class("record")
            self._show_title()
            self.set_focus(self.query_one(LogTable))
            if self.following:
                # Records arrived while it was read: read them in above it (the cursor stays on it).
                self._maybe_fetch(self.query_one(LogTable).cursor_row)
                self._show_range()

    @property
    def record_open(self) -> bool:
        return self._record_open

    def action_back(self) -> None:
        if self._fetching and self._scanning:
            # A long read: stop it at once (a newer generation makes the interrupted read end quietly).
            self.generation += 1
            self._fetching = self._scanning = False
            self._interrupt_reads()
            self._status(Text("search stopped (esc): the query reads many rows; narrow it with since: or model:",
                              style="yellow"))
            return
        # The innermost thing first: a record open full screen (following goes on under it), then follow.
        if self._record_open:
            self._close_record()
        elif self.following:
            self._stop_following()
            self._show_range()
        elif self.showing_quarantine:
            self.action_quarantine()
        elif isinstance(self.focused, QueryBar) and self.window.rows:
            self.set_focus(self.query_one(LogTable))
        elif self.previous_queries:  # back to the query shown before this one (e.g. before entity ±1h)
            text = self.previous_queries.pop()
            record = self._previous_records.pop() if self._previous_records else None
            self.query_one(QueryBar).value = text
            # Back where the operator was: the cursor on the record it was on (read down to it, bounded).
            self.run_query(text, anchor=record)
            self._show_title()
            self.set_focus(self.query_one(LogTable))
        else:
            self.app.pop_screen()

    @on(DataTable.RowSelected, "#logs-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        # enter: the record full screen (80x24 leaves the detail little room); esc comes back.
        event.stop()
        if self._current() is not None:
            self._open_record()

    def action_refresh(self) -> None:
        self.run_query(self.query_text)

    def action_copy(self) -> None:
        row = self._current()
        if row is None:
            return
        # OSC 52: the terminal puts it on the clipboard, over SSH too.
        self.app.copy_to_clipboard(row["request_id"])
        self.notify(f"copied request id {clean(row['request_id'])}", title="clipboard", markup=False, timeout=3)

    def action_around(self) -> None:
        from app.timeutil import ms_to_iso

        row = self._current()
        if row is None:
            return
        if not row.get("entity_id"):
            self.notify("this record has no entity id", severity="warning", markup=False)
            return
        text = (f"entity:{quote_value(row['entity_id'])} since:{ms_to_iso(row['ts'] - AROUND_MS)} "
                f"until:{ms_to_iso(row['ts'] + AROUND_MS + 1)}")
        bar = self.query_one(QueryBar)
        bar.remember(self.query_text)
        bar.value = text
        bar.remember(text)
        self._push_query(text)
        self._close_record()
        self._show_title()  # the breadcrumb now says esc goes back to the previous query
        self.run_query(text, anchor=row["id"])  # the cursor stays on this record in the new results

    def action_open_model(self) -> None:
        from screens.model import ModelScreen

        row = self._current()
        if row is not None:
            # Pushed on top: esc comes back to these results.
            self.app.push_screen(ModelScreen(row["model"]))

    # -- quarantine ------------------------------------------------------------------------
    @property
    def showing_quarantine(self) -> bool:
        return self.has_class("quarantine")

    def action_quarantine(self) -> None:
        """Q: the lines ingest could not take (file:line, reason, raw text), or back to the results."""
        self._close_record()
        if self.showing_quarantine:
            self.remove_class("quarantine")
            self.set_focus(self.query_one(LogTable))
            self._show_range()
            return
        if not self.query("#logs-quarantine"):
            # Mounted here, not with the screen: most visits never show it, and every opening paid its
            # compose, styles and layout on the UI thread. In the DOM at once (the read below finds it).
            self.query_one("#logs-body").mount(DataTable(id="logs-quarantine", cursor_type="row", zebra_stripes=True))
        self.add_class("quarantine")
        self._status(Text("reading quarantined lines…", style="dim"))
        self._load_quarantine(self.console_context.store)

    @work(thread=True, exclusive=True, group="logs-quarantine", exit_on_error=False,
          description="read quarantined lines")
    def _load_quarantine(self, location: StoreLocation) -> None:
        from app.views.logs import quarantined

        self.post_message(self.QuarantineLoaded(quarantined(location)))

    def on_logs_screen_quarantine_loaded(self, message: QuarantineLoaded) -> None:
        from app.timeutil import TimeFormat, format_ms

        table = self.query_one("#logs-quarantine", DataTable)
        table.clear(columns=True)
        table.add_columns("quarantined", "file:line", "reason", "raw line")
        for line in message.lines:
            # Untrusted: every cell through app.text (markup and escapes show as text).
            table.add_row(format_ms(line.ingested_at, TimeFormat.MINUTE) if line.ingested_at else "",
                          safe_text(f"{Path(line.source).name}:{line.line_no}", width=32),
                          safe_text(line.error, width=48), safe_text(line.raw, width=120))
        if self.showing_quarantine:
            self.set_focus(table)
            count = len(message.lines)
            self._status(Text(f"{count:,} quarantined line{'s' if count != 1 else ''}, newest first"
                              + (" (the newest 500)" if count >= 500 else "") + " · Q: back to the results",
                              style="bold" if count else "dim"))

    # -- export ----------------------------------------------------------------------------
    def action_export(self) -> None:
        from screens.prompt import Prompt

        if self.parsed is None or not self.window.rows:
            self.notify("nothing to export", severity="warning", markup=False)
            return
        if self.query_one("#logs-export").has_class("running"):
            self.notify("an export is already running", severity="warning", markup=False)
            return
        name = time.strftime("modeldeck-logs-%Y%m%d-%H%M%S.jsonl", time.gmtime(self.console_context.now_ms() / 1000))
        # The whole absolute path, in the note too: the input scrolls and would show only its end.
        target = Path.cwd().resolve() / name
        self.app.push_screen(Prompt("Export results", "File (.jsonl: the ingest format, .csv: a table)",
                                    value=str(target), note=f"into {target.parent}/"), self._export_to)

    async def _export_to(self, answer: str | list[str] | None) -> None:
        from app.search.export import format_for

        if not answer or isinstance(answer, list) or self.parsed is None:
            return
        path = Path(answer).expanduser()
        if path.exists():
            self.notify(f"{clean(path)} exists: choose another name", severity="error", markup=False)
            return
        if not path.parent.is_dir():
            self.notify(f"no such folder: {clean(path.parent)}", severity="error", markup=False)
            return
        total = (self.result_count.value if self.result_count is not None and not self.result_count.capped
                 and self.result_count.scanned_ms is None else None)
        box = self.query_one("#logs-export")
        if not box.children:
            await box.mount_all([Static(id="logs-export-label", markup=False),
                                 ProgressBar(id="logs-export-bar", show_eta=True)])
        box.add_class("running")
        self.query_one("#logs-export-label", Static).update(Text(f"export to {clean(path.name)}"))
        self.query_one("#logs-export-bar", ProgressBar).update(total=total, progress=0)
        self._export(self.console_context.store, self.parsed, path, format_for(path), total)

    @work(thread=True, exclusive=True, group="logs-export", exit_on_error=False, description="export results")
    def _export(self, location: StoreLocation, query: Query, path: Path, fmt: str, total: int | None) -> None:
        from app.views.logs import export_results

        worker = get_current_worker()

        def progress(written: int, total: int | None) -> None:
            if worker.is_cancelled:
                raise InterruptedError("export cancelled")
            self.post_message(self.ExportProgress(written, total))

        try:
            written = export_results(location, query, path, fmt, total, progress=progress,
                                     connections=self._connections)
        except ExportFailed as exc:
            self.post_message(self.ExportDone(path, 0, one_line(exc.__cause__ or exc)))
            return
        self.post_message(self.ExportDone(path, written))

    def on_logs_screen_export_progress(self, message: ExportProgress) -> None:
        bar = self.query_one("#logs-export-bar", ProgressBar)
        bar.update(total=message.total, progress=message.written)

    def on_logs_screen_export_done(self, message: ExportDone) -> None:
        self.query_one("#logs-export").remove_class("running")
        if message.error:
            self.notify(f"export failed: {clean(message.error)}", severity="error", markup=False)
        else:
            self.notify(f"{message.written:,} records to {clean(message.path)}", title="exported", markup=False)
