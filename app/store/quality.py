"""Reads for model quality in production (issue 17 item 2, app/quality/): the labelled answers of a model
over a time range, and (when ingested) the business outcomes keyed by request or entity id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store import Store


def labelled(store: "Store", model: str, since: int, until: int, version: str | None = None
             ) -> list[tuple[int, str, float | None, Any, Any]]:
    """(ts, version, score, prediction, label) of every answered (status ok) prediction of ``model`` in
    [since, until) whose label has arrived, oldest first."""
    sql = ("SELECT ts, version, score, prediction, label FROM predictions "
           "WHERE model = ? AND ts >= ? AND ts < ? AND label IS NOT NULL AND status = 'ok'")
    params: list[Any] = [model, since, until]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    return store.conn.execute(sql + " ORDER BY ts", params).fetchall()


def task(store: "Store", model: str) -> str | None:
    """The model's task in the catalogue ('classification' or 'regression'), None when unknown."""
    row = store.conn.execute("SELECT task FROM models WHERE name = ?", (model,)).fetchone()
    return row[0] if row else None


# An outcome pairs with the answer to its request; one keyed by entity only, with that entity's latest
# answer at or before the outcome (the answer the business then acted on).
_PAIRS = """
SELECT p.ts, o.name, coalesce(p.score, CASE WHEN typeof(p.prediction) IN ('integer', 'real') THEN p.prediction END),
       o.value, p.version
FROM outcomes o JOIN predictions p ON p.request_id = o.request_id AND p.model = o.model
WHERE o.model = ? AND o.request_id != '' AND p.ts >= ? AND p.ts < ? AND p.status = 'ok'
UNION ALL
SELECT p.ts, o.name, coalesce(p.score, CASE WHEN typeof(p.prediction) IN ('integer', 'real') THEN p.prediction END),
       o.value, p.version
FROM outcomes o JOIN predictions p ON p.id = (
    SELECT q.id FROM predictions q WHERE q.entity_id = o.entity_id AND q.model = o.model AND q.ts <= o.ts
    ORDER BY q.ts DESC LIMIT 1)
WHERE o.model = ? AND o.request_id = '' AND o.entity_id != '' AND p.ts >= ? AND p.ts < ? AND p.status = 'ok'
ORDER BY 1
"""


def outcome_pairs(store: "Store", model: str, since: int, until: int, version: str | None = None
                  ) -> list[tuple[int, str, float | None, float]]:
    """(answer ts, outcome name, the answer's score (or numeric prediction), outcome value) for the outcomes
    of ``model`` whose answer falls in [since, until), by answer time."""
    rows = store.conn.execute(_PAIRS, (model, since, until, model, since, until)).fetchall()
    return [(ts, name, score, value) for ts, name, score, value, answered_by in rows
            if version is None or answered_by == version]


_ADD_OUTCOME = ("INSERT OR IGNORE INTO outcomes (ts, model, request_id, entity_id, name, value) "
                "VALUES (?, ?, ?, ?, ?, ?)")


def add_outcomes(store: "Store", rows: list[tuple[int, str, str, str, str, float]]) -> int:
    """Store outcome records (ts, model, request_id or '', entity_id or '', name, value); call inside
    ``store.write()``. Returns how many were new (a re-ingested line adds nothing)."""
    before = store.conn.total_changes
    store.conn.executemany(_ADD_OUTCOME, rows)
    return store.conn.total_changes - before


def feature_timing(store: "Store", model: str, version: str, *, scan: int, sample: int
                   ) -> list[tuple[int, Any, Any]]:
    """(ts, context.feature_ts, context.feature_latency_ms) of up to ``sample`` rows of ``version`` among the
    model's ``scan`` newest that carry either (the Feature pipeline area's freshness and fetch latency)."""
    return store.conn.execute(
        "SELECT ts, json_extract(context, '$.feature_ts'), json_extract(context, '$.feature_latency_ms') FROM "
        "(SELECT ts, version, context FROM predictions WHERE model = ? ORDER BY ts DESC LIMIT ?) "
        "WHERE version = ? AND context IS NOT NULL AND (json_type(context, '$.feature_ts') IS NOT NULL "
        "OR json_type(context, '$.feature_latency_ms') IS NOT NULL) LIMIT ?",
        (model, scan, version, sample)).fetchall()
