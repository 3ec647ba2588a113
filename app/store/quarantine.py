"""Lines that could not be ingested, kept with their source, line number, raw text and error."""

from __future__ import annotations

from typing import Sequence

from app.store.connection import Database

from app.models import QuarantinedLine


class QuarantineTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_many(self, lines: Sequence[QuarantinedLine]) -> None:
        """Store ``lines`` (one statement: atomic alone, or part of the caller's ``Store.write()``,
        e.g. a bulk load's single transaction). A line already held (same source, line number and
        raw text: the same file ingested again) is not stored twice."""
        self._db.conn.executemany(
            "INSERT OR IGNORE INTO quarantine (ingested_at, source, line_no, raw, error, model) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(q.ingested_at, q.source, q.line_no, q.raw, q.error, q.model) for q in lines],
        )

    def lines(self, source: str | None = None, *, since: int | None = None, limit: int | None = 100,
              after_id: int | None = None) -> list[QuarantinedLine]:
        """Bad lines, newest first (by id): of one ``source``, ingested at or after ``since`` (epoch ms),
        older than ``after_id`` (the next page). ``limit`` None: all."""
        sql = "SELECT id, ingested_at, source, line_no, raw, error, model FROM quarantine"
        where: list[str] = []
        params: list[object] = []
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if since is not None:
            where.append("ingested_at >= ?")
            params.append(since)
        if after_id is not None:
            where.append("id < ?")
            params.append(after_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, -1 if limit is None else limit)).fetchall()
        return [QuarantinedLine(id=r[0], ingested_at=r[1], source=r[2], line_no=r[3], raw=r[4], error=r[5],
                                model=r[6]) for r in rows]

    def count_between(self, since: int, until: int, *, model: str | None = None,
                      source_glob: str | None = None) -> int:
        """Lines quarantined (by ``ingested_at``) in [since, until) that name ``model`` or (when given) came
        from a source matching ``source_glob`` (a GLOB pattern on the stored absolute path), whatever
        they name: a line too broken to name its model still counts against the files it came from."""
        match, params = [], []
        if model is not None:
            match.append("model = ?")
            params.append(model)
        if source_glob is not None:
            match.append("source GLOB ?")
            params.append(source_glob)
        where = f" AND ({' OR '.join(match)})" if match else ""
        return int(self._db.execute(f"SELECT count(*) FROM quarantine WHERE ingested_at >= ? AND ingested_at < ?{where}",
                                    (since, until, *params)).fetchone()[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM quarantine").fetchone()[0])
