"""Alert deliveries: what `modeldeck watch` sent to which notify target, when, and how it went.

One row per (alert, target, event). The row is what makes a send happen once: the watcher only sends
for a row it holds, and a row exists at most once (UNIQUE). See app/alerts/notify.py for the flow.
Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.store.dialect import Db

_FIELDS = ("id", "alert_id", "model", "target", "event", "status", "attempts", "next_at", "last_error",
           "created_at", "sent_at", "refreshed_at")


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    model: str
    target: str
    event: str  # firing | resolved
    status: str  # pending | sending | delivered | failed | dropped
    attempts: int
    next_at: int
    last_error: str | None
    created_at: int
    sent_at: int | None
    refreshed_at: int | None


class DeliveriesTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def _select(self, where: str, params: tuple) -> list[Delivery]:
        rows = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM deliveries WHERE {where}", params).fetchall()
        return [Delivery(*r) for r in rows]

    def enqueue(self, alert_id: int, model: str, target: str, event: str, at: int) -> bool:
        """Add a pending delivery unless one exists for (alert, target, event); True when added."""
        cursor = self._db.execute(
            "INSERT INTO deliveries (alert_id, model, target, event, status, attempts, next_at, "
            "created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING", (alert_id, model, target, event, at, at))
        return cursor.rowcount > 0

    def known(self) -> set[tuple[int, str, str]]:
        """(alert_id, target, event) of every delivery ever queued."""
        return {(r[0], r[1], r[2]) for r in
                self._db.execute("SELECT alert_id, target, event FROM deliveries").fetchall()}

    def resolved_owed(self) -> list[tuple[int, str, str]]:
        """(alert_id, model, target) of resolved alerts whose firing notice reached that target and whose
        resolved notice is not queued yet."""
        rows = self._db.execute(
            "SELECT d.alert_id, d.model, d.target FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
            "WHERE d.event = 'firing' AND d.status = 'delivered' AND a.state = 'resolved' AND NOT EXISTS "
            "(SELECT 1 FROM deliveries r WHERE r.alert_id = d.alert_id AND r.target = d.target "
            "AND r.event = 'resolved')").fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def due(self, now: int, limit: int) -> list[Delivery]:
        """Deliveries to attempt now, oldest first: pending ones whose backoff has passed, and ones left
        'sending' by a process that died mid-request (resent once under the same id)."""
        return self._select("status IN ('pending', 'sending') AND next_at <= ? ORDER BY id LIMIT ?", (now, limit))

    def outstanding(self) -> int:
        return int(self._db.execute(
            "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')").fetchone()[0])

    def mark_sending(self, delivery_id: int, at: int) -> None:
        self._db.execute("UPDATE deliveries SET status = 'sending', attempts = attempts + 1, next_at = ? "
                         "WHERE id = ?", (at, delivery_id))

    def mark_delivered(self, delivery_id: int, at: int) -> None:
        self._db.execute("UPDATE deliveries SET status = 'delivered', sent_at = ?, refreshed_at = ?, "
                         "last_error = NULL WHERE id = ?", (at, at, delivery_id))

    def mark_retry(self, delivery_id: int, error: str, next_at: int) -> None:
        self._db.execute("UPDATE deliveries SET status = 'pending', last_error = ?, next_at = ? WHERE id = ?",
                         (error, next_at, delivery_id))

    def mark_final(self, delivery_id: int, status: str, error: str) -> None:
        """``failed`` (gave up after the last retry) or ``dropped`` (the queue was full / acknowledged)."""
        self._db.execute("UPDATE deliveries SET status = ?, last_error = ? WHERE id = ?", (status, error, delivery_id))

    def drop_oldest_beyond(self, keep: int, reason: str) -> int:
        """Bound the queue: outstanding deliveries beyond the newest ``keep`` become 'dropped'."""
        cursor = self._db.execute(
            "UPDATE deliveries SET status = 'dropped', last_error = ? WHERE status = 'pending' AND id NOT IN "
            "(SELECT id FROM deliveries WHERE status IN ('pending', 'sending') ORDER BY id DESC LIMIT ?)",
            (reason, keep))
        return cursor.rowcount

    def to_refresh(self, target: str, before: int) -> list[Delivery]:
        """Delivered firing notices to ``target`` last refreshed before ``before`` (Alertmanager forgets a
        firing alert that is not re-sent; it keeps one notification per firing itself)."""
        return self._select("target = ? AND event = 'firing' AND status = 'delivered' AND refreshed_at < ?",
                            (target, before))

    def mark_refreshed(self, delivery_id: int, at: int) -> None:
        self._db.execute("UPDATE deliveries SET refreshed_at = ? WHERE id = ?", (at, delivery_id))

    def recent(self, model: str, limit: int = 10) -> list[Delivery]:
        return self._select("model = ? ORDER BY id DESC LIMIT ?", (model, limit))

    def failures(self) -> dict[str, int]:
        """target -> deliveries that failed for good or were dropped."""
        rows = self._db.execute("SELECT target, count(*) FROM deliveries WHERE status IN ('failed', 'dropped') "
                                "GROUP BY target").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def delivered(self) -> dict[str, int]:
        rows = self._db.execute("SELECT target, count(*) FROM deliveries WHERE status = 'delivered' "
                                "GROUP BY target").fetchall()
        return {r[0]: int(r[1]) for r in rows}
