"""What ``modeldeck sync`` learnt from registries and endpoints (schema version 8, issue 13).

A sync adds versions and what the remote system says of them; it offers a card and offline metrics that
are taken only where nothing was set locally (a card or metrics from ``modeldeck card``/``metrics`` or the
demo stay). Sign-offs and waivers live in other tables and are never touched. Portable
(app/store/dialect.py): the same SQL on SQLite and PostgreSQL (where card, metrics and remote are jsonb,
compared as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from app.store.dialect import Db


@dataclass(frozen=True)
class SyncState:
    model: str
    source: str
    attempted_at: int
    synced_at: int | None
    error: str | None


class SyncTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def put_version(self, model: str, version: str, *, created_at: int, remote: dict, source: str, at: int) -> None:
        self._db.execute("INSERT INTO models (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING", (model, created_at))
        self._db.execute(
            "INSERT INTO versions (model, version, created_at, remote, remote_source, remote_synced_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, version) DO UPDATE SET remote = excluded.remote, "
            "remote_source = excluded.remote_source, remote_synced_at = excluded.remote_synced_at",
            (model, version, created_at, orjson.dumps(remote).decode(), source, at))

    def offer_card(self, model: str, version: str, card: dict[str, str], *, source: str, at: int) -> bool:
        """Take a registry's card only where none is stored or it came from this source; True if taken."""
        cursor = self._db.execute(
            "UPDATE versions SET card = ?, card_source = ?, card_set_by = ?, card_set_at = ? WHERE model = ? "
            "AND version = ? AND (card IS NULL OR card_source = ?) AND (card IS NULL OR card != ?)",
            (orjson.dumps(card).decode(), source, source, at, model, version, source, orjson.dumps(card).decode()))
        return cursor.rowcount > 0

    def offer_metrics(self, model: str, version: str, metrics: dict, *, source: str, at: int) -> bool:
        """Take a registry's run metrics only where none are stored or they came from this source."""
        text = orjson.dumps(metrics).decode()
        cursor = self._db.execute(
            "UPDATE versions SET metrics = ?, metrics_source = ?, metrics_set_by = ?, metrics_set_at = ? "
            "WHERE model = ? AND version = ? AND (metrics = '{}' OR metrics_source = ?) AND metrics != ?",
            (text, source, source, at, model, version, source, text))
        return cursor.rowcount > 0

    def remote(self, model: str) -> dict[str, tuple[dict, str | None, int | None]]:
        """version -> (what the remote said, source, when) for the versions a sync saw."""
        rows = self._db.execute(f"SELECT version, {self._db.dialect.json_text('remote')}, remote_source, "
                                "remote_synced_at FROM versions "
                                "WHERE model = ? AND remote IS NOT NULL", (model,)).fetchall()
        return {r[0]: (orjson.loads(r[1]), r[2], r[3]) for r in rows}

    def mark(self, model: str, source: str, *, at: int, error: str | None) -> None:
        """Record an attempt: a success moves synced_at; a failure keeps the last success and says why."""
        self._db.execute(
            "INSERT INTO syncs (model, source, attempted_at, synced_at, error) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (model, source) DO UPDATE SET attempted_at = excluded.attempted_at, "
            "synced_at = coalesce(excluded.synced_at, syncs.synced_at), error = excluded.error",
            (model, source, at, None if error else at, error))

    def states(self, model: str | None = None) -> list[SyncState]:
        sql = "SELECT model, source, attempted_at, synced_at, error FROM syncs"
        rows = self._db.execute(sql + (" WHERE model = ? ORDER BY source" if model else " ORDER BY model, source"),
                                (model,) if model else ()).fetchall()
        return [SyncState(*r) for r in rows]
