"""Running prediction-log searches: keyset pages, the free-text plans, bounded counts, feature indexes.

``app.store.search_sql`` compiles a query (the AST of ``app.search.language``) to SQLite SQL;
this module runs it. ``PredictionSearch`` belongs to one open store (one connection, one
thread) and keeps what it learnt between calls: the page SQL of each query and the free-text
plan of each FTS expression. ``app.search.searcher.Searcher`` is the public face of it.

Every SQLite error leaves as the store's own exception (``StoreInterrupted`` when another
thread called ``Store.interrupt()``).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, NamedTuple, Protocol

from app.search.language import AnyOf, FieldTerm, JsonTerm, Query, TextTerm, TimeTerm
from app.store.connection import ensure_statistics, store_error
from app.store.json_keys import KeyCodes, KeyNames, key_path_sql
from app.store.predictions import COLUMNS
from app.store.search_sql import (FTS_TABLE, GENERATED_PREFIX, Compiled, TextPlan, compile_query, feature_column,
                                  select_sql, text_expressions, union_branches, union_sql)
from app.store.schema import feature_column_ddl, feature_index_ddl
from app.store.zonemap import (HOUR_MS, SELECTIVE_SHARE, Slice, ZonePlan, block_conditions, candidate_slices,
                               hour_range, slice_sql, summarise_feature, summarised_features, trusted)

if TYPE_CHECKING:
    from app.store import Store
    from app.store.dialect import Db

ROW_COLUMNS = ("id", *COLUMNS)
_execute = sqlite3.Connection.execute

# Free text, by how many rows match: up to this many, drive from the FTS matches (fetch them
# all, sort, take a page: app.store.search_sql); more, and a page is found by walking the other
# filters newest first in chunks, asking FTS which ids of each chunk match (``_walk_page``).
DRIVE_UP_TO = 10_000
WALK_CHUNK = 64
_WALK_CHUNK_MAX = 8192
# Ids closer than this share one FTS range query: rows ingested together have near ids.
_RUN_GAP = 256

# Keyset bounds on (ts, id). The leading ``ts <= ?`` is what lets an index on (..., ts) seek.
_OLDER = "ts <= ? AND (ts < ? OR id < ?)"
_NEWER = "ts >= ? AND (ts > ? OR id > ?)"


def page_keyset(after: "Cursor | None", before: "Cursor | None", older: str = _OLDER,
                newer: str = _NEWER) -> tuple[bool, str | None, tuple[object, ...]]:
    """Where a page starts: newest first unless it is the page before ``before``; the keyset condition
    for the cursor given (``older``/``newer`` in the backend's placeholder style) and its (ts, ts, id)."""
    newest_first = before is None
    if after is not None:
        return newest_first, older, (after.ts, after.ts, after.id)
    if before is not None:
        return newest_first, newer, (before.ts, before.ts, before.id)
    return newest_first, None, ()


@dataclass(frozen=True)
class Cursor:
    """A position in the (ts, id) order."""

    ts: int
    id: int


class Page(NamedTuple):
    """One page of results. A NamedTuple: immutable, and built in half the time of a frozen
    dataclass (~0.5 us saved of an id lookup's whole ~10 us page)."""

    # Newest first; keys: id and app.store.predictions.COLUMNS. Features and context are JSON text, or in a
    # coded store a json_keys.CodedJson decoded when read: read them through json_keys.json_text/json_value.
    rows: list[dict[str, Any]]
    has_older: bool
    has_newer: bool

    @property
    def first(self) -> Cursor | None:
        return Cursor(self.rows[0]["ts"], self.rows[0]["id"]) if self.rows else None

    @property
    def last(self) -> Cursor | None:
        return Cursor(self.rows[-1]["ts"], self.rows[-1]["id"]) if self.rows else None


_new_page = tuple.__new__


def page_of(raw: list[tuple], limit: int, newest_first: bool, after: "Cursor | None",
            names: "Callable[[list[dict[str, Any]]], None] | None" = None) -> Page:
    """A page from up to ``limit + 1`` rows (in ``ROW_COLUMNS`` order) read in page order: the extra row only
    says there is more. A page read oldest first (the one before a cursor) is turned to newest first.
    ``names`` wraps a coded store's features and context in place (SQLite: ``json_keys.KeyNames.rows``)."""
    more = len(raw) > limit
    if more:
        del raw[limit:]
    # Most of a 50-row page's Python. A dict display with constant keys builds each dict at its final size in
    # one step, where ``dict(zip(ROW_COLUMNS, row))`` inserts key by key and resizes twice: about half the cost
    # over an entity's page of 50 (it was ~40% of the cost of the rows' SQL). Written here rather than in a
    # helper: an id lookup's page is one row, and a helper's frame is ~1k interpreter instructions of it.
    rows = [{"id": r[0], "ts": r[1], "model": r[2], "version": r[3], "request_id": r[4], "entity_id": r[5],
             "prediction": r[6], "score": r[7], "label": r[8], "latency_ms": r[9], "status": r[10],
             "error": r[11], "features": r[12], "context": r[13]} for r in raw]
    if names is not None:
        names(rows)
    # tuple.__new__ straight away: a NamedTuple's own __new__ is a Python frame around it.
    if newest_first:
        return _new_page(Page, (rows, more, after is not None))  # rows, has_older, has_newer
    rows.reverse()
    return _new_page(Page, (rows, True, more))


# The display above spells the columns out for speed: a column added to the log fails here at import
# until it is added there too.
if page_of([tuple(range(len(ROW_COLUMNS)))], 1, True, None).rows != [dict(zip(ROW_COLUMNS, range(len(ROW_COLUMNS))))]:
    raise ImportError("app.store.search.page_of does not match app.store.predictions.COLUMNS")


@dataclass(frozen=True)
class ScanProgress:
    """How far a long read has got (told to ``PredictionSearch.on_progress`` every few hundred ms)."""

    seconds: float
    rows_read: int | None  # rows of the blocks read so far (a zone walk), None for one whole statement
    rows_in_scope: int | None  # rows the query's model and time terms cover
    back_to: int | None  # epoch ms: everything newer has been read (a zone walk)


# SQLite calls the progress handler every this many virtual-machine steps (~1 ms of work).
PROGRESS_STEPS = 20_000
PROGRESS_AFTER_S = 0.3
# A budgeted read (histogram, facets) looks at the clock this often (~0.05 ms of work).
BUDGET_STEPS = 1_000


@dataclass(frozen=True)
class Count:
    value: int  # exact when not capped (and nothing left unscanned), else at least this
    capped: bool
    # Counting is bounded by work too: when set, only the newest this-many ms of the log (within the
    # query's window) were counted before the budget ran out: "at least 1,000 in the last 3d scanned".
    scanned_ms: int | None = None


# A count that must read rows stops after about this long (then it says how far back it got).
COUNT_BUDGET_S = 1.0
# The histogram and facets of a result set answer within ~200 ms at 10M rows (issue 14 item 6): each read
# of rows stops after about this much of its thread's CPU time and says "at least" for what it did not reach.
OVERVIEW_BUDGET_S = 0.08
_DAY_MS = 86_400_000
# The log's first and last ts, each read from the end of the ts index: ``SELECT min(ts), max(ts)`` in one
# select is not optimised by SQLite and reads the whole index (3 s at 1M rows with a cold cache).
_BOUNDS = "SELECT (SELECT min(ts) FROM predictions), (SELECT max(ts) FROM predictions)"


def generated_columns(store: "Store") -> frozenset[str]:
    """Which indexed-feature columns this store has (``table_xinfo`` lists generated columns)."""
    return _generated_columns(store.conn)


def _generated_columns(conn: sqlite3.Connection) -> frozenset[str]:
    try:
        rows = conn.execute("PRAGMA table_xinfo(predictions)").fetchall()
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    return frozenset(r[1] for r in rows if str(r[1]).startswith(GENERATED_PREFIX))


def _zone_features(conn: sqlite3.Connection) -> frozenset[str]:
    try:
        return frozenset(summarised_features(conn))
    except sqlite3.OperationalError:
        return frozenset()  # a store held at an older schema (tests of migrations)


def ensure_feature_indexes(store: "Store", names: Iterable[str]) -> list[str]:
    """Give each named feature a VIRTUAL generated column and an index (idempotent).

    Returns the feature names that were new. Indexing a big table takes a while (one pass);
    later queries on ``features.NAME`` use the column and the index. ValueError for a name
    that cannot be indexed (quotes, control characters).
    """
    conn = store.conn
    have = _generated_columns(conn)
    added: list[str] = []
    try:
        for name in dict.fromkeys(names):
            if not name or '"' in name or any(ord(ch) < 32 for ch in name):
                raise ValueError(f"cannot index feature {name!r}: names with quotes or control characters "
                                 "are searchable but not indexable")
            column = feature_column(name)
            with store.write():
                if column not in have:
                    # Rows hold the key's code (app/store/json_keys.py): a feature not logged yet gets one now.
                    conn.execute(feature_column_ddl(column, KeyCodes(conn).path(name)))
                    added.append(name)
                conn.execute(feature_index_ddl(column))
                # Its zone map too (one pass, once): numeric predicates on it then skip blocks.
                summarise_feature(conn, name, column)
        if added:
            ensure_statistics(conn)  # the planner should know the new indexes before the first search
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    return added


class PredictionSearch:
    """Runs compiled queries against one open store (one thread)."""

    def __init__(self, store: "Store", *, drive_up_to: int = DRIVE_UP_TO, walk_chunk: int = WALK_CHUNK) -> None:
        self._conn = store.conn
        names = KeyNames(self._conn)
        # A coded store's page rows hold their features and context as CodedJson, decoded when read (the
        # record's detail, an export), never per listed row (app/store/json_keys.py).
        self._decode = names.rows if names.coded else None
        self._drive_up_to = drive_up_to
        self._walk_chunk = walk_chunk
        self._generated = _generated_columns(self._conn)
        # The features the zone map summarises (read once: a feature summarised later prunes from the next
        # searcher on; until then its queries read the rows, which is slower, never wrong).
        self._zone_features = _zone_features(self._conn)
        self._indexes = frozenset(r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions'"))
        self._plans: dict[tuple[str | None, str | None], TextPlan | Literal["walk"]] = {}
        # Page SQL by the identity of a query's terms (app.search.language hands out the same terms
        # tuple for the same text): a lookup without hashing the AST. The entry holds the terms,
        # so an id is never reused while its entry lives, and ``is`` confirms the hit.
        # An entry: (terms, SQL, the parameters of each branch (one, unless a union), whether a union,
        # whether it is every page of the query whatever the store holds: see ``_fixed``).
        self._sql: dict[tuple[int, str | None],
                        tuple[tuple[object, ...], str, tuple[tuple[object, ...], ...], bool, bool]] = {}
        # Whether a query has terms a zone map can judge, by the identity of its terms (as above).
        self._prunable: dict[int, tuple[tuple[object, ...], bool]] = {}
        # Zone plans by the identity of a query's terms (as above), with the store's state they were read in.
        self._zone_plans: dict[int, tuple[tuple[object, ...], tuple[int, int, float], ZonePlan | None]] = {}
        self.use_zones = True  # tests compare answers with and without pruning
        # The histogram of a model/status/time query counted from the zone map (exact, hour-wide buckets).
        self.count_from_zones = True
        self.overview_budget_s: float | None = OVERVIEW_BUDGET_S  # tests comparing two reads turn it off
        self._deadline = (0.0, 0.0)  # (CPU, wall) time a budgeted read stops at (0: none running)
        self._out_of_time = False
        self.zone_share = SELECTIVE_SHARE  # prune when the blocks kept hold at most this share (tests: 1.0)
        self.on_progress: Callable[[ScanProgress], None] | None = None
        self._started = 0.0
        self._walk: tuple[int | None, int | None, int | None] = (None, None, None)

    def watch(self, on_progress: Callable[[ScanProgress], None] | None) -> None:
        """Tell ``on_progress`` how a read is going once it has run ``PROGRESS_AFTER_S``. An exception
        raised in it (KeyboardInterrupt on ctrl-c) stops the statement at once (StoreInterrupted)."""
        self.on_progress = on_progress
        self._conn.set_progress_handler(self._tick if on_progress else None, PROGRESS_STEPS)

    def _begin(self) -> None:
        self._started = time.perf_counter()
        self._walk = (None, None, None)

    def _tick(self) -> int:
        if self._deadline[0] and self._past(self._deadline):
            self._out_of_time = True
            return 1  # stop the statement: its caller keeps the rows read so far
        if not self._started:
            return 0  # not a page or a count (reading names, say): nothing to tell
        elapsed = time.perf_counter() - self._started
        if self.on_progress is not None and elapsed >= PROGRESS_AFTER_S:
            read, scope, back_to = self._walk
            self.on_progress(ScanProgress(elapsed, read, scope, back_to))
        return 0

    @staticmethod
    def _past(deadline: tuple[float, float]) -> bool:
        return time.thread_time() > deadline[0] or time.perf_counter() > deadline[1]

    def budget_deadline(self) -> tuple[float, float]:
        """When a histogram or facets read begun now must stop: (this thread's CPU time, wall time), or
        (0, 0): never. Work is what the budget bounds (CPU time: a loaded machine does not cut the read
        short); the wall-clock bound, ten times longer, stops a read waiting on a cold disk."""
        if self.overview_budget_s is None:
            return 0.0, 0.0
        return time.thread_time() + self.overview_budget_s, time.perf_counter() + 10 * self.overview_budget_s

    def read_within_budget(self, sql: str, params: tuple[object, ...],
                           deadline: tuple[float, float]) -> tuple[list[tuple], bool]:
        """The rows of one statement, stopped (by the progress handler, mid-statement) at ``deadline``
        (from ``budget_deadline``): (the rows read, whether the budget ran out)."""
        rows: list[tuple] = []  # kept when the budget stops the statement: the rows read so far

        def read() -> list[tuple]:
            cursor = self._conn.execute(sql, params)
            while batch := cursor.fetchmany(2000):
                rows.extend(batch)
            return rows

        _, out_of_time = self.within_budget(read, deadline)
        return rows, out_of_time

    def within_budget(self, read: Callable[[], Any], deadline: tuple[float, float]) -> tuple[Any, bool]:
        """``read()`` (a page, say), stopped mid-statement at ``deadline`` (from ``budget_deadline``):
        (its result, or None when the budget ran out first; whether it ran out)."""
        self._out_of_time = False
        if deadline[0]:
            if self._past(deadline):
                return None, True
            self._deadline = deadline
            self._conn.set_progress_handler(self._tick, BUDGET_STEPS)
        try:
            return read(), False
        except sqlite3.OperationalError:
            if not self._out_of_time:
                raise  # interrupted by a newer query, or a real error: not the budget
            return None, True
        finally:
            self._deadline = (0.0, 0.0)
            self._conn.set_progress_handler(self._tick if self.on_progress else None, PROGRESS_STEPS)

    def zone_db(self) -> "Db":
        from app.store.dialect import SqliteDb

        return SqliteDb(self._conn)

    def zones_cover_every_row(self) -> bool:
        return trusted(self._conn)

    def bucket_counts(self, query: Query, origin: int, width: int, lo: int, hi: int) -> Iterable[tuple[int, int]]:
        compiled = self.compile(query, counting=True)
        return self._conn.execute(
            f"SELECT (ts - ?) / ?, count(*) FROM predictions WHERE ({compiled.where}) AND ts >= ? AND ts < ? "
            "GROUP BY 1", (origin, width, *compiled.params, lo, hi)).fetchall()

    def zone_plan(self, query: Query) -> ZonePlan | None:
        """The blocks that may hold a match, when pruning pays (app/store/zonemap.py), else None.

        Queries that seek rows by id already read only their rows: they never pay for the lookup."""
        if not self.use_zones or not self._prunable_terms(query):
            return None
        try:
            # The plan of the same query on an unchanged store is the same: paging (and a query run again)
            # reuses it instead of summing the zone map again (~3-6 ms a page at 2,880 blocks, most of the
            # difference to a hand-written statement for a query, like status:error, that pruning does not pay).
            state = (self._conn.execute("PRAGMA data_version").fetchone()[0], self._conn.total_changes,
                     self.zone_share)
            planned = self._zone_plans.get(id(query.terms))
            if planned is not None and planned[0] is query.terms and planned[1] == state:
                return planned[2]
            plan = candidate_slices(self._conn, query, share=self.zone_share, features=self._zone_features)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        if len(self._zone_plans) > 100:
            self._zone_plans.clear()
        self._zone_plans[id(query.terms)] = (query.terms, state, plan)
        return plan

    def _prunable_terms(self, query: Query) -> bool:
        """Whether ``query`` has terms a zone map can judge (and no id seek, which reads only its rows)."""
        cached = self._prunable.get(id(query.terms))
        if cached is None or cached[0] is not query.terms:
            prunable = block_conditions(query, self._zone_features)[4] and not any(
                isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id") and t.op == "="
                and not t.negated for t in query.terms)
            if len(self._prunable) > 100:
                self._prunable.clear()
            cached = self._prunable[id(query.terms)] = (query.terms, prunable)
        return cached[1]

    def id_columns(self, word: str) -> tuple[str, ...]:
        """Which id columns (``request_id``, ``entity_id``) hold ``word`` exactly: one index seek each. Free
        text does not index ids (schema step 16); a bare word that names one is routed to it by the searcher."""
        try:
            request, entity = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM predictions WHERE request_id = ?), "
                "EXISTS (SELECT 1 FROM predictions WHERE entity_id = ?)", (word, word)).fetchone()
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        return (("request_id",) if request else ()) + (("entity_id",) if entity else ())

    def compile(self, query: Query, *, counting: bool = False) -> Compiled:
        try:
            plan = self._text_plan(query, counting)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        # As one statement, a walk is the per-row FTS probe (what a bounded count uses).
        return compile_query(query, generated=self._generated, text_plan="probe" if plan == "walk" else plan)

    def page_sql(self, query: Query) -> tuple[str, tuple[object, ...]]:
        """The first page's SQL and parameters (without the page's LIMIT): what a benchmark runs by hand. An OR
        read as a union of index seeks has a LIMIT per branch too: those are given, for a page of 50."""
        plan = self._text_plan(query, False)
        branches = None if plan == "walk" else union_branches(query, generated=self._generated, text_plan=plan)
        if branches is not None:
            return (union_sql(ROW_COLUMNS, branches, keyset=None, newest_first=True),
                    tuple(value for branch in branches for value in (*branch.params, 51)))
        compiled = self.compile(query)
        return select_sql(ROW_COLUMNS, compiled, keyset=None, newest_first=True), compiled.params

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

    def page(self, query: Query, after: Cursor | None, before: Cursor | None, limit: int) -> Page:
        """``limit`` rows newest first: the first page, those older than ``after``, or those newer than ``before``."""
        newest_first, keyset, bound = (True, None, ()) if after is None and before is None else \
            page_keyset(after, before)
        cached = self._sql.get((id(query.terms), keyset))
        if cached is not None and cached[0] is query.terms and cached[4]:
            # A query whose page is always its one statement (an id lookup, say: ~30 us of SQL, where each
            # us of planning shows): straight to it, without asking the zone map or a feature's index.
            self._started, self._walk = time.perf_counter(), (None, None, None)
            try:
                return self._run(cached, bound, limit, newest_first, after)
            except sqlite3.Error as exc:
                raise store_error(exc) from exc
            finally:
                self._started = 0.0
        if _matches_nothing(query):
            return Page([], False, after is not None)  # a name the store never logged: no row to read
        self._begin()
        try:
            return self._page(query, after, before, limit)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        finally:
            self._started = 0.0

    def feature_drive(self, query: Query) -> str | None:
        """The index of an indexed feature whose range term (``features.amount>100000``) holds at most
        ``DRIVE_UP_TO`` rows, counted index-only: reading through it beats the zone map's blocks and
        the planner's own choice (which, with ``model:`` beside, walks the model's every row)."""
        for term in query.terms:
            if self._drivable(term):
                assert isinstance(term, JsonTerm)
                index = f"{feature_column(term.key)}_idx"
                alone = compile_query(Query(query.text, (term,), query.now), generated=self._generated)
                hits = self._conn.execute(
                    f'SELECT count(*) FROM (SELECT 1 FROM predictions INDEXED BY "{index}" WHERE {alone.where} '
                    "LIMIT ?)", (*alone.params, self._drive_up_to + 1)).fetchone()[0]
                if hits <= self._drive_up_to:
                    return index
        return None

    def _drivable(self, term: object) -> bool:
        """A numeric range on an indexed feature (``features.amount>100000``): ``feature_drive`` may read
        through its index."""
        if (isinstance(term, JsonTerm) and term.column == "features" and not term.negated
                and term.op in (">", ">=", "<", "<=") and isinstance(term.value, (int, float))
                and not isinstance(term.value, bool)):
            column = feature_column(term.key)
            return column in self._generated and f"{column}_idx" in self._indexes
        return False

    def _page(self, query: Query, after: Cursor | None, before: Cursor | None, limit: int) -> Page:
        index = self.feature_drive(query) if self.use_zones else None
        if index is not None:
            return self._index_page(query, index, after, before, limit)
        zones = self.zone_plan(query)
        if zones is not None:
            return self._zone_page(query, zones, after, before, limit)
        newest_first, keyset, bound = page_keyset(after, before)
        # Pages of one query share their SQL: compile it once (a page of an id lookup is ~10 us,
        # so a few us of text planning and compiling per call would be a third of it).
        key = (id(query.terms), keyset)
        cached = self._sql.get(key)
        if cached is None or cached[0] is not query.terms:
            plan = self._text_plan(query, False)
            if plan == "walk":
                return self._walk_page(query, after, before, limit)  # not one statement: not cached
            branches = union_branches(query, generated=self._generated, text_plan=plan)
            if branches is not None:
                # An OR of indexed terms: a page through each alternative's index, then their union.
                cached = (query.terms, union_sql(ROW_COLUMNS, branches, keyset=keyset, newest_first=newest_first),
                          tuple(branch.params for branch in branches), True, self._fixed(query))
            else:
                compiled = compile_query(query, generated=self._generated, text_plan=plan)
                cached = (query.terms, select_sql(ROW_COLUMNS, compiled, keyset=keyset, newest_first=newest_first),
                          (compiled.params,), False, self._fixed(query))
            if len(self._sql) > 100:
                self._sql.clear()
            self._sql[key] = cached
        return self._run(cached, bound, limit, newest_first, after)

    def _run(self, cached: tuple[tuple[object, ...], str, tuple[tuple[object, ...], ...], bool, bool],
             bound: tuple[object, ...], limit: int, newest_first: bool, after: Cursor | None) -> Page:
        """A page from a cached statement (an entry of ``_sql``) and the cursor's keyset bound."""
        _, sql, params, union, _ = cached
        if union:  # each branch's own, its keyset bound and its limit, then the page's limit
            values = (*(value for branch in params for value in (*branch, *bound, limit + 1)), limit + 1)
        else:
            values = (*params[0], *bound, limit + 1)
        # sqlite3's own execute, not the store connection's wrapper (a Python frame): ``page`` turns any
        # sqlite3 error into the store's own exception already.
        raw = _execute(self._conn, sql, values).fetchall()
        return page_of(raw, limit, newest_first, after, self._decode)

    def _fixed(self, query: Query) -> bool:
        """Whether every page of ``query`` is its one cached statement whatever the store holds and however
        ``use_zones`` is set: no zone map can prune it (``_prunable_terms``) and no indexed feature can drive
        it (``feature_drive`` counts rows, so its answer changes with the store)."""
        return not self._prunable_terms(query) and not any(
            self._drivable(t) for t in query.terms)

    def _index_page(self, query: Query, index: str, after: Cursor | None, before: Cursor | None,
                    limit: int) -> Page:
        """A page read through an indexed feature's index (few entries in its range: fetch, sort, cut)."""
        compiled = self.compile(query)
        newest_first, keyset, bound = page_keyset(after, before)
        sql = select_sql(ROW_COLUMNS, compiled, keyset=keyset, newest_first=newest_first, index=index)
        raw = self._conn.execute(sql, (*compiled.params, *bound, limit + 1)).fetchall()
        return page_of(raw, limit, newest_first, after, self._decode)

    def _zone_page(self, query: Query, zones: ZonePlan, after: Cursor | None, before: Cursor | None,
                   limit: int) -> Page:
        """A page read only from the blocks that may match, one statement per slice, newest first (or
        oldest first for a page before ``before``). Slices are disjoint time ranges in order, so their
        rows concatenate in (ts, id) order."""
        compiled = self.compile(query)
        newest_first, keyset, bound = page_keyset(after, before)
        raw: list[tuple] = []
        read = 0
        for slice_ in (zones.slices if newest_first else reversed(zones.slices)):
            if (after is not None and slice_.start > after.ts) or (before is not None and slice_.end <= before.ts):
                continue  # wholly on the other side of the cursor
            self._walk = (read, zones.scope_rows, slice_.end if newest_first else None)
            read += slice_.rows
            where, extra = slice_sql(compiled.where, slice_)
            sql = select_sql(ROW_COLUMNS, Compiled(where, ()), keyset=keyset, newest_first=newest_first)
            raw.extend(self._conn.execute(sql, (*compiled.params, *extra, *bound, limit + 1 - len(raw))).fetchall())
            if len(raw) > limit:
                break
        return page_of(raw, limit, newest_first, after, self._decode)

    def slices(self, query: Query, start: int | None = None, end: int | None = None) -> list[Slice] | None:
        """The zone plan's slices cut to [start, end), or None (no pruning: read the range whole)."""
        zones = self.zone_plan(query)
        if zones is None:
            return None
        out = []
        for slice_ in zones.slices:
            lo = slice_.start if start is None else max(slice_.start, start)
            hi = slice_.end if end is None else min(slice_.end, end)
            if lo < hi:
                out.append(Slice(lo, hi, slice_.models, slice_.rows))
        return out

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
        # The other filters' rows in order; an OR of indexed terms among them as one seek per alternative.
        branches = union_branches(rest, generated=self._generated)
        if branches is None:
            first_sql = select_sql(("id", "ts"), compiled, keyset=None, newest_first=newest_first)
            next_sql = select_sql(("id", "ts"), compiled, keyset=keyset, newest_first=newest_first)
        else:
            first_sql = union_sql(("id", "ts"), branches, keyset=None, newest_first=newest_first)
            next_sql = union_sql(("id", "ts"), branches, keyset=keyset, newest_first=newest_first)

        def params(bound: tuple[object, ...], size: int) -> tuple[object, ...]:
            if branches is None:
                return (*compiled.params, *bound, size)
            return (*(value for branch in branches for value in (*branch.params, *bound, size)), size)

        range_sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? AND rowid BETWEEN ? AND ?"
        cursor = after if newest_first else before
        found: list[int] = []
        chunk_size = self._walk_chunk
        while len(found) <= limit:
            if cursor is None:
                chunk = self._conn.execute(first_sql, params((), chunk_size)).fetchall()
            else:
                chunk = self._conn.execute(next_sql, params((cursor.ts, cursor.ts, cursor.id), chunk_size)).fetchall()
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
        if self._decode is not None:
            self._decode(rows)
        if newest_first:
            return Page(rows, has_older=more, has_newer=after is not None)
        rows.reverse()
        return Page(rows, has_older=True, has_newer=more)

    def count(self, query: Query, cap: int, budget_s: float | None = COUNT_BUDGET_S) -> Count:
        """How many rows match, counting no further than ``cap`` matches (never a whole-table count) and,
        when ``budget_s`` is set, for about that long: the log is counted newest first, a day (or a zone
        map slice) at a time, and a count that runs out of time says how far back it got."""
        if _matches_nothing(query):
            return Count(0, False)
        self._begin()
        compiled = self.compile(query, counting=True)
        sql = "SELECT count(*) FROM (SELECT 1 FROM predictions WHERE {} LIMIT ?)"
        started = time.perf_counter()
        scanned: int | None = None
        try:
            index = self.feature_drive(query) if self.use_zones else None
            slices = None if index else self.slices(query)
            if index is not None:  # few entries in an indexed feature's range: count through its index
                n = self._conn.execute(sql.replace("FROM predictions", f'FROM predictions INDEXED BY "{index}"', 1)
                                       .format(compiled.where), (*compiled.params, cap + 1)).fetchone()[0]
            elif slices is None and (budget_s is None or _seeks_by_id(query)):
                n = self._conn.execute(sql.format(compiled.where), (*compiled.params, cap + 1)).fetchone()[0]
            else:
                if slices is None:
                    slices = self._days(query)
                n = 0
                newest = slices[0].end if slices else 0
                for k, slice_ in enumerate(slices):
                    where, extra = slice_sql(compiled.where, slice_) if slice_.models else _range_sql(
                        compiled.where, slice_)
                    n += self._conn.execute(sql.format(where), (*compiled.params, *extra, cap + 1 - n)).fetchone()[0]
                    if n > cap:
                        break
                    if (budget_s is not None and k + 1 < len(slices)
                            and time.perf_counter() - started > budget_s):
                        scanned = newest - slice_.start
                        break
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        finally:
            self._started = 0.0
        return Count(min(n, cap), n > cap, None if n > cap else scanned)

    def _days(self, query: Query) -> list[Slice]:
        """The query's time window as day slices, newest first (any model: ``models`` empty)."""
        low, high = self._conn.execute(_BOUNDS).fetchone()
        if low is None:
            return []
        high += 1
        for term in query.terms:
            if isinstance(term, TimeTerm) and not term.negated:
                if term.bound == "since":
                    low = max(low, term.at)
                else:
                    high = min(high, term.at)
        days = []
        while high > low:
            days.append(Slice(max(low, high - _DAY_MS), high, ()))
            high -= _DAY_MS
        return days


@dataclass(frozen=True)
class Histogram:
    """Matches per time bucket over [start, end): ``counts[i]`` covers start + i*width. Only the newest
    ``cap`` matches are counted: when ``capped``, buckets older than ``complete_from`` are "at least"."""

    start: int
    width: int
    counts: list[int]
    capped: bool
    complete_from: int  # epoch ms: buckets from here on are exact


@dataclass(frozen=True)
class Facet:
    """The top values of one field over the newest ``sampled`` matches (``capped``: there were more)."""

    field: str  # as typed in a query: "status", "version", "error", "features.NAME", ...
    values: list[tuple[object, int]]
    sampled: int
    capped: bool


# field -> the SQL expression it groups by (fixed vocabulary; JSON keys go as parameters).
_FACET_SQL = {"status": "status", "version": "version", "model": "model", "error": "error",
              "prediction": "prediction", "label": "label"}


def _where_params(search: "PredictionSearch", query: Query) -> tuple[str, tuple[object, ...]]:
    compiled = search.compile(query, counting=True)
    return compiled.where, compiled.params


def histogram(search: "PredictionSearch", query: Query, start: int, end: int, buckets: int, cap: int) -> Histogram:
    """Matches per bucket between ``start`` and ``end`` (epoch ms). Exact from the zone map when the query
    only names models, status and time (hour-wide buckets); else over the newest ``cap`` matches, read newest
    first for about ``OVERVIEW_BUDGET_S``: what was not reached is "at least" (``complete_from``)."""
    try:
        zoned = zone_histogram(search, query, start, end, buckets, cap)
        if zoned is not None:
            return zoned
        return _row_histogram(search, query, start, end, buckets, cap)
    except sqlite3.Error as exc:
        raise store_error(exc) from exc


def _row_histogram(search: "PredictionSearch", query: Query, start: int, end: int, buckets: int,
                   cap: int) -> Histogram:
    """The newest ``cap`` matches' ts, read newest first within the time budget, bucketed here."""
    width = max(1, -(-(end - start) // max(1, buckets)))
    where, params = _where_params(search, query)
    slices = search.slices(query, start, end)
    if slices is None:  # one statement over the window (the budget stops it)
        slices = [Slice(start, end, ())]
    counts = [0] * buckets
    seen, oldest, stopped = 0, end, False
    deadline = search.budget_deadline()
    for slice_ in slices:
        cut, extra = slice_sql(where, slice_) if slice_.models else _range_sql(where, slice_)
        rows, stopped = search.read_within_budget(
            f"SELECT ts FROM predictions WHERE {cut} AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?",
            (*params, *extra, start, end, cap + 1 - seen), deadline)
        for (ts,) in rows:
            counts[(ts - start) // width] += 1
        seen += len(rows)
        if rows:
            oldest = rows[-1][0]
        if seen > cap or stopped:
            break
    if seen > cap or stopped:  # the cap, or the time, ran out: buckets older than the last ts read are "at least"
        return Histogram(start, width, counts, True, oldest)
    return Histogram(start, width, counts, False, start)


def histogram_of(rows: list[tuple], start: int, end: int, width: int, buckets: int, cap: int) -> Histogram:
    """(bucket, count, oldest ts) rows read by either backend as the histogram (PostgreSQL's reader)."""
    counts = [0] * buckets
    total, oldest = 0, end
    for bucket, n, first in rows:
        if 0 <= bucket < buckets:
            counts[int(bucket)] += n
        total += n
        oldest = min(oldest, first)
    capped = total > cap
    return Histogram(start, width, counts, capped, oldest if capped else start)


def zone_counted(query: Query) -> tuple[str, str, list[object]] | None:
    """(count expression, block condition, params) when a zone block counts the query's matches exactly:
    every term is a time bound, ``model:`` (or an OR of them) or ``status:``; else None."""
    count, where, params = "b.rows", ["1 = 1"], []  # type: tuple[str, list[str], list[object]]
    for term in query.terms:
        if term.negated:
            return None
        if isinstance(term, TimeTerm):
            continue  # the caller's [start, end) carries the query's time bounds
        if isinstance(term, FieldTerm) and term.op == "=" and term.column == "model":
            where.append("b.model = ?")
            params.append(term.value)
        elif isinstance(term, AnyOf) and term.alternatives and all(
                len(a) == 1 and isinstance(a[0], FieldTerm) and a[0].column == "model" and a[0].op == "="
                and not a[0].negated for a in term.alternatives):
            where.append(f"b.model IN ({', '.join('?' * len(term.alternatives))})")
            params.extend(a[0].value for a in term.alternatives)  # type: ignore[union-attr]
        elif (isinstance(term, FieldTerm) and term.op == "=" and term.column == "status" and count == "b.rows"
              and term.value in ("ok", "error")):
            # status is 'ok' or 'error' (a CHECK constraint): ok = rows - errors.
            count = "b.errors" if term.value == "error" else "b.rows - b.errors"
        else:
            return None
    return count, " AND ".join(where), params


class ZoneCounting(Protocol):
    """What ``zone_histogram`` needs of a backend's search: its switches, its connection as a ``Db`` (the
    zone statements are portable), whether the zone map covers every row, and rows counted by bucket."""

    use_zones: bool
    count_from_zones: bool

    def zone_db(self) -> "Db": ...
    def zones_cover_every_row(self) -> bool: ...
    def bucket_counts(self, query: Query, origin: int, width: int, lo: int, hi: int) -> Iterable[tuple[int, int]]:
        """(bucket, matches) of ``query`` over the rows with lo <= ts < hi, bucket = (ts - origin) // width."""
        ...


def zone_histogram(search: ZoneCounting, query: Query, start: int, end: int, buckets: int,
                   cap: int) -> Histogram | None:
    """Exact counts per hour-aligned bucket from the zone map (``zone_blocks``: rows and errors per model and
    hour), the hours the range cuts (and the oldest stored hour, whose block retention may have left wider
    than its rows) counted from the rows. None when the query or the store does not allow it, or when
    reading the rows costs little (their buckets can then be finer than an hour). Either backend."""
    counted = zone_counted(query) if search.use_zones and search.count_from_zones else None
    if counted is None or start < 0 or end <= start or _matches_nothing(query):
        return None
    count, where, params = counted
    db = search.zone_db()
    if not search.zones_cover_every_row():
        return None
    # What is counted: [start, end) within the query's own since:/until:.
    lo, hi = start, end
    for term in query.terms:
        if isinstance(term, TimeTerm):
            lo, hi = (max(lo, term.at), hi) if term.bound == "since" else (lo, min(hi, term.at))
    first_hour, last_hour = start // HOUR_MS, (end - 1) // HOUR_MS
    hours = last_hour - first_hour + 1
    per_bar = -(-hours // max(1, buckets))
    origin, width = first_hour * HOUR_MS, per_bar * HOUR_MS
    counts = [0] * -(-hours // per_bar)
    if lo >= hi:
        return Histogram(origin, width, counts, False, origin)
    # int(): PostgreSQL sums a bigint column as numeric.
    scope = int(db.execute(f"SELECT coalesce(sum(b.rows), 0) FROM zone_blocks b WHERE {where} AND b.hour BETWEEN ? "
                           "AND ?", (*params, lo // HOUR_MS, (hi - 1) // HOUR_MS)).fetchone()[0])
    if scope <= cap and end - start < 2 * HOUR_MS and count == "b.rows":
        # Under two hours of few rows, each a match (no status to check): the row path reads them from the
        # index, exactly, in finer bars than hours. Otherwise whole-hour bars from the blocks: exact at once,
        # where reading the rows (every row in scope, for a status term) may be cut by the time budget.
        return None
    oldest = db.execute("SELECT min(ts) FROM predictions").fetchone()[0]
    if oldest is None:
        return Histogram(origin, width, counts, False, origin)
    # Whole hours from their blocks: from the first hour wholly inside [lo, hi) and after the oldest
    # stored one, up to the last hour wholly inside.
    low = max(-(-lo // HOUR_MS), oldest // HOUR_MS + 1)
    high = hi // HOUR_MS  # exclusive
    for hour, n in db.execute(f"SELECT b.hour, sum({count}) FROM zone_blocks b WHERE {where} AND b.hour >= ? "
                              "AND b.hour < ? GROUP BY b.hour", (*params, low, high)).fetchall():
        counts[(hour - first_hour) // per_bar] += int(n)
    # The rest of [lo, hi) from the rows: the hours before ``low`` and the hour ``hi`` cuts.
    for edge_lo, edge_hi in ((lo, min(hi, low * HOUR_MS)), (max(lo, low * HOUR_MS, high * HOUR_MS), hi)):
        if edge_lo < edge_hi:
            for bucket, n in search.bucket_counts(query, origin, width, edge_lo, edge_hi):
                counts[int(bucket)] += int(n)
    return Histogram(origin, width, counts, False, origin)


@dataclass(frozen=True)
class Span:
    """Where a query's matches lie in time: no match is older than ``first`` nor newer than ``last`` (epoch
    ms). Either is None when it could not be read within the time budget (the caller picks a default)."""

    first: int | None
    last: int | None


def match_span(search: "PredictionSearch", query: Query) -> Span | None:
    """The time range of ``query``'s matches, None when nothing matches. From the zone map first: the first
    and last hour whose blocks may hold a match (exact hours when every term is judged by a block: models,
    status, time). Otherwise those hours are narrowed to the newest and oldest match's own ts, each one
    keyset page of one row, read within part of the overview's time budget (unread: the hour's bound)."""
    if _matches_nothing(query):
        return None
    try:
        first = last = None
        if search.use_zones and trusted(search._conn):
            scope, scope_params, prune, prune_params, _ = block_conditions(query, search._zone_features)
            low, high = search._conn.execute(
                f"SELECT min(b.hour), max(b.hour) FROM zone_blocks b WHERE {' AND '.join(scope + prune) or '1'}",
                (*scope_params, *prune_params)).fetchone()
            if low is None:
                return None  # every row is summarised, and no block can hold a match
            first, last = hour_range(low)[0], hour_range(high)[1] - 1
            # The hours are the bars' own grain (a bar is never narrower than a minute nor, counted from the
            # zone map, than an hour): exact enough without reading a row.
            if zone_counted(query) is not None and search.count_from_zones:
                return _within_time_terms(query, first, last)
        deadline = search.budget_deadline()
        if deadline[0]:  # half the overview's budget: the histogram and facets still have theirs
            share = search.overview_budget_s / 2  # type: ignore[operator]
            deadline = (deadline[0] - share, deadline[1] - 10 * share)
        newest, stopped = search.within_budget(lambda: search.page(query, None, None, 1), deadline)
        if newest is not None:
            if not newest.rows:
                return None
            last = newest.rows[0]["ts"]
        floor = Cursor(first - 1, 2**62) if first is not None else Cursor(-2**63, -2**63)
        oldest, _ = (None, True) if stopped else search.within_budget(
            lambda: search.page(query, None, floor, 1), deadline)
        if oldest is not None and oldest.rows:
            first = oldest.rows[-1]["ts"]
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    return _within_time_terms(query, first, last)


def _within_time_terms(query: Query, first: int | None, last: int | None) -> Span:
    """Bounds (hours of blocks, say) cut to the query's own since:/until: (an hour may start before since:)."""
    for term in query.terms:
        if isinstance(term, TimeTerm) and not term.negated:
            if term.bound == "since" and first is not None:
                first = max(first, term.at)
            elif term.bound == "until" and last is not None:
                last = min(last, term.at - 1)
    return Span(first, last)


def facets(search: "PredictionSearch", query: Query, fields: list[str], top: int, cap: int) -> list[Facet]:
    """The ``top`` values of each field over the newest ``cap`` matches (one sample, read once), read newest
    first within the time budget: a sample cut by the cap or the budget is "at least" (``capped``)."""
    where, params = _where_params(search, query)
    expressions: list[str] = []
    extra: list[object] = []
    for field in fields:
        head, _, key = field.partition(".")
        if field in _FACET_SQL:
            expressions.append(_FACET_SQL[field])
        elif head in ("features", "context") and key:
            expressions.append(f"json_extract({head}, {key_path_sql()})")
            extra.append(key)
        else:
            raise ValueError(f"no facet for {field!r}")
    try:
        slices = search.slices(query)
        if slices is None:  # one statement (the cap and the budget stop it)
            slices = [Slice(-2**63, 2**63 - 1, ())]
        sample: list[tuple] = []
        stopped = False
        deadline = search.budget_deadline()
        for slice_ in slices:  # only the blocks that may match, newest first, until the cap
            cut, more = slice_sql(where, slice_) if slice_.models else _range_sql(where, slice_)
            rows, stopped = search.read_within_budget(
                f"SELECT {', '.join(expressions)} FROM predictions WHERE {cut} ORDER BY ts DESC, id DESC LIMIT ?",
                (*extra, *params, *more, cap - len(sample)), deadline)
            sample.extend(rows)
            if len(sample) >= cap or stopped:
                break
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    capped = len(sample) >= cap or stopped  # "at least": there may be more matches than were read
    result = []
    for i, field in enumerate(fields):
        tally: dict[object, int] = {}
        for row in sample:
            if row[i] is not None:
                tally[row[i]] = tally.get(row[i], 0) + 1
        # As SQLite orders: most first, then numbers before text before blobs, then by value.
        ranked = sorted(tally.items(), key=lambda kv: (-kv[1], _TYPE_RANK.get(type(kv[0]), 3), kv[0]))
        result.append(Facet(field, ranked[:top], len(sample), capped))
    return result


_TYPE_RANK = {int: 0, float: 0, str: 1, bytes: 2}


def _matches_nothing(query: Query) -> bool:
    """A top-level OR of no alternatives (``version:v99`` resolved against names that hold no v99)."""
    return any(isinstance(t, AnyOf) and not t.alternatives and not t.negated for t in query.terms)


def _seeks_by_id(query: Query) -> bool:
    """An id term: the index finds the few rows at once, no need to count by day."""
    return any(isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id") and t.op == "=" and not t.negated
               for t in query.terms)


def _range_sql(where: str, slice_: Slice) -> tuple[str, list[object]]:
    return f"({where}) AND ts >= ? AND ts < ?", [slice_.start, slice_.end]


def _runs(ids: list[int]) -> Iterator[tuple[int, int]]:
    """Sorted ids as (low, high) ranges, split where two neighbours are more than _RUN_GAP apart."""
    low = previous = ids[0]
    for row_id in ids[1:]:
        if row_id - previous > _RUN_GAP:
            yield low, previous
            low = row_id
        previous = row_id
    yield low, previous
