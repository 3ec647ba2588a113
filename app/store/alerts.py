"""Alert state: which rules fire for which model, since when, and who acknowledged them.

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from app.models import Alert
from app.store.dialect import Db

_FIELDS = ("id", "rule", "model", "severity", "owner", "state", "value", "threshold", "fired_at", "resolved_at",
           "acked_by", "acked_at", "runbook")


class AlertsTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, alert: Alert) -> int:
        data = alert.model_dump(exclude={"id"})
        row = self._db.execute(
            f"INSERT INTO alerts ({', '.join(data)}) VALUES ({', '.join('?' * len(data))}) RETURNING id",
            tuple(data.values())).fetchone()
        return int(row[0])

    def firing(self, model: str | None = None) -> list[Alert]:
        sql = f"SELECT {', '.join(_FIELDS)} FROM alerts WHERE state = 'firing'"
        params: tuple = ()
        if model is not None:
            sql += " AND model = ?"
            params = (model,)
        rows = self._db.execute(sql + " ORDER BY fired_at DESC", params).fetchall()
        return [Alert(**dict(zip(_FIELDS, r))) for r in rows]

    def firing_at(self, at: int, model: str | None = None) -> list[Alert]:
        """The alerts that were firing at ``at`` (fired by then, not resolved by then), newest first; shown
        as they stood (``state`` firing, no acknowledgement made after ``at``)."""
        sql = (f"SELECT {', '.join(_FIELDS)} FROM alerts WHERE fired_at <= ? AND (resolved_at IS NULL OR "
               "resolved_at > ?)")
        params: tuple = (at, at)
        if model is not None:
            sql += " AND model = ?"
            params += (model,)
        rows = self._db.execute(sql + " ORDER BY fired_at DESC", params).fetchall()
        return [_as_of(Alert(**dict(zip(_FIELDS, r))), at) for r in rows]

    def by_ids(self, ids: list[int]) -> dict[int, Alert]:
        if not ids:
            return {}
        rows = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM alerts WHERE id IN ({', '.join('?' * len(ids))})",
                                tuple(ids)).fetchall()
        return {r[0]: Alert(**dict(zip(_FIELDS, r))) for r in rows}

    def resolved_since(self, since: int) -> list[Alert]:
        """Alerts resolved at or after ``since`` (what a notifier still owes a resolved notice for)."""
        rows = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM alerts WHERE state = 'resolved' AND "
                                "resolved_at >= ? ORDER BY id", (since,)).fetchall()
        return [Alert(**dict(zip(_FIELDS, r))) for r in rows]

    def pending_since(self, model: str, rule: str, now: int) -> int:
        """When ``rule``'s condition started holding (recorded now if it was not pending)."""
        self._db.execute("INSERT INTO alert_pending (model, rule, since) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         (model, rule, now))
        return int(self._db.execute("SELECT since FROM alert_pending WHERE model = ? AND rule = ?",
                                    (model, rule)).fetchone()[0])

    def clear_pending(self, model: str, rule: str) -> None:
        self._db.execute("DELETE FROM alert_pending WHERE model = ? AND rule = ?", (model, rule))

    def last_fired(self, model: str, rule: str) -> int | None:
        row = self._db.execute("SELECT max(fired_at) FROM alerts WHERE model = ? AND rule = ?", (model, rule)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def resolve(self, alert_id: int, at: int) -> None:
        self._db.execute("UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE id = ?", (at, alert_id))

    def acknowledge(self, alert_id: int, by: str, at: int) -> None:
        self._db.execute("UPDATE alerts SET acked_by = ?, acked_at = ? WHERE id = ?", (by, at, alert_id))

    def recent(self, model: str | None = None, *, resolved_limit: int = 5, at: int | None = None) -> list[Alert]:
        """Every firing alert (of ``model``, or all), then the ``resolved_limit`` most recently resolved;
        with ``at``, as they stood then."""
        where, params = ("AND model = ?", (model,)) if model is not None else ("", ())
        if at is not None:
            rows = self._db.execute(
                f"SELECT {', '.join(_FIELDS)} FROM alerts WHERE resolved_at <= ? {where} ORDER BY resolved_at DESC "
                "LIMIT ?", (at, *params, resolved_limit)).fetchall()
            return self.firing_at(at, model) + [_as_of(Alert(**dict(zip(_FIELDS, r))), at) for r in rows]
        columns = ", ".join(_FIELDS)
        rows = self._db.execute(
            f"SELECT {columns} FROM alerts WHERE state = 'firing' {where} ORDER BY fired_at DESC", params
        ).fetchall()
        rows += self._db.execute(
            f"SELECT {columns} FROM alerts WHERE state = 'resolved' {where} ORDER BY resolved_at DESC LIMIT ?",
            (*params, resolved_limit),
        ).fetchall()
        return [Alert(**dict(zip(_FIELDS, r))) for r in rows]


def _as_of(alert: Alert, at: int) -> Alert:
    """``alert`` as it stood at ``at``: firing unless resolved by then, acknowledged only if by then."""
    update: dict = {}
    if alert.resolved_at is not None and alert.resolved_at > at:
        update.update(state="firing", resolved_at=None)
    if alert.acked_at is not None and alert.acked_at > at:
        update.update(acked_by=None, acked_at=None)
    return alert.model_copy(update=update) if update else alert
