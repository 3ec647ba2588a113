"""The query AST (app.search.language) -> PostgreSQL SQL, and the keyset pages and bounded counts.

The twin of app/store/search_sql.py + search.py, with the same results (the contract tests run the
same queries on both backends). Values only travel as parameters; SQL text is built from a fixed
vocabulary of column names. Differences of dialect, and how they are kept equal:
- prediction, label, features and context are JSONB, so a number stays a number and text stays text:
  ``=`` matches the typed value or the same text as typed (``features.zip=01234`` finds 1234 and
  "01234"); ``>``/``<`` compare numbers with numbers and text with text, never across (jsonb_typeof).
- Free text is the ``tsv`` column (GIN; built by ingest over the features/context text and the error, as
  SQLite's FTS index), queried with ``to_tsquery('simple', ...)`` over the phrase split the way the column
  splits text (runs of letters and digits, as SQLite's unicode61), within one column (weights); ``word*``
  makes the last word a prefix (``:*``). Ids are not words: a whole id typed alone is routed by the
  searcher (``id_columns``).
- A JSON true/false compares as 1/0, as SQLite's json_extract reads it.
- Negation keeps rows without the field (``NOT coalesce(..., false)``), as on SQLite.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from app.search.language import AnyOf, FieldTerm, JsonTerm, PairTerm, Query, Term, TextTerm, TimeTerm, Value
from app.store.pg.predictions import SELECT_COLUMNS, TEXT_WEIGHTS
from app.store.search import (Count, Cursor, Facet, Histogram, Page, Span, histogram_of, page_keyset, page_of,
                              zone_histogram)
from app.store.search_sql import Compiled
from app.store.dialect import pg_sql
from app.store.zonemap import SELECTIVE_SHARE, ZonePlan, block_conditions, candidate_slices, declines_sql

if TYPE_CHECKING:
    from app.store.pg.store import PgStore

_PLAIN = {name: name for name in ("request_id", "entity_id", "model", "version", "status", "score", "latency_ms")}
_DYNAMIC = ("prediction", "label")

_SEPARATORS = re.compile(r"[\W_]+")
_OLDER = "ts <= %s AND (ts < %s OR id < %s)"
_NEWER = "ts >= %s AND (ts > %s OR id > %s)"


# See ``zones_cover_every_row``; asked inside the zone plan's first statement.
_ZONES_COVER_EVERY_ROW = ("((SELECT coalesce(sum(summarised), 0) FROM zone_state) >= "
                          "(SELECT coalesce(sum(logged_rows), 0) FROM versions))")
# The catalogue's tally of logged rows: every write that can change the zone plan's refusal to prune moves it
# (ingest and its zone upkeep in one transaction, retention, a copy that skips the upkeep). A refusal is
# remembered under it (``PgPredictionSearch._declined``).
_CATALOGUE_MARK = "(SELECT coalesce(sum(logged_rows), 0)::bigint FROM versions)"
_NO_MARK = -1  # a tally is never negative
_MAX_DECLINED = 256  # refusals remembered per search, by scope and prunable terms (a few per model)


_ID_COLUMNS = ("SELECT EXISTS (SELECT 1 FROM predictions WHERE request_id = %s), "
               "EXISTS (SELECT 1 FROM predictions WHERE entity_id = %s)")


def words(phrase: str) -> list[str]:
    """A phrase's words as the tsv column splits text: runs of letters and digits."""
    return _SEPARATORS.sub(" ", phrase).split()


def tsquery_text(term: TextTerm) -> str:
    """A phrase as to_tsquery text: its words in sequence (``<->``) within one column (one weight: C is the
    features/context text, D the error; A and B, ids in rows an earlier modeldeck wrote, are never asked for),
    the last a prefix for ``word*``. The words are runs
    of letters and digits, so quoting them needs no escapes. Case is left to ``to_tsquery('simple', ...)``,
    which folds with the server's lower(), as the vector was folded: Python's str.lower() differs beyond ASCII
    (a final capital sigma, a dotted capital I), and such a word would never match."""
    split = words(term.phrase)
    if not split:
        return ""
    star = ":*" if term.prefix else ""
    if len(split) == 1:
        return f"'{split[0]}':{star[1:]}{TEXT_WEIGHTS}"
    return " | ".join("(" + " <-> ".join(f"'{w}':{'*' if term.prefix and i == len(split) - 1 else ''}{weight}"
                                          for i, w in enumerate(split)) + ")" for weight in TEXT_WEIGHTS)


def _text(term: TextTerm) -> tuple[str, list[object]]:
    text = tsquery_text(term)
    if not text:
        return "false", []  # no word to look for (punctuation only): nothing matches, as on SQLite
    return "predictions.tsv @@ to_tsquery('simple', %s)", [text]


def compile_query(query: Query) -> Compiled:
    parts: list[str] = []
    params: list[object] = []
    for term in query.terms:
        sql, values = _negatable(term)
        parts.append(sql)
        params.extend(values)
    return Compiled(" AND ".join(parts) if parts else "true", tuple(params))


def _negatable(term: Term) -> tuple[str, list[object]]:
    sql, values = _term(term)
    if term.negated:
        sql = f"NOT coalesce(({sql}), false)"
    return sql, values


def _term(term: Term) -> tuple[str, list[object]]:
    if isinstance(term, AnyOf):
        if not term.alternatives:
            return "false", []
        ors, params = [], []
        for alternative in term.alternatives:
            ands = []
            for inner in alternative:
                sql, values = _negatable(inner)
                ands.append(sql)
                params.extend(values)
            ors.append("(" + " AND ".join(ands) + ")" if ands else "true")
        return "(" + " OR ".join(ors) + ")", params
    if isinstance(term, TextTerm):
        return _text(term)
    if isinstance(term, PairTerm):
        key, params = "predictions.request_id", []
        if term.key is not None:
            key, params = "coalesce(predictions.context ->> %s, predictions.request_id)", [term.key]
        return ("predictions.status = 'ok' AND EXISTS (SELECT 1 FROM prediction_keys k JOIN predictions twin "
                "ON twin.id = k.id AND twin.ts = k.ts WHERE k.model = predictions.model AND k.version = %s "
                f"AND k.request_id = {key} AND twin.status = 'ok' "
                "AND twin.prediction IS DISTINCT FROM predictions.prediction)", [term.version, *params])
    if isinstance(term, TimeTerm):
        return ("ts >= %s" if term.bound == "since" else "ts < %s"), [term.at]
    if isinstance(term, JsonTerm):
        column = "features" if term.column == "features" else "context"
        return _dynamic(json_value_sql(column, "%s"), [term.key] * 2, term.op, term.value, term.text)
    if term.column in _DYNAMIC:
        return _dynamic(term.column, [], term.op, term.value, term.text)
    return f"{_PLAIN[term.column]} {term.op} %s", [term.value]


def _dynamic(expr: str, expr_params: list[object], op: str, value: Value,
             text: str | None) -> tuple[str, list[object]]:
    """A comparison on a JSONB value holding a number or text (see the module docstring)."""
    if op in ("=", "!="):
        candidates: list[object] = [Jsonb(value)]
        if text is not None and text != value:
            candidates.append(Jsonb(text))
        marks = ", ".join(["%s"] * len(candidates))
        keyword = "IN" if op == "=" else "NOT IN"
        return f"{expr} {keyword} ({marks})", [*expr_params, *candidates]
    kind = "string" if isinstance(value, str) else "number"
    return (f"(jsonb_typeof({expr}) = '{kind}' AND {expr} {op} %s)", [*expr_params, *expr_params, Jsonb(value)])


def json_value_sql(column: str, key: str) -> str:
    """One JSON field's value, true/false read as 1/0 (as SQLite's json_extract reads them). ``key`` is a
    placeholder for a query, or a quoted literal for an index: the same text, so the planner matches them."""
    return (f"(CASE {column} -> {key} WHEN 'true'::jsonb THEN '1'::jsonb WHEN 'false'::jsonb THEN '0'::jsonb "
            f"ELSE {column} -> {key} END)")  # immutable, so it can be indexed


def ensure_feature_indexes(store: "PgStore", names: list[str]) -> list[str]:
    """An expression index (with ts, for newest-first pages) for each ``[search] indexed_features`` name
    that has none; returns the names indexed now. The index's expression is the one the compiler writes."""
    from psycopg import sql

    from app.store.search_sql import feature_column

    added = []
    for name in names:
        index = "predictions_" + feature_column(name)
        if store.one("SELECT to_regclass(%s) IS NOT NULL", (index,))[0]:  # type: ignore[index]
            continue
        literal = sql.Literal(name).as_string(store.pg)
        store.run(f'CREATE INDEX IF NOT EXISTS "{index}" ON predictions ({json_value_sql("features", literal)}, ts)')
        added.append(name)
    for name in names:
        summarise_feature(store, name)
    return added


def summarise_feature(store: "PgStore", name: str) -> bool:
    """Start keeping the zone map of feature ``name`` (its min/max per block): backfill every stored row,
    then ingest keeps it. Idempotent; True when it was new. Each ingest batch reads ``zone_summarised`` before its insert (a
    lock held to its commit), so locking that table waits for every ingest in flight and holds new ones until the
    backfill commits: the backfill sees every row an ingest wrote without the feature."""
    with store.write():
        if store.one("SELECT 1 FROM zone_summarised WHERE feature = %s", (name,)):
            return False
        store.run("LOCK TABLE zone_summarised IN ACCESS EXCLUSIVE MODE")
        store.run("DELETE FROM zone_features WHERE feature = %s", (name,))
        store.run(
            "INSERT INTO zone_features (model, hour, feature, n, lo, hi) "
            "SELECT model, ts / 3600000, %s, count(*), min(v.value), max(v.value) FROM predictions "
            "CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(features -> %s) "
            "WHEN 'number' THEN (features -> %s)::double precision "
            "WHEN 'boolean' THEN ((features -> %s)::boolean)::int END AS value) AS v "
            "WHERE v.value IS NOT NULL GROUP BY model, ts / 3600000", (name, name, name, name))
        store.run("INSERT INTO zone_summarised (feature) VALUES (%s)", (name,))
    return True


def select_sql(compiled: Compiled, *, keyset: str | None, newest_first: bool, limit: int | None = None,
               extra: str = "") -> str:
    """A page's statement; ``limit`` written in (an int, never text from a query) so a generic plan knows a
    page is a few rows (a LIMIT parameter is planned as a tenth of the table), else the LIMIT is a parameter.
    ``extra``: one more column after the page's (SQL of this module's, never text from a query)."""
    order = "DESC" if newest_first else "ASC"
    where = compiled.where if not keyset else f"({compiled.where}) AND {keyset}"
    bound = "%s" if limit is None else str(int(limit))
    columns = f"{SELECT_COLUMNS}, {extra}" if extra else SELECT_COLUMNS
    return f"SELECT {columns} FROM predictions WHERE {where} ORDER BY ts {order}, id {order} LIMIT {bound}"


# Columns whose equality an index seeks whatever the value (request, entity, model+version+time), or that
# are walked in time order: a plan made without the values is the plan made with them.
_PLAN_FREE_COLUMNS = frozenset(("request_id", "entity_id", "model", "version", "status"))


def plans_once(query: Query) -> bool:
    """Whether ``query``'s page can run with one generic plan per connection (``PgStore.rows_planned_once``):
    only equality on the columns above and time bounds. Free text, ranges on numbers and JSON fields are
    planned per value: how many rows match decides between an index and a scan."""
    return all(isinstance(t, TimeTerm) or (isinstance(t, FieldTerm) and t.op == "=" and not t.negated
                                           and t.column in _PLAN_FREE_COLUMNS) for t in query.terms)


class PgPredictionSearch:
    """What ``app.search.searcher.Searcher`` runs on a PostgreSQL store (the SQLite PredictionSearch's twin)."""

    def __init__(self, store: "PgStore", **_tuning: Any) -> None:
        self._s = store
        self.use_zones = True  # tests compare answers with and without pruning
        self.zone_share = SELECTIVE_SHARE  # prune when the blocks kept hold at most this share (tests: 1.0)
        self.count_from_zones = True  # a model/status/time histogram counted from the zone map
        self._zone_features: frozenset[str] | None = None  # read once, as on SQLite
        # The catalogue's mark at which the zone plan last refused to prune, by that refusal's SQL and params
        # (the query's scope and prunable terms): see ``page``.
        self._declined: dict[tuple[str, tuple[object, ...]], int] = {}

    def zone_plan(self, query: Query) -> ZonePlan | None:
        """The (model, hour) blocks that may hold a match, when pruning pays (app/store/zonemap.py, the same
        statements over this store's zone tables), else None. Queries that seek rows by id never pay for it."""
        from app.store.dialect import PgDb

        if not self.use_zones or any(isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id")
                                     and t.op == "=" and not t.negated for t in query.terms):
            return None
        if not block_conditions(query, self._features())[4]:
            return None
        return candidate_slices(PgDb(self._s), query, share=self.zone_share, features=self._features(),
                                covered_sql=_ZONES_COVER_EVERY_ROW)

    def id_columns(self, word: str) -> tuple[str, ...]:
        """Which id columns (``request_id``, ``entity_id``) hold ``word`` exactly, as on SQLite: free text does
        not index ids, and the searcher routes a bare word that names one to it. One statement, planned once
        per connection (an index probe per day partition until one holds it)."""
        request, entity = self._s.rows_planned_once(_ID_COLUMNS, (word, word))[0]
        return (("request_id",) if request else ()) + (("entity_id",) if entity else ())

    def _features(self) -> frozenset[str]:
        if self._zone_features is None:
            self._zone_features = frozenset(r[0] for r in self._s.rows("SELECT feature FROM zone_summarised"))
        return self._zone_features

    def _declines(self, query: Query) -> tuple[str, list[object]] | None:
        """The zone plan's refusal to prune ``query`` as SQL (``declines_sql``), None when it could prune."""
        if not self.use_zones or any(isinstance(t, FieldTerm) and t.column in ("request_id", "entity_id")
                                     and t.op == "=" and not t.negated for t in query.terms):
            return None
        found = declines_sql(query, self._features(), _ZONES_COVER_EVERY_ROW, self.zone_share)
        return None if found is None else (pg_sql(found[0]), found[1])

    def zone_db(self) -> Any:
        from app.store.dialect import PgDb

        return PgDb(self._s)

    def bucket_counts(self, query: Query, origin: int, width: int, lo: int, hi: int) -> list[tuple]:
        compiled = compile_query(query)
        return self._s.rows(f"SELECT (ts - %s) / %s, count(*) FROM predictions WHERE ({compiled.where}) "
                            "AND ts >= %s AND ts < %s GROUP BY 1", (origin, width, *compiled.params, lo, hi))

    def zones_cover_every_row(self) -> bool:
        """Every logged row is summarised: the zone map's count per model has kept up with the catalogue's
        (both written in ingest's transaction; rows that came any other way leave it behind)."""
        row = self._s.one(f"SELECT {_ZONES_COVER_EVERY_ROW}")
        return bool(row and row[0])

    def _zone_page(self, query: Query, zones: ZonePlan, after: Cursor | None, before: Cursor | None,
                   limit: int) -> Page:
        """A page read only from the blocks that may match, one statement per slice (SQLite's twin): slices
        are disjoint time ranges in order, so their rows concatenate in (ts, id) order."""
        compiled = compile_query(query)
        newest_first, keyset, bound = page_keyset(after, before, _OLDER, _NEWER)
        raw: list[tuple] = []
        for slice_ in (zones.slices if newest_first else reversed(zones.slices)):
            if (after is not None and slice_.start > after.ts) or (before is not None and slice_.end <= before.ts):
                continue  # wholly on the other side of the cursor
            marks = ", ".join(["%s"] * len(slice_.models))
            where = f"({compiled.where}) AND model IN ({marks}) AND ts >= %s AND ts < %s"
            raw.extend(self._s.rows(select_sql(Compiled(where, ()), keyset=keyset, newest_first=newest_first),
                                    (*compiled.params, *slice_.models, slice_.start, slice_.end, *bound,
                                     limit + 1 - len(raw))))
            if len(raw) > limit:
                break
        return page_of(raw, limit, newest_first, after)

    def compile(self, query: Query, *, counting: bool = False) -> Compiled:
        return compile_query(query)

    def page_sql(self, query: Query) -> tuple[str, tuple[object, ...]]:
        compiled = compile_query(query)
        return select_sql(compiled, keyset=None, newest_first=True), compiled.params

    def page(self, query: Query, after: Cursor | None, before: Cursor | None, limit: int) -> Page:
        declines = self._declines(query) if plans_once(query) else None
        if declines is not None:
            # Most queries with a prunable term (``status:error`` of a busy model) keep too many blocks to
            # prune: their unpruned page runs at once, gated on the zone plan's own refusal in the same
            # statement (evaluated once, before any row is read), one round trip instead of two. No row back
            # means pruning pays or nothing matches: then the zone plan decides, as it always did. Only for
            # pages planned once (index walks): a number range's plan may be a parallel scan, whose workers
            # start (15 ms) even when the gate is shut.
            # The refusal is remembered between pages under the catalogue's mark it was read with: then the
            # page runs without the gate (whose sum over the model's blocks, 720 a month, and its node over each
            # day partition cost a third of the page) and reads the mark in the same round trip. An unpruned page
            # reads every row, so even a stale refusal hides none: a moved mark only costs the refusal, and
            # the next page asks again.
            key = (declines[0], tuple(declines[1]))
            remembered = self._declined.get(key)
            if remembered is not None:
                page, mark = self._plain_page(query, after, before, limit, None, mark=True)
                if mark != remembered:
                    self._declined.pop(key, None)
                return page
            page, mark = self._plain_page(query, after, before, limit, declines, mark=True)
            if page.rows:
                if len(self._declined) >= _MAX_DECLINED:
                    self._declined.clear()
                self._declined[key] = mark  # the mark and the refusal read in one statement, one snapshot
                return page
        zones = self.zone_plan(query)
        if zones is not None:
            return self._zone_page(query, zones, after, before, limit)
        return self._plain_page(query, after, before, limit, None)[0]

    def _plain_page(self, query: Query, after: Cursor | None, before: Cursor | None, limit: int,
                    gate: tuple[str, list[object]] | None, *, mark: bool = False) -> tuple[Page, int]:
        """One statement over the whole log (``gate``: an SQL condition on no row, and its params, ANDed in)
        and, with ``mark`` (pages planned once), the catalogue's mark: read by the statement itself when it
        is gated (a last column, after those page_of reads; ``_NO_MARK`` when no row came back), else by a
        statement after it in the same round trip."""
        newest_first, keyset, bound = page_keyset(after, before, _OLDER, _NEWER)
        compiled = compile_query(query)
        if gate is not None:
            compiled = Compiled(f"({compiled.where}) AND {gate[0]}", (*compiled.params, *gate[1]))
        if not plans_once(query):
            raw = self._s.rows(select_sql(compiled, keyset=keyset, newest_first=newest_first),
                               (*compiled.params, *bound, limit + 1))
            return page_of(raw, limit, newest_first, after), _NO_MARK
        sql = select_sql(compiled, keyset=keyset, newest_first=newest_first, limit=limit + 1,
                         extra=_CATALOGUE_MARK if mark and gate is not None else "")
        if mark and gate is None:
            raw, row = self._s.rows_planned_once_and(sql, (*compiled.params, *bound), f"SELECT {_CATALOGUE_MARK}")
            seen = int(row[0]) if row else _NO_MARK
        else:
            raw = self._s.rows_planned_once(sql, (*compiled.params, *bound))
            seen = int(raw[0][-1]) if mark and raw else _NO_MARK
        return page_of(raw, limit, newest_first, after), seen

    def watch(self, on_progress: Any) -> None:
        """Progress of long reads is not reported on PostgreSQL yet (ctrl-c still cancels the statement:
        libpq sends the server a cancel when the client is interrupted)."""
        self.on_progress = on_progress

    def count(self, query: Query, cap: int, budget_s: float | None = None) -> Count:
        """Bounded by ``cap`` matches; ``budget_s`` is not applied here yet (the count is exact or capped)."""
        compiled = compile_query(query)
        if plans_once(query):  # as the page: one generic plan per connection (the cap written in, an int)
            row = self._s.rows_planned_once(
                f"SELECT count(*) FROM (SELECT 1 FROM predictions WHERE {compiled.where} LIMIT {int(cap) + 1}) AS m",
                compiled.params)[0]
        else:
            row = self._s.one(f"SELECT count(*) FROM (SELECT 1 FROM predictions WHERE {compiled.where} LIMIT %s) AS m",
                              (*compiled.params, cap + 1))
        n = int(row[0]) if row else 0
        return Count(min(n, cap), n > cap)

    def histogram(self, query: Query, start: int, end: int, buckets: int, cap: int) -> Histogram:
        """Matches per bucket between ``start`` and ``end`` (epoch ms): a query of only models, status and time
        counted exactly from the zone map in whole-hour bars (``zone_histogram``, SQLite's own code); else over
        the newest ``cap`` matches (the BRIN and (ts, id) indexes read the newest rows of the range)."""
        zoned = zone_histogram(self, query, start, end, buckets, cap)  # exact hour bars, as on SQLite
        if zoned is not None:
            return zoned
        width = max(1, -(-(end - start) // max(1, buckets)))
        compiled = compile_query(query)
        rows = self._s.rows(
            f"SELECT (ts - %s) / %s AS b, count(*), min(ts) FROM (SELECT ts FROM predictions WHERE "
            f"({compiled.where}) AND ts >= %s AND ts < %s ORDER BY ts DESC LIMIT %s) AS m GROUP BY b",
            (start, width, *compiled.params, start, end, cap + 1))
        return histogram_of(rows, start, end, width, buckets, cap)

    def span(self, query: Query) -> Span | None:
        """The oldest and newest match's ts (the (ts, id) order read from each end), None when nothing matches."""
        compiled = compile_query(query)
        row = self._s.one(
            f"SELECT (SELECT ts FROM predictions WHERE {compiled.where} ORDER BY ts ASC, id ASC LIMIT 1), "
            f"(SELECT ts FROM predictions WHERE {compiled.where} ORDER BY ts DESC, id DESC LIMIT 1)",
            (*compiled.params, *compiled.params))
        if row is None or row[1] is None:
            return None
        return Span(int(row[0]), int(row[1]))

    def facets(self, query: Query, fields: list[str], top: int, cap: int) -> list[Facet]:
        """The ``top`` values of each field over the newest ``cap`` matches: one statement (a read-only
        console may not create the temp table SQLite samples into), the sample read once."""
        compiled = compile_query(query)
        expressions: list[str] = []
        extra: list[object] = []
        for field in fields:
            head, _, key = field.partition(".")
            if field in ("status", "version", "model", "error"):
                expressions.append(f"to_jsonb({field})")
            elif field in _DYNAMIC:
                expressions.append(field)
            elif head in ("features", "context") and key:
                expressions.append(json_value_sql(head, "%s"))
                extra.extend([key, key])
            else:
                raise ValueError(f"no facet for {field!r}")
        columns = ", ".join(f"{e} AS f{i}" for i, e in enumerate(expressions))
        # JSON null is no value, as SQLite's json_extract reads it; ties go by value.
        branches = [f"(SELECT {i} AS i, f{i} AS v, count(*) AS n FROM sample WHERE f{i} IS NOT NULL "
                    f"AND f{i} <> 'null'::jsonb GROUP BY f{i} ORDER BY n DESC, f{i} LIMIT %s)"
                    for i in range(len(fields))]
        rows = self._s.rows(
            f"WITH sample AS MATERIALIZED (SELECT {columns} FROM predictions WHERE {compiled.where} "
            "ORDER BY ts DESC, id DESC LIMIT %s) "
            f"SELECT -1, NULL::jsonb, count(*) FROM sample UNION ALL {' UNION ALL '.join(branches)}",
            (*extra, *compiled.params, cap, *([top] * len(fields))))
        sampled = next(int(n) for i, _, n in rows if i == -1)
        return [Facet(field, [(v, int(n)) for i, v, n in rows if i == index], sampled, sampled >= cap)
                for index, field in enumerate(fields)]
