"""The append-only audit trail: every action on a model, who did it, and how it ended."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from app.models import AuditEntry
from app.store.connection import Database
from app.store.dialect import Db
from app.store.identity import current_actor
from app.text import redact
from app.timeutil import now_ms


class TimedSwitch(NamedTuple):
    ts: int
    action: str
    elapsed_ms: int
    actor: str
    drill: bool


class AuditReads:
    """Reading the trail: the same SQL on both backends (app/store/dialect.py). Writing differs: SQLite
    inserts, PostgreSQL goes through its append-only door (app/store/pg/families.py)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def succeeded(self, model: str, actions: tuple[str, str]) -> list[tuple[int, str, str]]:
        """(ts, action, detail JSON text) of every succeeded entry of ``model`` with one of two ``actions``,
        oldest first (detail is left undecoded: the caller skips entries it cannot read)."""
        return [tuple(r) for r in self._db.execute(  # type: ignore[misc]
            "SELECT ts, action, detail FROM audit WHERE model = ? AND outcome = 'succeeded' AND action IN (?, ?) "
            "ORDER BY id", (model, *actions)).fetchall()]

    def entries(self, model: str | None = None, *, limit: int = 200, before_id: int | None = None,
                until: int | None = None) -> list[AuditEntry]:
        """Newest first; ``before_id`` pages back through older entries; ``until``: only those written at or
        before that time (ms)."""
        clauses, params = [], []
        if model is not None:
            clauses.append("model = ?")
            params.append(model)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        if until is not None:  # time travel: the trail as it stood then (written at or before ``until``)
            clauses.append("ts <= ?")
            params.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT id, ts, actor, action, model, detail, outcome FROM audit {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            AuditEntry(id=r[0], ts=r[1], actor=r[2], action=r[3], model=r[4], detail=orjson.loads(r[5]), outcome=r[6])
            for r in rows
        ]

    def last_timed_switch(self, model: str) -> TimedSwitch | None:
        """``model``'s newest succeeded version switch (rollback or promote, a drill's steps included) that
        recorded its time from command to verified read-back. Read in Python, not with JSON SQL, so both
        backends share it: newest first, 50 switches a read, back through the whole trail if need be."""
        before = 2**62  # above every id: the first read starts at the newest
        while rows := self._db.execute(
                "SELECT id, ts, action, detail, actor FROM audit WHERE model = ? AND outcome = 'succeeded' "
                "AND action IN ('rollback', 'promote') AND id < ? ORDER BY id DESC LIMIT 50",
                (model, before)).fetchall():
            for row_id, ts, action, detail, actor in rows:
                before = row_id
                try:
                    decoded = orjson.loads(detail) if isinstance(detail, (str, bytes)) else dict(detail or {})
                except (orjson.JSONDecodeError, TypeError, ValueError):
                    continue
                elapsed = decoded.get("elapsed_ms") if isinstance(decoded, dict) else None
                if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool):
                    # The drill's own steps say so in their reason; judged on this row, not matched by time.
                    drill = str(decoded.get("reason", "")).startswith("drill")
                    return TimedSwitch(int(ts), action, int(elapsed), actor, drill)
        return None


class AuditLog(AuditReads):
    def __init__(self, db: Database) -> None:
        super().__init__(db)

    def append(self, action: str, model: str | None = None, *, detail: dict[str, Any] | None = None,
               outcome: str | None = None, actor: str | None = None, ts: int | None = None) -> int:
        cursor = self._db.execute(
            "INSERT INTO audit (ts, actor, action, model, detail, outcome) VALUES (?, ?, ?, ?, ?, ?)",
            # Append-only: a secret written here could never be scrubbed, so known tokens are redacted first.
            (ts if ts is not None else now_ms(), actor or current_actor(), action, model,
             redact(orjson.dumps(detail or {}).decode()), None if outcome is None else redact(outcome)),
        )
        return int(cursor.lastrowid)

