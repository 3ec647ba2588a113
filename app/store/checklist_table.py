"""Stored readiness checklist items, sign-offs and reviews (the rules that fill them live in app/checklist/).

Items and sign-offs belong to one version of a model (schema v6): a waiver of v3.1.2 says nothing
about v3.2.0. Without an explicit version, reads take the model's champion (the registry's newest).

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from app.models import CheckItem, CheckStatus, Review, SignOff
from app.store.dialect import Db
from app.text import redact
from app.timeutil import now_ms

# The version a read without one means: the model's champion, else '' (a model with no version).
_CHAMPION = ("COALESCE((SELECT v.version FROM versions v WHERE v.model = {m} AND v.stage = 'champion' "
             "ORDER BY v.created_at DESC, v.version DESC LIMIT 1), '')")
_ITEM_COLUMNS = "model, area, status, evidence, auto, owner, note, updated_by, updated_at, version, expires_at"


def _item(r: tuple) -> CheckItem:
    return CheckItem(model=r[0], area=r[1], status=CheckStatus(r[2]), evidence=r[3], auto=bool(r[4]), owner=r[5],
                     note=r[6], updated_by=r[7], updated_at=r[8], version=r[9], expires_at=r[10])


class ChecklistTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def items(self, model: str, version: str | None = None) -> list[CheckItem]:
        """The stored items of ``version`` (default: the champion's)."""
        if version is None:
            sql = f"SELECT {_ITEM_COLUMNS} FROM checklist WHERE model = ? AND version = {_CHAMPION.format(m='?')}"
            params: tuple = (model, model)
        else:
            sql, params = f"SELECT {_ITEM_COLUMNS} FROM checklist WHERE model = ? AND version = ?", (model, version)
        return [_item(r) for r in self._db.execute(sql, params).fetchall()]

    def put(self, item: CheckItem) -> None:
        """Store ``item`` as its area's verdict; a change of status is also kept in the history (items_at)."""
        before = self._db.execute("SELECT status FROM checklist WHERE model = ? AND version = ? AND area = ?",
                                  (item.model, item.version, item.area)).fetchone()
        if before is None or before[0] != item.status.value:
            self._db.execute(
                "INSERT INTO checklist_history (model, version, area, status, evidence, updated_by, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item.model, item.version, item.area, item.status.value, redact(item.evidence), item.updated_by,
                 item.updated_at if item.updated_at is not None else now_ms()))
        self._db.execute(
            """INSERT INTO checklist (model, version, area, status, evidence, auto, owner, note, updated_by,
                                      updated_at, expires_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, version, area) DO UPDATE SET status = excluded.status,
               evidence = excluded.evidence, auto = excluded.auto, owner = excluded.owner, note = excluded.note,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at,
               expires_at = excluded.expires_at""",
            # Evidence quotes endpoint answers (health reasons): never a known token (app/text.py).
            (item.model, item.version, item.area, item.status.value, redact(item.evidence), int(item.auto),
             item.owner, None if item.note is None else redact(item.note), item.updated_by, item.updated_at,
             item.expires_at),
        )

    def items_at(self, model: str, at: int, version: str | None = None) -> list[CheckItem]:
        """The items of ``version`` (default: the champion's) as they stood at ``at``: each area's last
        status change by then (areas with none by then are left out)."""
        version_sql, params = ("?", (version,)) if version is not None else (_CHAMPION.format(m="?"), (model,))
        rows = self._db.execute(
            "SELECT h.model, h.area, h.status, h.evidence, h.updated_by, h.changed_at, h.version "
            "FROM checklist_history h JOIN (SELECT area, max(changed_at) AS last FROM checklist_history "
            f"WHERE model = ? AND version = {version_sql} AND changed_at <= ? GROUP BY area) AS latest "
            f"ON latest.area = h.area AND latest.last = h.changed_at WHERE h.model = ? AND h.version = {version_sql}",
            (model, *params, at, model, *params)).fetchall()
        # Two changes in one millisecond: the later row (insertion order) wins.
        return list({r[1]: CheckItem(model=r[0], area=r[1], status=CheckStatus(r[2]), evidence=r[3],
                                     updated_by=r[4], updated_at=r[5], version=r[6]) for r in rows}.values())

    def passed_counts(self) -> dict[str, int]:
        """Per model, the number of its champion's areas that pass or are waived (the fleet's n/8)."""
        rows = self._db.execute(
            "SELECT c.model, count(*) FROM checklist c WHERE c.status IN ('pass', 'waived') "
            f"AND c.version = {_CHAMPION.format(m='c.model')} GROUP BY c.model"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def signoffs(self, model: str, version: str | None = None) -> list[SignOff]:
        sql = "SELECT model, version, role, signed_by, signed_at, note, expires_at FROM signoffs WHERE model = ?"
        params: tuple = (model,)
        if version is not None:
            sql += " AND version = ?"
            params += (version,)
        rows = self._db.execute(sql + " ORDER BY signed_at", params).fetchall()
        return [SignOff(model=r[0], version=r[1], role=r[2], signed_by=r[3], signed_at=r[4], note=r[5],
                        expires_at=r[6]) for r in rows]

    def add_signoff(self, signoff: SignOff) -> None:
        self._db.execute(
            """INSERT INTO signoffs (model, version, role, signed_by, signed_at, note, expires_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, version, role) DO UPDATE SET signed_by = excluded.signed_by,
               signed_at = excluded.signed_at, note = excluded.note, expires_at = excluded.expires_at""",
            (signoff.model, signoff.version, signoff.role, signoff.signed_by, signoff.signed_at, signoff.note,
             signoff.expires_at),
        )

    def add_review(self, review: Review) -> None:
        self._db.execute(
            "INSERT INTO reviews (model, kind, version, reviewed_by, reviewed_at, note) VALUES (?, ?, ?, ?, ?, ?)",
            (review.model, review.kind, review.version, review.reviewed_by, review.reviewed_at, review.note))

    def last_reviews(self, kind: str = "health") -> dict[str, Review]:
        """Per model, its newest review of ``kind`` (the fleet marks the overdue ones)."""
        # The newest per model by a correlated max (portable; SQLite's bare-column max() is not).
        rows = self._db.execute(
            "SELECT r.model, r.kind, r.version, r.reviewed_by, r.reviewed_at, r.note FROM reviews r "
            "WHERE r.kind = ? AND r.reviewed_at = (SELECT max(n.reviewed_at) FROM reviews n "
            "WHERE n.model = r.model AND n.kind = r.kind) ORDER BY r.model, r.id", (kind,)).fetchall()
        return {r[0]: Review(model=r[0], kind=r[1], version=r[2], reviewed_by=r[3], reviewed_at=r[4], note=r[5])
                for r in rows}
