"""A store written by the previous modeldeck, read by this one's read-only commands: they bring it up to this
schema, as every writing command does, instead of stopping with "open it read-write once to migrate" (which
no command is named for)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main
from app.store import Store
from app.store.schema import SCHEMA_VERSION
from tests.support.drift_rows import rows_for

MS = 1_764_000_000_000


def _older_store(path: Path) -> None:
    with Store(path, migrate_to=SCHEMA_VERSION - 1) as old:
        old.predictions.append(rows_for("fraud", "v1", MS, [1.0, 2.0, 3.0], ["red", "red", "blue"], "r",
                                        spacing=1000))


def test_quarantine_and_search_read_an_older_store(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _older_store(db)
    for args in (["quarantine"], ["search", "model:fraud"]):
        result = CliRunner().invoke(main, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
        assert "migrate" not in result.output
    assert all(f"r-{i}" in result.output for i in range(3)), result.output  # the search found the old rows
    Store.open(db, read_only=True).close()  # now at this schema: a read-only open is no longer refused


def test_migrate_store_copies_an_older_store(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "old.db"
    _older_store(db)
    result = CliRunner().invoke(main, ["migrate-store", str(db), pg_url])
    assert result.exit_code == 0, result.output
    assert "sample: 3 rows compared, 0 different" in result.output
    with Store.open(pg_url, read_only=True) as store:
        assert store.predictions.count() == 3
