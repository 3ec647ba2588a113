"""Pruning the prediction log (issue 17 item 5): ``modeldeck prune`` and ``watch``'s daily prune.

Rows older than the cutoff are first written to daily JSON Lines gzip files (``predictions-YYYY-MM-DD``
by the rows' UTC day, in the ingest contract: ``modeldeck ingest DIR/*.jsonl.gz`` puts them back, so an
old complaint can still be answered), then deleted through ``app.store.retention.delete_before`` in the
same write transaction as the ``prune`` audit row, then the space is given back (VACUUM).

An archive file is never modified: a second prune of the same day writes ``...-YYYY-MM-DD.2.jsonl.gz``.
Each file is written as ``.partial``, flushed to disk and renamed before any row is deleted, so a crash
leaves either the rows in the store or a whole archive file (at worst both: re-ingesting adds nothing twice).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from app.guard import refuse_if_read_only
from app.store import retention as stored
from app.timeutil import TimeFormat, format_ms, now_ms

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.store import Store

DAY_MS = 86_400_000
ACTION = "prune"
WATCH_ACTOR = "modeldeck watch"


class PruneRefused(ValueError):
    """A prune that must not run as asked (below the debugging horizon, an unusable archive folder)."""


@dataclass(frozen=True)
class PrunePlan:
    cutoff: int  # rows with ts < cutoff go
    rows: int
    oldest: int | None
    newest: int | None
    archive_dir: Path | None

    def describe(self) -> list[str]:
        if not self.rows:
            return [f"nothing to prune: no prediction older than {format_ms(self.cutoff, TimeFormat.MINUTE)} UTC"]
        lines = [f"prune     {self.rows:,} predictions logged {format_ms(self.oldest, TimeFormat.MINUTE)} .. "
                 f"{format_ms(self.newest, TimeFormat.MINUTE)} UTC (older than "
                 f"{format_ms(self.cutoff, TimeFormat.MINUTE)})"]
        if self.archive_dir is not None:
            lines.append(f"archive   {self.archive_dir}/predictions-YYYY-MM-DD.jsonl.gz, one file a day "
                         "(modeldeck ingest reads them back)")
        else:
            lines.append("archive   NONE: without --archive the rows are gone for good")
        return lines


@dataclass
class PruneOutcome:
    rows: int = 0
    files: list[Path] = field(default_factory=list)
    by_model: dict[str, int] = field(default_factory=dict)
    bytes_before: int | None = None
    bytes_after: int | None = None
    vacuum_error: str | None = None


def plan(store: "Store", older_than_ms: int, archive_dir: Path | None, *, now: int | None = None,
         settings: "Settings | None" = None, below_horizon: bool = False) -> PrunePlan:
    """What ``prune`` would delete. Refuses a cutoff younger than ``[retention] debug_horizon_days``
    (a typo such as ``40d`` for ``400d`` would take complaints that must stay answerable) unless
    ``below_horizon``."""
    horizon_days = settings.retention.debug_horizon_days if settings is not None else 180
    if older_than_ms < horizon_days * DAY_MS and not below_horizon:
        raise PruneRefused(f"--older-than {older_than_ms // DAY_MS}d is under the {horizon_days}d debugging horizon "
                           "([retention] debug_horizon_days); pass --below-horizon to prune anyway")
    if archive_dir is not None and archive_dir.exists() and not archive_dir.is_dir():
        raise PruneRefused(f"--archive {archive_dir}: not a directory")
    cutoff = (now_ms() if now is None else now) - older_than_ms
    span = stored.older_than(store, cutoff)
    return PrunePlan(cutoff, span.rows, span.oldest, span.newest, archive_dir)


def prune(store: "Store", settings: "Settings | None", chosen: PrunePlan, *, actor: str | None = None,
          vacuum: bool = True, now: int | None = None) -> PruneOutcome:
    """Archive (when asked), delete and audit the rows of ``chosen`` (rows arriving since the plan with an
    old time go too: the cutoff is what was confirmed, not the count), then VACUUM when ``vacuum``.
    Refused, with an audit row, under read-only."""
    detail = {"cutoff": chosen.cutoff, "archive": str(chosen.archive_dir) if chosen.archive_dir else None}
    refuse_if_read_only(store, settings, ACTION, actor=actor, detail=detail)
    outcome = PruneOutcome()
    with store.write():
        if chosen.archive_dir is not None:
            outcome.files = _archive(store, chosen.cutoff, chosen.archive_dir)
        deleted = stored.delete_before(store, chosen.cutoff)
        outcome.rows = deleted.rows
        for (model, _), count in deleted.by_version.items():
            outcome.by_model[model] = outcome.by_model.get(model, 0) + count
        store.audit.append(ACTION, None, actor=actor, outcome="succeeded", ts=now, detail={
            **detail, "rows": deleted.rows, "by_model": outcome.by_model,
            "files": [path.name for path in outcome.files]})
    if vacuum and outcome.rows:
        try:
            outcome.bytes_before, outcome.bytes_after = stored.reclaim_space(store)
        except Exception as exc:  # the rows are gone and audited; only the space is not back yet
            from app.store.connection import failure

            outcome.vacuum_error = str(failure(exc) or exc)
    return outcome


def _archive(store: "Store", cutoff: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    day: str | None = None
    out: gzip.GzipFile | None = None
    partial: Path | None = None

    def close() -> None:
        if out is None or partial is None:
            return
        out.close()
        with open(partial, "rb+") as raw:  # on disk before any row is deleted
            os.fsync(raw.fileno())
        final = _free_name(folder, day or "unknown")
        partial.rename(final)
        written.append(final)

    try:
        for record in stored.records_before(store, cutoff):
            record_day = str(record["ts"])[:10]  # ISO from ms_to_iso: the UTC day is its first 10 characters
            if record_day != day:
                close()
                day = record_day
                partial = folder / f".predictions-{day}.jsonl.gz.partial"
                out = gzip.GzipFile(partial, "wb")
            out.write(orjson.dumps(record) + b"\n")  # type: ignore[union-attr]
        close()
        out = None
    finally:
        if out is not None and not out.closed:
            out.close()
            if partial is not None:
                partial.unlink(missing_ok=True)
    return written


def _free_name(folder: Path, day: str) -> Path:
    path = folder / f"predictions-{day}.jsonl.gz"
    n = 2
    while path.exists():
        path = folder / f"predictions-{day}.{n}.jsonl.gz"
        n += 1
    return path


def prune_if_due(store: "Store", settings: "Settings", *, now: int | None = None) -> PruneOutcome | None:
    """``watch``'s daily prune: with ``[retention] prune = true`` and ``keep_days``, once a day (a day after
    the last succeeded prune in the audit), prune rows older than keep_days into ``archive_dir`` without
    VACUUM (freed pages are reused by new rows, so the file stops growing; ``modeldeck prune`` gives them
    back). None when not configured or not due."""
    config = settings.retention
    if not config.prune or config.keep_days is None:
        return None
    clock = now_ms() if now is None else now
    last = stored.last_succeeded(store, ACTION)
    if last is not None and clock - last < DAY_MS:
        return None
    chosen = plan(store, config.keep_days * DAY_MS, config.archive_dir, now=clock, settings=settings,
                  below_horizon=True)  # keep_days under the horizon is the Logging area's failure to show
    return prune(store, settings, chosen, actor=WATCH_ACTOR, vacuum=False, now=clock)
