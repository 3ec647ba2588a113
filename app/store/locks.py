"""Advisory locks in the store, so two operators cannot act on the same model at once."""

from __future__ import annotations

from dataclasses import dataclass

from app.store.connection import Database

from app.store.connection import write_transaction
from app.store.identity import current_actor
from app.timeutil import now_ms


@dataclass(frozen=True)
class LockHolder:
    name: str
    holder: str
    acquired_at: int
    expires_at: int


class LockHeld(Exception):
    def __init__(self, holder: LockHolder) -> None:
        super().__init__(f"{holder.name} is locked by {holder.holder}")
        self.holder = holder


class LocksTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, *, ttl_ms: int = 600_000, holder: str | None = None) -> LockHolder:
        """Take the lock or raise ``LockHeld`` naming who has it. An expired lock is taken over."""
        now = now_ms()
        me = holder or current_actor()
        conn = self._db.conn
        # The read and the take share one write transaction: two operators cannot both find it free.
        with write_transaction(conn):
            row = conn.execute("SELECT name, holder, acquired_at, expires_at FROM locks WHERE name = ?",
                               (name,)).fetchone()
            if row and row[3] > now:
                raise LockHeld(LockHolder(*row))
            conn.execute("INSERT OR REPLACE INTO locks (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
                         (name, me, now, now + ttl_ms))
        return LockHolder(name, me, now, now + ttl_ms)

    def release(self, lock: LockHolder) -> None:
        self._db.execute("DELETE FROM locks WHERE name = ? AND holder = ? AND acquired_at = ?",
                         (lock.name, lock.holder, lock.acquired_at))

    def holder(self, name: str) -> LockHolder | None:
        row = self._db.execute("SELECT name, holder, acquired_at, expires_at FROM locks WHERE name = ? "
                               "AND expires_at > ?", (name, now_ms())).fetchone()
        return LockHolder(*row) if row else None
