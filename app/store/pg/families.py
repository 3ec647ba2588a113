"""The catalogue, the audit trail, the action locks and the quarantine on PostgreSQL.

Same methods and results as their SQLite twins (app/store/registry.py, audit.py, locks.py,
quarantine.py): the store contract tests run one set of tests over both.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Sequence

import orjson

from app.models import ModelInfo, QuarantinedLine, Stage, Version
from app.store.alerts import AlertsTable as PortableAlertsTable
from app.store.audit import AuditReads
from app.store.identity import current_actor
from app.store.locks import LockHeld, LockHolder
from app.store.serving import ServingLog as PortableServingLog
from app.text import redact
from app.timeutil import now_ms

if TYPE_CHECKING:
    from app.store.pg.store import PgStore


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _decode(value: Any) -> Any:
    """jsonb arrives decoded; text JSON (older rows, other drivers) is decoded here."""
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


_VERSION_COLUMNS = "model, version, stage, created_at, metrics, card, first_seen, last_seen, logged_rows"


def _version(r: tuple) -> Version:
    return Version(model=r[0], version=r[1], stage=Stage(r[2]), created_at=r[3], metrics=_decode(r[4]) or {},
                   card=_decode(r[5]) if r[5] else None, first_seen=r[6], last_seen=r[7], logged_rows=r[8])


class Registry:
    def __init__(self, store: "PgStore") -> None:
        self._s = store

    def upsert_model(self, info: ModelInfo) -> None:
        self._s.run(
            "INSERT INTO models (name, description, owner, task, flags, created_at) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET description = excluded.description, owner = excluded.owner, "
            "task = excluded.task, flags = excluded.flags",
            (info.name, info.description, info.owner, info.task, _json(info.flags), info.created_at))

    def _may_update(self) -> bool:
        row = self._s.one("SELECT has_table_privilege('versions', 'UPDATE') AND NOT "
                          "current_setting('default_transaction_read_only')::boolean")
        return bool(row and row[0])

    def ensure_models(self, pairs: set[tuple[str, str]], *, created_at: int) -> None:
        if not self._may_update():
            return  # a reader records a new champion's version through deck_record_champion
        with self._s.write():
            for model in sorted({m for m, _ in pairs}):
                self._s.run("INSERT INTO models (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            (model, created_at))
            for model, version in sorted(pairs):
                self._s.run("INSERT INTO versions (model, version, created_at) VALUES (%s, %s, %s) "
                            "ON CONFLICT DO NOTHING", (model, version, created_at))

    def upsert_version(self, version: Version) -> None:
        self._s.run(
            "INSERT INTO versions (model, version, stage, created_at, metrics, card) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (model, version) DO UPDATE SET stage = excluded.stage, created_at = excluded.created_at, "
            "metrics = excluded.metrics, card = excluded.card",
            (version.model, version.version, version.stage.value, version.created_at, _json(version.metrics),
             _json(version.card) if version.card is not None else None))

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(name=r[0], description=r[1], owner=r[2], task=r[3], flags=_decode(r[4]), created_at=r[5])
                for r in self._s.rows("SELECT name, description, owner, task, flags, created_at FROM models "
                                      "ORDER BY name COLLATE \"C\"")]

    def model(self, name: str) -> ModelInfo | None:
        r = self._s.one("SELECT name, description, owner, task, flags, created_at FROM models WHERE name = %s",
                        (name,))
        return None if r is None else ModelInfo(name=r[0], description=r[1], owner=r[2], task=r[3],
                                                flags=_decode(r[4]), created_at=r[5])

    def versions(self, model: str) -> list[Version]:
        """Newest first."""
        return [_version(r) for r in self._s.rows(
            f"SELECT {_VERSION_COLUMNS} FROM versions WHERE model = %s "
            "ORDER BY created_at DESC, version COLLATE \"C\" DESC", (model,))]

    def set_card(self, model: str, version: str, card: dict[str, str], *, source: str, by: str, at: int) -> None:
        self._s.run("UPDATE versions SET card = %s, card_source = %s, card_set_by = %s, card_set_at = %s "
                    "WHERE model = %s AND version = %s", (_json(card), source, by, at, model, version))

    def set_metrics(self, model: str, version: str, figures: dict[str, float], *, source: str, by: str,
                    at: int) -> dict:
        with self._s.write():
            row = self._s.one("SELECT metrics FROM versions WHERE model = %s AND version = %s FOR UPDATE",
                              (model, version))
            metrics = {**((_decode(row[0]) or {}) if row else {}), **figures}
            self._s.run("UPDATE versions SET metrics = %s, metrics_source = %s, metrics_set_by = %s, "
                        "metrics_set_at = %s WHERE model = %s AND version = %s",
                        (_json(metrics), source, by, at, model, version))
        return metrics

    def names(self) -> list[str]:
        return [r[0] for r in self._s.rows("SELECT name FROM models ORDER BY name COLLATE \"C\"")]

    def version_names(self, model: str) -> list[str]:
        return [r[0] for r in self._s.rows("SELECT version FROM versions WHERE model = %s "
                                           "ORDER BY version COLLATE \"C\"", (model,))]

    def active_version(self, model: str) -> Version | None:
        return next((v for v in self.versions(model) if v.stage is Stage.champion), None)

    def logged_version(self, model: str) -> Version | None:
        logged = [v for v in self.versions(model) if v.last_seen is not None]
        return max(logged, key=lambda v: (v.last_seen, v.logged_rows), default=None)

    def set_stage(self, model: str, version: str, stage: Stage) -> None:
        """Record a stage change; a new champion demotes the old one to archived (one transaction).

        A role that may not update the catalogue (a console's reader) records a champion through
        ``deck_record_champion``, which accepts only what an audited rollback/promotion just did."""
        if stage is Stage.champion and not self._may_update():
            self._s.run("SELECT deck_record_champion(%s, %s, %s)", (model, version, now_ms()))
            return
        with self._s.write():
            if stage is Stage.champion:
                self._s.run("UPDATE versions SET stage = 'archived' WHERE model = %s AND stage = 'champion' "
                            "AND version != %s", (model, version))
            self._s.run("UPDATE versions SET stage = %s WHERE model = %s AND version = %s",
                        (stage.value, model, version))


class AlertsTable(PortableAlertsTable):
    """The portable alerts family, acknowledging through ``deck_alert_acknowledge`` (SECURITY DEFINER): a console
    connected as the reader acknowledges a firing alert (its audit row goes in through ``deck_audit_append``)
    without the right to change anything else in ``alerts``."""

    def __init__(self, store: "PgStore") -> None:
        from app.store.dialect import PgDb

        super().__init__(PgDb(store))
        self._s = store

    def acknowledge(self, alert_id: int, by: str, at: int) -> None:
        self._s.run("SELECT deck_alert_acknowledge(%s, %s, %s)", (alert_id, by, at))


class AuditLog(AuditReads):
    """Append-only: rows go in through ``deck_audit_append`` (SECURITY DEFINER), so a reader role (a
    console) can audit its actions while it can change nothing else; UPDATE/DELETE are refused by trigger."""

    def __init__(self, store: "PgStore") -> None:
        from app.store.dialect import PgDb

        super().__init__(PgDb(store))  # the reads are the SQLite family's (app/store/audit.py)
        self._s = store

    def append(self, action: str, model: str | None = None, *, detail: dict[str, Any] | None = None,
               outcome: str | None = None, actor: str | None = None, ts: int | None = None) -> int:
        row = self._s.one(
            "SELECT deck_audit_append(%s, %s, %s, %s, %s, %s)",
            (ts if ts is not None else now_ms(), actor or current_actor(), action, model,
             redact(orjson.dumps(detail or {}).decode()), None if outcome is None else redact(outcome)))
        assert row is not None
        return int(row[0])


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for a lock name: stable across hosts and Python runs (crc32 of a
    namespaced name, so modeldeck's keys do not collide with another application's small integers)."""
    return (0x6D64 << 32) | zlib.crc32(f"modeldeck:{name}".encode())


class LocksTable:
    """A model's action lock is a session advisory lock: two operators on two machines get exactly one
    action, and a crashed holder's lock goes with its session (no expiry to wait out). ``lock_holders``
    only says who holds it."""

    def __init__(self, store: "PgStore") -> None:
        self._s = store

    def acquire(self, name: str, *, ttl_ms: int = 600_000, holder: str | None = None) -> LockHolder:
        now = now_ms()
        me = holder or current_actor()
        got = self._s.one("SELECT pg_try_advisory_lock(%s)", (lock_key(name),))
        if not (got and got[0]):
            raise LockHeld(self._noted(name) or LockHolder(name, "another session", now, now + ttl_ms))
        self._s.run("SELECT deck_lock_note(%s, %s, %s, %s)", (name, me, now, now + ttl_ms))
        return LockHolder(name, me, now, now + ttl_ms)

    def release(self, lock: LockHolder) -> None:
        self._s.run("SELECT deck_lock_clear(%s, %s, %s)", (lock.name, lock.holder, lock.acquired_at))
        self._s.run("SELECT pg_advisory_unlock(%s)", (lock_key(lock.name),))

    def holder(self, name: str) -> LockHolder | None:
        """Who holds ``name`` now (None when nobody does: probed without keeping the lock)."""
        key = lock_key(name)
        held_here = self._s.one("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND "
                                "pid = pg_backend_pid() AND granted AND ((classid::bigint << 32) | objid::bigint) = %s)",
                                (key,))
        if held_here and held_here[0]:
            return self._noted(name)
        got = self._s.one("SELECT pg_try_advisory_lock(%s)", (key,))
        if got and got[0]:
            self._s.run("SELECT pg_advisory_unlock(%s)", (key,))
            return None
        now = now_ms()
        return self._noted(name) or LockHolder(name, "another session", now, now)

    def _noted(self, name: str) -> LockHolder | None:
        r = self._s.one("SELECT name, holder, acquired_at, expires_at FROM lock_holders WHERE name = %s", (name,))
        return LockHolder(*r) if r else None


def glob_regex(pattern: str) -> str:
    """SQLite's GLOB (case-sensitive; * ? [...]; no escapes) as an anchored PostgreSQL regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in pattern[i + 2:] or ch == "[" and pattern[i + 1:i + 2] == "]":
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append("\\" + ch if not ch.isalnum() else ch)
        i += 1
    return "".join(out) + "$"


class QuarantineTable:
    def __init__(self, store: "PgStore") -> None:
        self._s = store

    def add_many(self, lines: Sequence[QuarantinedLine]) -> None:
        if not lines:
            return
        with self._s.write():
            cursor = self._s.pg.cursor()
            cursor.executemany(
                "INSERT INTO quarantine (ingested_at, source, line_no, raw, error, model) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(q.ingested_at, q.source, q.line_no, q.raw.replace("\x00", "\ufffd"), q.error, q.model)
                 for q in lines])

    def lines(self, source: str | None = None, *, since: int | None = None, limit: int | None = 100,
              after_id: int | None = None) -> list[QuarantinedLine]:
        where: list[str] = []
        params: list[object] = []
        for clause, value in (("source = %s", source), ("ingested_at >= %s", since), ("id < %s", after_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = "SELECT id, ingested_at, source, line_no, raw, error, model FROM quarantine"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC" + (" LIMIT %s" if limit is not None else "")
        rows = self._s.rows(sql, (*params, limit) if limit is not None else tuple(params))
        return [QuarantinedLine(id=r[0], ingested_at=r[1], source=r[2], line_no=r[3], raw=r[4], error=r[5],
                                model=r[6]) for r in rows]

    def count_between(self, since: int, until: int, *, model: str | None = None,
                      source_glob: str | None = None) -> int:
        """Lines quarantined in [since, until) naming ``model`` or from a source matching ``source_glob``
        (SQLite's GLOB, read here as an anchored regular expression)."""
        match: list[str] = []
        params: list[object] = []
        if model is not None:
            match.append("model = %s")
            params.append(model)
        if source_glob is not None:
            match.append("source ~ %s")
            params.append(glob_regex(source_glob))
        where = f" AND ({' OR '.join(match)})" if match else ""
        row = self._s.one(f"SELECT count(*) FROM quarantine WHERE ingested_at >= %s AND ingested_at < %s{where}",
                          (since, until, *params))
        return int(row[0]) if row else 0

    def count(self) -> int:
        row = self._s.one("SELECT count(*) FROM quarantine")
        return int(row[0]) if row else 0


class ServingLog(PortableServingLog):
    """The portable reads of the log for serving (app/store/serving.py); when a version last served comes
    from the catalogue's tally (``versions.last_seen``), not a log scan."""

    def __init__(self, store: "PgStore") -> None:
        from app.store.dialect import PgDb

        from psycopg.pq import TransactionStatus

        # Its memo is the store's (app/store/log_memo.py): the address, and the database's and the log table's
        # oids, so a database or schema dropped and made again at the same address starts afresh. The
        # connection is in autocommit: any other status than idle is a write transaction in progress.
        oids = store.one("SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
                         "to_regclass('predictions')::oid")
        super().__init__(PgDb(store), memo_key=("postgresql", store.location, *(oids or ())),
                         in_transaction=lambda: store.pg.info.transaction_status != TransactionStatus.IDLE)
        self._s = store

    def newest_ts(self, model: str, version: str) -> int | None:
        row = self._s.one("SELECT last_seen FROM versions WHERE model = %s AND version = %s", (model, version))
        return None if row is None else row[0]
