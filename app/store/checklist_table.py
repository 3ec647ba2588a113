"""Stored readiness checklist items and sign-offs (the rules that fill them live in app/checklist/)."""

from __future__ import annotations

from sqlite_utils import Database

from app.models import CheckItem, CheckStatus, SignOff


class ChecklistTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def items(self, model: str) -> list[CheckItem]:
        rows = self._db.execute(
            "SELECT model, area, status, evidence, auto, owner, note, updated_by, updated_at "
            "FROM checklist WHERE model = ?",
            (model,),
        ).fetchall()
        return [
            CheckItem(model=r[0], area=r[1], status=CheckStatus(r[2]), evidence=r[3], auto=bool(r[4]), owner=r[5],
                      note=r[6], updated_by=r[7], updated_at=r[8])
            for r in rows
        ]

    def put(self, item: CheckItem) -> None:
        self._db.execute(
            """INSERT INTO checklist (model, area, status, evidence, auto, owner, note, updated_by, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, area) DO UPDATE SET status = excluded.status, evidence = excluded.evidence,
               auto = excluded.auto, owner = excluded.owner, note = excluded.note,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at""",
            (item.model, item.area, item.status.value, item.evidence, int(item.auto), item.owner, item.note,
             item.updated_by, item.updated_at),
        )

    def passed_counts(self) -> dict[str, int]:
        """Per model, the number of areas that pass or are waived (the fleet's n/8)."""
        rows = self._db.execute(
            "SELECT model, count(*) FROM checklist WHERE status IN ('pass', 'waived') GROUP BY model"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def signoffs(self, model: str, version: str | None = None) -> list[SignOff]:
        sql = "SELECT model, version, role, signed_by, signed_at, note FROM signoffs WHERE model = ?"
        params: tuple = (model,)
        if version is not None:
            sql += " AND version = ?"
            params += (version,)
        rows = self._db.execute(sql + " ORDER BY signed_at", params).fetchall()
        return [SignOff(model=r[0], version=r[1], role=r[2], signed_by=r[3], signed_at=r[4], note=r[5]) for r in rows]

    def add_signoff(self, signoff: SignOff) -> None:
        self._db.execute(
            """INSERT INTO signoffs (model, version, role, signed_by, signed_at, note) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, version, role) DO UPDATE SET signed_by = excluded.signed_by,
               signed_at = excluded.signed_at, note = excluded.note""",
            (signoff.model, signoff.version, signoff.role, signoff.signed_by, signoff.signed_at, signoff.note),
        )
