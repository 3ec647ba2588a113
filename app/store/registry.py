"""Models and their versions as the store knows them (stage, offline metrics, model card)."""

from __future__ import annotations

import orjson
from app.store.connection import Database

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
        r = self._db.execute("SELECT name, description, owner, task, flags, created_at FROM models WHERE name = ?",
                             (name,)).fetchone()
        if r is None:
            return None
        return ModelInfo(name=r[0], description=r[1], owner=r[2], task=r[3], flags=orjson.loads(r[4]),
                         created_at=r[5])

    def versions(self, model: str) -> list[Version]:
        """Newest first."""
        rows = self._db.execute(
            "SELECT model, version, stage, created_at, metrics, card, first_seen, last_seen, logged_rows "
            "FROM versions WHERE model = ? ORDER BY created_at DESC, version DESC",
            (model,),
        ).fetchall()
        return [
            Version(model=r[0], version=r[1], stage=Stage(r[2]), created_at=r[3], metrics=orjson.loads(r[4]),
                    card=orjson.loads(r[5]) if r[5] else None, first_seen=r[6], last_seen=r[7], logged_rows=r[8])
            for r in rows
        ]

    def set_card(self, model: str, version: str, card: dict[str, str], *, source: str, by: str, at: int) -> None:
        """Store ``version``'s model card (untrusted Markdown by section) and who set it from where."""
        self._db.execute("UPDATE versions SET card = ?, card_source = ?, card_set_by = ?, card_set_at = ? "
                         "WHERE model = ? AND version = ?", (_json(card), source, by, at, model, version))

    def set_metrics(self, model: str, version: str, figures: dict[str, float], *, source: str, by: str,
                    at: int) -> dict:
        """Merge ``figures`` into ``version``'s offline metrics (a figure given again replaces the old one);
        returns the metrics now stored."""
        row = self._db.execute("SELECT metrics FROM versions WHERE model = ? AND version = ?",
                               (model, version)).fetchone()
        metrics = {**(orjson.loads(row[0]) if row else {}), **figures}
        self._db.execute("UPDATE versions SET metrics = ?, metrics_source = ?, metrics_set_by = ?, "
                         "metrics_set_at = ? WHERE model = ? AND version = ?",
                         (_json(metrics), source, by, at, model, version))
        return metrics

    def names(self) -> list[str]:
        """Every model name the catalogue knows (logged, registered or the demo's), sorted."""
        return [r[0] for r in self._db.execute("SELECT name FROM models ORDER BY name").fetchall()]

    def version_names(self, model: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT version FROM versions WHERE model = ? ORDER BY version",
                                               (model,)).fetchall()]

    def active_version(self, model: str) -> Version | None:
        """The champion, as the store knows it (a live endpoint may say otherwise)."""
        return next((v for v in self.versions(model) if v.stage is Stage.champion), None)

    def logged_version(self, model: str) -> Version | None:
        """The version the log saw last (newest last_seen), for a model nobody named a champion of:
        what the logs say serves. None when the model has no logged rows."""
        logged = [v for v in self.versions(model) if v.last_seen is not None]
        return max(logged, key=lambda v: (v.last_seen, v.logged_rows), default=None)

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
