"""Copy a SQLite store into a PostgreSQL store (``modeldeck migrate-store``), resumably.

What is copied: the catalogue (models; versions with stage, metrics and card), the prediction log, the
audit trail (each entry with its original time and actor) and the quarantine. The log and the audit are
copied in id order a chunk at a time; after each chunk the last id copied is checkpointed in the target's
``migrate_progress`` table (in the chunk's own transaction), so a stopped copy resumes where it stopped, and
rows already there are skipped anyway (the log's unique key).

The smaller tables (``TABLES``: checklists, sign-offs, reviews, baselines, drift windows and marks, alerts,
deliveries, metric samples, syncs, outcomes) are copied column for column, each whole in one transaction, so a stopped
copy leaves a table either done or empty, and a table already holding rows is not copied again. A table the
target has no twin of is listed as not copied (none today: the zone maps are not copied but rebuilt, since the
target's ``predictions.append`` summarises every row it writes); counts are compared for every table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import orjson

from app.ingest.parse import fts_text
from app.models import ModelInfo, Stage, Version
from app.store.predictions import COLUMNS, SELECT_COLUMNS, PredictionRow, record_from_row

if TYPE_CHECKING:
    from app.store import Store
    from app.store.pg.store import PgStore

CHUNK = 20_000
TABLES = ("checklist", "checklist_history", "signoffs", "reviews", "baselines", "drift", "drift_marks", "alerts",
          "alert_pending", "deliveries", "metric_samples", "syncs", "outcomes")
NOT_COPIED: tuple[str, ...] = ()  # tables without a PostgreSQL twin (zone maps: rebuilt by the target's append)


@dataclass
class MigrationReport:
    copied: dict[str, int] = field(default_factory=dict)  # rows copied by this run, per family
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (source, target) per family
    sample_checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    not_copied: dict[str, int] = field(default_factory=dict)  # family -> rows left behind

    @property
    def ok(self) -> bool:
        return not self.mismatches and all(src == dst for src, dst in self.counts.values())


def _last_id(target: "PgStore", source: str, family: str) -> int:
    row = target.one("SELECT last_id FROM migrate_progress WHERE source = %s AND family = %s", (source, family))
    return int(row[0]) if row else 0


def _checkpoint(target: "PgStore", source: str, family: str, last_id: int) -> None:
    target.run("INSERT INTO migrate_progress (source, family, last_id) VALUES (%s, %s, %s) ON CONFLICT "
               "(source, family) DO UPDATE SET last_id = excluded.last_id", (source, family, last_id))


def _row(r: tuple) -> PredictionRow:
    """A stored SQLite row (id first, then COLUMNS) as an appendable row, with the text its FTS had."""
    values = dict(zip(COLUMNS, r[1:]))
    features = orjson.loads(values["features"]) if values["features"] else None
    context = orjson.loads(values["context"]) if values["context"] else None
    return PredictionRow(*(values[c] for c in COLUMNS), fts_text(features, context))  # type: ignore[arg-type]


def migrate(source: "Store", target: "PgStore", *, source_name: str,
            progress: Callable[[str, int, int], None] | None = None, chunk: int = CHUNK,
            sample: int = 200, stop_after_chunks: int | None = None) -> MigrationReport:
    """Copy ``source`` into ``target``; ``progress(family, done, total)`` after each chunk.
    ``stop_after_chunks`` stops early (tests prove the resume)."""
    report = MigrationReport()
    conn = source.conn
    # The catalogue: small, upserted whole every run (a version's logged tally comes from the log copy).
    with target.write():
        for info in source.registry.models():
            target.registry.upsert_model(info if isinstance(info, ModelInfo) else ModelInfo(**info))
        for model in source.registry.names():
            for version in source.registry.versions(model):
                target.registry.upsert_version(Version(model=version.model, version=version.version,
                                                       stage=version.stage, created_at=version.created_at,
                                                       metrics=version.metrics, card=version.card))
    chunks = 0

    def stopping() -> bool:
        return stop_after_chunks is not None and chunks >= stop_after_chunks

    # The log, by id.
    total = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
    last = _last_id(target, source_name, "predictions")
    done = conn.execute("SELECT count(*) FROM predictions WHERE id <= ?", (last,)).fetchone()[0]
    report.copied["predictions"] = 0
    while not stopping():
        # SELECT_COLUMNS: features and context with their keys' names (a coded store's rows hold codes).
        rows = conn.execute(f"SELECT id, {SELECT_COLUMNS} FROM predictions WHERE id > ? ORDER BY id LIMIT ?",
                            (last, chunk)).fetchall()
        if not rows:
            break
        with target.write():
            accepted, _ = target.predictions.append([_row(r) for r in rows])
            last = rows[-1][0]
            _checkpoint(target, source_name, "predictions", last)
        chunks += 1
        done += len(rows)
        report.copied["predictions"] += accepted
        if progress is not None:
            progress("predictions", done, total)

    # The audit, by id, each entry as it was (time, actor, outcome).
    last = _last_id(target, source_name, "audit")
    report.copied["audit"] = 0
    while not stopping():
        entries = conn.execute("SELECT id, ts, actor, action, model, detail, outcome FROM audit WHERE id > ? "
                               "ORDER BY id LIMIT ?", (last, chunk)).fetchall()
        if not entries:
            break
        with target.write():
            for _id, ts, actor, action, model, detail, outcome in entries:
                target.audit.append(action, model, detail=orjson.loads(detail), outcome=outcome, actor=actor, ts=ts)
            last = entries[-1][0]
            _checkpoint(target, source_name, "audit", last)
        chunks += 1
        report.copied["audit"] += len(entries)
    if not stopping():
        before = target.quarantine.count()
        target.quarantine.add_many(source.quarantine.lines(limit=None))  # a line already there is kept once
        report.copied["quarantine"] = target.quarantine.count() - before

    # Stages last: set_stage demotes, so champions are set after every version exists.
    for model in source.registry.names():
        for version in source.registry.versions(model):
            if version.stage is Stage.champion:
                target.registry.set_stage(model, version.version, Stage.champion)

    if not stopping():
        for table in TABLES:
            _copy_table(source, target, table, report)

    for family in NOT_COPIED:
        try:
            n = conn.execute(f"SELECT count(*) FROM {family}").fetchone()[0]
        except Exception:  # an older store without that table
            continue
        if n:
            report.not_copied[family] = n
    if stopping():
        return report
    _compare(source, target, report, sample)
    return report


def _copy_table(source: "Store", target: "PgStore", table: str, report: MigrationReport) -> None:
    """One small table, column for column (the columns both sides have), whole, in one transaction."""
    conn = source.conn
    try:
        mine = [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    except Exception:
        mine = []
    if not mine:
        return  # an older source store without that table
    theirs = {r[0] for r in target.rows("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                                        "AND table_schema = current_schema()", (table,))}
    n_source = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if not theirs:
        if n_source:
            report.not_copied[table] = n_source
        return
    columns = [c for c in mine if c in theirs]
    n_target = int(target.one(f"SELECT count(*) FROM {table}")[0])  # type: ignore[index]
    report.copied[table] = 0
    if n_target == 0 and n_source:
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        with target.write():
            cursor = target.pg.cursor()
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                               conn.execute(f"SELECT {names} FROM {table}").fetchall())
            if "id" in columns:  # ids kept (deliveries name their alert): the sequence continues after them
                target.run(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        report.copied[table] = n_source
    report.counts[table] = (n_source, int(target.one(f"SELECT count(*) FROM {table}")[0]))  # type: ignore[index]


def _compare(source: "Store", target: "PgStore", report: MigrationReport, sample: int) -> None:
    conn = source.conn
    report.counts["predictions"] = (conn.execute("SELECT count(*) FROM predictions").fetchone()[0],
                                    target.predictions.count())
    report.counts["audit"] = (conn.execute("SELECT count(*) FROM audit").fetchone()[0],
                              int(target.one("SELECT count(*) FROM audit")[0]))  # type: ignore[index]
    report.counts["quarantine"] = (source.quarantine.count(), target.quarantine.count())
    report.counts["versions"] = (conn.execute("SELECT count(*) FROM versions").fetchone()[0],
                                 int(target.one("SELECT count(*) FROM versions")[0]))  # type: ignore[index]
    max_id = conn.execute("SELECT coalesce(max(id), 0) FROM predictions").fetchone()[0]
    rng = random.Random(max_id)
    for row_id in sorted({rng.randint(1, max_id) for _ in range(sample)} if max_id else set()):
        r = conn.execute(f"SELECT id, {SELECT_COLUMNS} FROM predictions WHERE id >= ? ORDER BY id LIMIT 1",
                         (row_id,)).fetchone()
        if r is None:
            continue
        mine = dict(zip(("id", *COLUMNS), r))
        theirs = target.predictions.by_request(mine["model"], mine["version"], mine["request_id"])
        report.sample_checked += 1
        if theirs is None or record_from_row(mine) != record_from_row(theirs):
            report.mismatches.append(f"{mine['model']} {mine['version']} {mine['request_id']}")
