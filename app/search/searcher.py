"""Prediction-log search: parse a query, page through its results newest first, count them.

    searcher = Searcher(store)
    query = searcher.parse('model:fraud since:2h features.amount>1000 -status:ok')
    page = searcher.page(query)                       # first 50, newest first
    older = searcher.page(query, after=page.last)     # keyset: page 1,000 costs what page 1 costs
    count = searcher.count(query)                     # bounded: "of more than 10,000"

The language lives in ``app.search.language``; its SQL is the store's (``app.store.search_sql``
compiles, ``app.store.search`` runs). This module is the part screens and commands use. One
Searcher per open store (per thread). Store errors arrive as ``app.store.StoreError``
(``StoreInterrupted`` when a newer query interrupted this one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from app.search.language import (FIELD_NAMES, AnyOf, FieldTerm, Query, SearchError, Term, TextTerm, TimeTerm,
                                 new_query, parse)
from app.search.resolve import Resolution, UnknownName, resolve_query
from app.store.search import (COUNT_BUDGET_S, DRIVE_UP_TO, ROW_COLUMNS, WALK_CHUNK, Count, Cursor, Page, PredictionSearch,
                              ensure_feature_indexes)
from app.store.search_sql import Compiled

if TYPE_CHECKING:
    from typing import Callable

    from app.store import Store
    from app.store.search import Facet, Histogram, ScanProgress, Span

__all__ = ["Searcher", "Query", "SearchError", "UnknownName", "Resolution", "Page", "Cursor", "Count", "parse", "count_text",
           "ensure_feature_indexes", "FIELD_NAMES", "PAGE_SIZE", "COUNT_CAP", "ROW_COLUMNS"]

PAGE_SIZE = 50
COUNT_CAP = 10_000
# The histogram and facets read at most this many of the newest matches (then they say "at least").
OVERVIEW_CAP = 20_000


def count_text(start: int, end: int, count: Count | None) -> str:
    """``1-50 of 12,345``, ``1-50 of more than 10,000``, ``1-50 of at least 1,000 in the last 3d scanned``,
    ``no results`` (start/end are 1-based)."""
    if count is not None and count.value == 0 and not count.capped and end < start:
        if count.scanned_ms is None:
            return "no results"
        from app.timeutil import age_text

        return f"no results in the last {age_text(count.scanned_ms)} scanned"
    shown = f"{start:,}-{end:,}" if end >= start else "0"
    if count is None:
        return f"{shown} of …"
    if count.capped:
        return f"{shown} of more than {count.value:,}"
    if count.scanned_ms is not None:  # the count's time ran out before the log's start
        from app.timeutil import age_text

        # The rows on screen are matches too, wherever the count's time ran out.
        return f"{shown} of at least {max(count.value, end):,} in the last {age_text(count.scanned_ms)} scanned"
    return f"{shown} of {count.value:,}"


class Searcher:
    """Runs queries against one open store.

    ``drive_up_to`` and ``walk_chunk`` tune how free text is searched (tests force the walk).
    """

    def __init__(self, store: "Store", *, drive_up_to: int = DRIVE_UP_TO, walk_chunk: int = WALK_CHUNK) -> None:
        self._store = store
        if getattr(store, "kind", "sqlite") == "postgresql":  # the second backend's compiler (app/store/pg)
            from app.store.pg.search import PgPredictionSearch

            self._search = PgPredictionSearch(store)  # type: ignore[assignment, arg-type]
        else:
            self._search = PredictionSearch(store, drive_up_to=drive_up_to, walk_chunk=walk_chunk)
        # Queries with a bare word routed to the id it names, by the identity of their terms (the store
        # caches page SQL by that identity too, so the routed terms are kept and handed out again).
        self._routed: dict[int, tuple[tuple[Term, ...], tuple[Term, ...]]] = {}
        self._id_columns: Callable[[str], tuple[str, ...]] | None = getattr(self._search, "id_columns", None)
        self._names: tuple[list[str], dict[str, list[str]]] | None = None  # the catalogue's, read by resolve

    def routed(self, query: Query) -> Query:
        """A bare word that is a stored request or entity id also finds that record: free text does not
        index ids (they cost a third of the index), so ``01a1707f6b7d-8fa8f2b6`` typed alone means
        ``(that text OR request:that OR entity:that)``. One index seek per id column, once per query."""
        id_columns = self._id_columns
        if id_columns is None:  # a backend whose free text indexes the ids itself
            return query
        cached = self._routed.get(id(query.terms))
        if cached is None or cached[0] is not query.terms:
            terms = tuple(_routed(term, id_columns) for term in query.terms)
            if all(a is b for a, b in zip(terms, query.terms)):
                terms = query.terms
            if len(self._routed) > 100:
                self._routed.clear()
            cached = self._routed[id(query.terms)] = (query.terms, terms)
        return query if cached[1] is query.terms else new_query(query.text, cached[1], query.now)

    def resolve(self, query: Query) -> Resolution:
        """``model:``/``version:`` values as the store's names (exact, glob, unique prefix), with the
        notices to show; raises UnknownName (a likely typo, naming the closest names)."""
        if not any(_names_field(t) for t in query.terms):
            return Resolution(query, ())
        # The names read last time answer a query naming only names among them (the usual: a name picked
        # from completion or typed in full), without a round trip to the catalogue. A glob, a prefix or a
        # name not among them reads the names again, so a model logged since is found and a prefix judged
        # against every name. (A model whose logs were all pruned since still resolves to itself: its page
        # is empty either way.)
        if self._names is None or not _only_known_names(query.terms, *self._names):
            self._names = self._store.predictions.logged_names()
        return resolve_query(query, *self._names)

    def watch(self, on_progress: "Callable[[ScanProgress], None] | None") -> None:
        """Hear how a long read is going (after ~0.3 s; see ``ScanProgress``); an exception raised in
        ``on_progress`` (ctrl-c's KeyboardInterrupt) stops the read at once with StoreInterrupted."""
        self._search.watch(on_progress)

    def histogram(self, query: Query, start: int, end: int, *, buckets: int = 60,
                  cap: int = OVERVIEW_CAP) -> "Histogram":
        """Matches per time bucket in [start, end) over the newest ``cap`` matches (resolve first)."""
        from app.store.search import histogram

        if self._store.kind == "postgresql":  # its own reader (app/store/pg/search.py)
            return self._search.histogram(query, start, end, buckets, cap)  # type: ignore[attr-defined]
        return histogram(self._search, self.routed(query), start, end, buckets, cap)

    def span(self, query: Query) -> "Span | None":
        """Where the matches lie in time (zone map hours, narrowed to the newest and oldest match when that
        reads within the overview's budget); None when nothing matches (resolve first)."""
        if self._store.kind == "postgresql":
            return self._search.span(query)  # type: ignore[attr-defined]
        from app.store.search import match_span

        return match_span(self._search, self.routed(query))

    def facets(self, query: Query, fields: list[str], *, top: int = 5, cap: int = OVERVIEW_CAP) -> list["Facet"]:
        """The top values of each field (status, version, error, features.NAME ...) over the newest
        ``cap`` matches (resolve first)."""
        from app.store.search import facets

        if self._store.kind == "postgresql":
            return self._search.facets(query, fields, top, cap)  # type: ignore[attr-defined]
        return facets(self._search, self.routed(query), fields, top, cap)

    def why_empty(self, query: Query) -> str:
        """Why a valid query found nothing, in one line: the first term that matches no row on its own
        (``no rows with entity 'x'``), else that the terms match rows but never together."""
        for term in query.terms:
            if isinstance(term, (FieldTerm, TextTerm, TimeTerm)) and not term.negated:
                alone = Query(query.text, (term,), query.now)
                if not self._search.page(self.routed(alone), None, None, 1).rows:
                    return f"no results: {_describe(term)}"
            if isinstance(term, AnyOf) and not term.negated and not term.alternatives:
                return f"no results: {term.names_nothing or 'the OR matches nothing in this store'}"
        return "no results: each term matches some rows, but no row matches them all"

    # The module function itself (no wrapper frame): parse(text, *, now=None) -> Query.
    parse = staticmethod(parse)

    def compile(self, query: Query, *, counting: bool = False) -> Compiled:
        """The WHERE clause the store runs for ``query`` (for tests and benchmarks)."""
        return self._search.compile(self.routed(query), counting=counting)

    def page_sql(self, query: Query) -> tuple[str, tuple[object, ...]]:
        """The first page's SQL and its parameters, without the LIMIT's (benchmarks run it by hand)."""
        return self._search.page_sql(self.routed(query))

    def page(self, query: Query, *, after: Cursor | None = None, before: Cursor | None = None,
             limit: int = PAGE_SIZE) -> Page:
        """``limit`` rows newest first: the first page, those older than ``after``, or those newer than ``before``."""
        if after is not None and before is not None:
            raise ValueError("page after or before a cursor, not both")
        # ``routed``'s memo read here: a query seen before that routes nowhere (most) skips its frame.
        known = self._routed.get(id(query.terms))
        if known is None or known[0] is not query.terms or known[1] is not query.terms:
            query = self.routed(query)
        return self._search.page(query, after, before, limit)

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

    def count(self, query: Query, *, cap: int = COUNT_CAP, budget_s: float | None = COUNT_BUDGET_S) -> Count:
        """How many rows match, counting no further than ``cap`` matches (never a whole-table count) nor
        for much longer than ``budget_s`` (then ``scanned_ms`` says how much of the log was counted)."""
        return self._search.count(self.routed(query), cap, budget_s)


def _routed(term: Term, id_columns: "Callable[[str], tuple[str, ...]]") -> Term:
    """``term`` or, for a bare word that a stored id equals, the word OR the ids it names (``-word``: none
    of them); inside an OR group too."""
    if isinstance(term, AnyOf):
        alternatives = tuple(tuple(_routed(t, id_columns) for t in alternative) for alternative in term.alternatives)
        if all(a is b for new, old in zip(alternatives, term.alternatives) for a, b in zip(new, old)):
            return term
        return AnyOf(alternatives, term.negated)
    if (not isinstance(term, TextTerm) or term.prefix or not term.phrase
            or any(ch.isspace() for ch in term.phrase)):
        return term
    columns = id_columns(term.phrase)
    if not columns:
        return term
    word = TextTerm(term.phrase) if term.negated else term
    return AnyOf(((word,), *((FieldTerm(column, "=", term.phrase),) for column in columns)), term.negated)


def _only_known_names(terms: tuple[Term, ...], models: list[str], versions: dict[str, list[str]]) -> bool:
    """Every ``model:``/``version:`` value in ``terms`` is exactly one of these names."""
    known_versions = {v for names in versions.values() for v in names}
    known_models = set(models)

    def known(term: Term) -> bool:
        if isinstance(term, AnyOf):
            return all(known(t) for alternative in term.alternatives for t in alternative)
        if isinstance(term, FieldTerm) and term.column in ("model", "version"):
            return str(term.value).strip() in (known_models if term.column == "model" else known_versions)
        return True

    return all(known(t) for t in terms)


def _names_field(term: Term) -> bool:
    if isinstance(term, AnyOf):
        return any(_names_field(t) for alternative in term.alternatives for t in alternative)
    return isinstance(term, FieldTerm) and term.column in ("model", "version")


_FIELD_WORDS = {"request_id": "request", "entity_id": "entity"}


def _describe(term: FieldTerm | TextTerm | TimeTerm) -> str:
    """``no model named 'x'``-style: what in the store the term found nothing of."""
    if isinstance(term, TextTerm):
        return f"no record holds the words {term.phrase!r}" + (" (as a prefix)" if term.prefix else "")
    if isinstance(term, TimeTerm):
        from app.timeutil import ms_to_iso

        return f"no records {'since' if term.bound == 'since' else 'before'} {ms_to_iso(term.at)}"
    field = _FIELD_WORDS.get(term.column, term.column)
    if term.op == "=":
        if term.column in ("model", "version", "request_id", "entity_id"):
            return f"no {field} named {str(term.value)!r}" if term.column in ("model", "version") \
                else f"no record with {field} {str(term.value)!r}"
        return f"no record with {field} {term.value!r}"
    return f"no record with {field} {term.op} {term.value!r}"
