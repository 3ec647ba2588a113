"""Where a followed file was read up to, so ``ingest --follow`` resumes after a restart.

Portable (app/store/dialect.py): the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from app.store.dialect import Db
from app.timeutil import now_ms


@dataclass(frozen=True)
class IngestOffset:
    source: str
    device: int | None
    inode: int | None
    offset: int
    line_no: int
    # sha1 of the file's first bytes ("<length>:<hex>", like Filebeat's fingerprint): a file truncated and
    # regrown (copytruncate) or replaced keeps its inode, but not its first bytes.
    fingerprint: str | None = None


class OffsetsTable:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, source: str) -> IngestOffset | None:
        row = self._db.execute(
            'SELECT source, device, inode, "offset", line_no, fingerprint FROM ingest_offsets WHERE source = ?',
            (source,)).fetchone()
        return IngestOffset(*row) if row else None

    def put(self, offset: IngestOffset) -> None:
        self._db.execute(
            'INSERT INTO ingest_offsets (source, device, inode, "offset", line_no, fingerprint, updated_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET device = excluded.device, "
            'inode = excluded.inode, "offset" = excluded."offset", line_no = excluded.line_no, '
            "fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
            (offset.source, offset.device, offset.inode, offset.offset, offset.line_no, offset.fingerprint, now_ms()),
        )
