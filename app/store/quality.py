"""Reads for model quality in production (issue 17 item 2, app/quality/): the labelled answers of a model
over a time range, and (when ingested) the business outcomes keyed by request or entity id.

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL, through ``store.portable``."""

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
    return store.portable.execute(sql + " ORDER BY ts", params).fetchall()


def task(store: "Store", model: str) -> str | None:
    """The model's task in the catalogue ('classification' or 'regression'), None when unknown."""
    row = store.portable.execute("SELECT task FROM models WHERE name = ?", (model,)).fetchone()
    return row[0] if row else None


# An outcome pairs with the answer to its request; one keyed by entity only, with that entity's latest
# answer at or before the outcome (the answer the business then acted on).
_PAIRS = """
SELECT p.ts, o.name, coalesce(p.score, {number}), o.value, p.version
FROM outcomes o JOIN predictions p ON p.request_id = o.request_id AND p.model = o.model
WHERE o.model = ? AND o.request_id != '' AND p.ts >= ? AND p.ts < ? AND p.status = 'ok'
UNION ALL
SELECT p.ts, o.name, coalesce(p.score, {number}), o.value, p.version
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
    db = store.portable
    rows = db.execute(_PAIRS.format(number=db.dialect.json_scalar_number("p.prediction")),
                      (model, since, until, model, since, until)).fetchall()
    return [(ts, name, score, value) for ts, name, score, value, answered_by in rows
            if version is None or answered_by == version]


_ADD_OUTCOME = ("INSERT INTO outcomes (ts, model, request_id, entity_id, name, value) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")


def add_outcomes(store: "Store", rows: list[tuple[int, str, str, str, str, float]]) -> int:
    """Store outcome records (ts, model, request_id or '', entity_id or '', name, value); call inside
    ``store.write()``. Returns how many were new (a re-ingested line adds nothing)."""
    db = store.portable
    return sum(db.execute(_ADD_OUTCOME, row).rowcount for row in rows)  # outcomes are few: one statement each


def feature_timing(store: "Store", model: str, version: str, *, scan: int, sample: int
                   ) -> list[tuple[int, Any, Any]]:
    """(ts, context.feature_ts, context.feature_latency_ms) of up to ``sample`` rows of ``version`` among the
    model's ``scan`` newest that carry either (the Feature pipeline area's freshness and fetch latency)."""
    db = store.portable
    at, at_key = db.dialect.json_number("c.context", "feature_ts")
    took, took_key = db.dialect.json_number("c.context", "feature_latency_ms")
    def read() -> list[tuple[int, Any, Any]]:
        return db.execute(
            f"SELECT c.ts, {at}, {took} FROM (SELECT ts, version, context FROM predictions WHERE model = ? "
            "ORDER BY ts DESC LIMIT ?) AS c "
            f"WHERE c.version = ? AND c.context IS NOT NULL AND ({at} IS NOT NULL OR {took} IS NOT NULL) LIMIT ?",
            (at_key, took_key, model, scan, version, at_key, took_key, sample)).fetchall()

    # The newest rows change only with the log's mark: remembered with the other serving reads.
    return list(store.serving.memo.read(("feature_timing", model, version, scan, sample), read))
