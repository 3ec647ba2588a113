"""Models and their versions as the store knows them (stage, offline metrics, model card)."""

from __future__ import annotations

import orjson
from sqlite_utils import Database

from app.models import ModelInfo, Stage, Version
from app.store.connection import write_transaction


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class Registry:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert_model(self, info: ModelInfo) -> None:
        self._db.execute(
            """INSERT INTO models (name, description, owner, task, flags, created_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET description = excluded.description, owner = excluded.owner,
               task = excluded.task, flags = excluded.flags""",
            (info.name, info.description, info.owner, info.task, _json(info.flags), info.created_at),
        )

    def ensure_models(self, pairs: set[tuple[str, str]], *, created_at: int) -> None:
        """Make sure every (model, version) seen in a log exists, without touching known ones."""
        self._db.conn.executemany(
            "INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)",
            [(model, created_at) for model in {m for m, _ in pairs}],
        )
        self._db.conn.executemany(
            "INSERT OR IGNORE INTO versions (model, version, created_at) VALUES (?, ?, ?)",
            [(model, version, created_at) for model, version in pairs],
        )

    def upsert_version(self, version: Version) -> None:
        self._db.execute(
            """INSERT INTO versions (model, version, stage, created_at, metrics, card) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (model, version) DO UPDATE SET stage = excluded.stage, created_at = excluded.created_at,
               metrics = excluded.metrics, card = excluded.card""",
            (version.model, version.version, version.stage.value, version.created_at, _json(version.metrics),
             _json(version.card) if version.card is not None else None),
        )

    def models(self) -> list[ModelInfo]:
        rows = self._db.execute(
            "SELECT name, description, owner, task, flags, created_at FROM models ORDER BY name"
        ).fetchall()
        return [
            ModelInfo(name=r[0], description=r[1], owner=r[2], task=r[3], flags=orjson.loads(r[4]), created_at=r[5])
            for r in rows
        ]

    def model(self, name: str) -> ModelInfo | None:
        return next((m for m in self.models() if m.name == name), None)

    def versions(self, model: str) -> list[Version]:
        """Newest first."""
        rows = self._db.execute(
            "SELECT model, version, stage, created_at, metrics, card FROM versions WHERE model = ? "
            "ORDER BY created_at DESC, version DESC",
            (model,),
        ).fetchall()
        return [
            Version(model=r[0], version=r[1], stage=Stage(r[2]), created_at=r[3], metrics=orjson.loads(r[4]),
                    card=orjson.loads(r[5]) if r[5] else None)
            for r in rows
        ]

    def active_version(self, model: str) -> Version | None:
        """The champion, as the store knows it (a live endpoint may say otherwise)."""
        return next((v for v in self.versions(model) if v.stage is Stage.champion), None)

    def set_stage(self, model: str, version: str, stage: Stage) -> None:
        """Record a stage change; a new champion demotes the old one to archived."""
        with write_transaction(self._db.conn):
            if stage is Stage.champion:
                self._db.execute(
                    "UPDATE versions SET stage = 'archived' WHERE model = ? AND stage = 'champion' AND version != ?",
                    (model, version),
                )
            self._db.execute("UPDATE versions SET stage = ? WHERE model = ? AND version = ?",
                             (stage.value, model, version))
