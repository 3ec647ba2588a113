"""Lines that could not be ingested, kept with their source, line number, raw text and error."""

from __future__ import annotations

from typing import Sequence

from sqlite_utils import Database

from app.models import QuarantinedLine


class QuarantineTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_many(self, lines: Sequence[QuarantinedLine]) -> None:
        """Store ``lines`` (one statement: atomic alone, or part of the caller's ``Store.write()``,
        e.g. a bulk load's single transaction)."""
        self._db.conn.executemany(
            "INSERT INTO quarantine (ingested_at, source, line_no, raw, error) VALUES (?, ?, ?, ?, ?)",
            [(q.ingested_at, q.source, q.line_no, q.raw, q.error) for q in lines],
        )

    def lines(self, source: str | None = None, *, limit: int = 100) -> list[QuarantinedLine]:
        sql = "SELECT id, ingested_at, source, line_no, raw, error FROM quarantine"
        params: tuple = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [QuarantinedLine(id=r[0], ingested_at=r[1], source=r[2], line_no=r[3], raw=r[4], error=r[5])
                for r in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM quarantine").fetchone()[0])
