"""Retention (issue 17 item 5): `modeldeck prune --older-than AGE [--archive DIR]` on real store files built by
`ingest` (no demo): the archive is ingestable again, the free-text index forgets exactly the pruned rows,
the catalogue's counts follow, the space comes back, and the prune is confirmed, audited and refused under
read-only; `watch`'s daily prune runs once a day."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from app.checklist.retention import prune_if_due
from app.cli.main import main
from app.config.settings import RetentionConfig, Settings
from app.store import Store
from app.store.bulk import write_all
from app.store.predictions import PredictionRow
from app.timeutil import now_ms

DAY = 86_400_000
NOW = now_ms()  # prune cuts at "now - AGE": the records are placed around the real clock
OLD_DAYS = (500, 450, 402)  # three UTC days older than 400d
NEW_DAYS = (300, 10)


def record(i: int, days_ago: int, word: str) -> dict:
    return {"ts": NOW - days_ago * DAY + i * 1000, "model": "fraud" if i % 2 else "churn", "version": f"v{1 + i % 2}",
            "request_id": f"r-{days_ago}-{i}", "entity_id": f"cust-{i}", "prediction": i % 2, "score": i / 100,
            "label": 1, "latency_ms": 12.5, "features": {"country": "DE", "note": f"{word} shared"},
            "context": {"region": "eu-west", "nested": {"tag": word}}}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, list[dict], list[dict]]:
    old = [record(i, days, "ancient") for days in OLD_DAYS for i in range(20)]
    new = [record(i, days, "recent") for days in NEW_DAYS for i in range(20)]
    db = tmp_path / "store.db"
    result = CliRunner().invoke(main, ["--db", str(db), "ingest", str(write_jsonl(tmp_path / "in.jsonl", old + new))])
    assert result.exit_code == 0, result.output
    return db, old, new


@pytest.fixture
def any_logs(any_store_location: str, tmp_path: Path) -> tuple[str, list[dict], list[dict]]:
    """The same log on each backend (a SQLite file, a PostgreSQL database): what prune shows, asks and
    refuses is held to one set of tests on both."""
    old = [record(i, days, "ancient") for days in OLD_DAYS for i in range(20)]
    new = [record(i, days, "recent") for days in NEW_DAYS for i in range(20)]
    path = write_jsonl(tmp_path / "in.jsonl", old + new)
    result = CliRunner().invoke(main, ["--db", any_store_location, "ingest", str(path)])
    assert result.exit_code == 0, result.output
    return any_store_location, old, new


def cli(db: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["--db", str(db), *args], input=input)


def search(db: Path, query: str) -> set[str]:
    result = cli(db, "search", query, "--format", "jsonl", "--limit", "0")
    assert result.exit_code == 0, result.output
    return {orjson.loads(line)["request_id"] for line in result.stdout.splitlines() if line.startswith("{")}


def fts_intact(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO predictions_fts (predictions_fts, rank) VALUES ('integrity-check', 0)")
        assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        conn.close()


def logged_rows(db: Path) -> dict[tuple[str, str], tuple[int, int]]:
    with Store.open(db, read_only=True) as store:
        return {(m, v): (n, first) for m, v, n, first in store.conn.execute(
            "SELECT model, version, logged_rows, first_seen FROM versions")}


def test_prune_archives_by_day_deletes_and_the_archive_ingests_back(logs, tmp_path: Path):
    db, old, new = logs
    assert search(db, "ancient") == {r["request_id"] for r in old}
    archive = tmp_path / "archive"
    result = cli(db, "prune", "--older-than", "400d", "--archive", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted   60 predictions (churn 30, fraud 30)" in result.stdout
    assert "MB ->" in result.stdout  # VACUUM ran and says what it gave back

    files = sorted(archive.glob("*.jsonl.gz"))
    assert len(files) == 3
    archived = [orjson.loads(line) for f in files for line in gzip.decompress(f.read_bytes()).splitlines()]
    assert sorted(r["request_id"] for r in archived) == sorted(r["request_id"] for r in old)
    for f in files:  # one file per UTC day, named after it, holding only that day's rows
        day = f.name.removeprefix("predictions-").removesuffix(".jsonl.gz")
        assert {orjson.loads(line)["ts"][:10] for line in gzip.decompress(f.read_bytes()).splitlines()} == {day}

    # The free-text index forgot exactly the pruned rows and is intact.
    assert search(db, "ancient") == set()
    assert search(db, "recent") == {r["request_id"] for r in new}
    assert search(db, "shared") == {r["request_id"] for r in new}
    assert search(db, "") == {r["request_id"] for r in new}
    fts_intact(db)
    # The catalogue counts what is left; first_seen moved to the oldest kept row.
    counts = logged_rows(db)
    assert sum(n for n, _ in counts.values()) == len(new)
    with Store.open(db, read_only=True) as store:  # zone maps keep no block of a pruned hour
        blocks = store.conn.execute("SELECT min(hour), sum(rows) FROM zone_blocks").fetchone()
    assert blocks[0] * 3_600_000 >= NOW - 400 * DAY - 3_600_000 and blocks[1] == len(new)
    assert min(first for _, first in counts.values()) == min(r["ts"] for r in new)

    # The archive is the ingest contract: the rows come back whole, and free text finds them again.
    back = cli(db, "ingest", *map(str, files))
    assert back.exit_code == 0, back.output
    assert search(db, "ancient") == {r["request_id"] for r in old}
    with Store.open(db, read_only=True) as store:
        restored = {row["request_id"]: row for row in map(store.predictions.get, range(1, 10_000)) if row}
    for r in old:
        got = restored[r["request_id"]]
        assert (got["ts"], got["score"], got["label"], orjson.loads(got["features"]), orjson.loads(got["context"])) == \
            (r["ts"], r["score"], r["label"], r["features"], r["context"])
    fts_intact(db)


def test_rows_indexed_without_keys_are_forgotten_exactly_too(store_path: Path, tmp_path: Path):
    """The demo's generator indexes text values without their keys: the tokens come from the index, so the
    delete matches what was written whoever wrote it (a recomputed text would damage the index)."""
    rows = [PredictionRow(NOW - days * DAY + i, "m", "v1", f"r{days}-{i}", None, 1, 0.5, None, 3.0, "ok", None,
                          orjson.dumps({"city": f"{word}ville"}).decode(), None, f"{word}ville")
            for days, word in ((5, "young"), (500, "old")) for i in range(50)]  # the old rows hold the top ids
    with Store.open(store_path) as store:
        write_all(store.conn, [rows])
    assert cli(store_path, "prune", "--older-than", "400d", "--yes", "--no-vacuum").exit_code == 0
    fts_intact(store_path)
    assert search(store_path, "oldville") == set()
    assert len(search(store_path, "youngville")) == 50
    # New rows take the freed ids (SQLite gives max(id) + 1): they must not inherit the pruned rows' words.
    with Store.open(store_path) as store:
        write_all(store.conn, [[rows[0]._replace(request_id=f"fresh{i}", fts_text="freshville", ts=NOW)
                                for i in range(5)]])
        assert store.predictions.latest_id() == 55
    assert search(store_path, "oldville") == set()
    assert search(store_path, "freshville") == {f"fresh{i}" for i in range(5)}


def test_prune_asks_for_the_typed_word_and_a_wrong_answer_deletes_nothing(any_logs):
    db, old, new = any_logs
    refused = cli(db, "prune", "--older-than", "400d", input="yes\n")
    assert refused.exit_code == 1 and "nothing was deleted" in refused.output
    assert "prune     60 predictions" in refused.output and "NONE: without --archive" in refused.output
    assert search(db, "ancient") == {r["request_id"] for r in old}
    done = cli(db, "prune", "--older-than", "400d", "--no-vacuum", input="prune\n")
    assert done.exit_code == 0, done.output
    assert search(db, "ancient") == set()
    with Store.open(db, read_only=True) as store:
        entry = store.audit.entries()[0]
    assert (entry.action, entry.outcome, entry.detail["rows"], entry.detail["by_model"]) == \
        ("prune", "succeeded", 60, {"churn": 30, "fraud": 30})


def test_prune_is_refused_and_audited_under_read_only(any_logs):
    db, old, _ = any_logs
    result = cli(db, "--read-only", "prune", "--older-than", "400d", "--yes")
    assert result.exit_code == 1 and "prune refused" in result.output
    assert search(db, "ancient") == {r["request_id"] for r in old}
    with Store.open(db, read_only=True) as store:
        entry = store.audit.entries()[0]
    assert (entry.action, entry.outcome) == ("prune", "refused")


def test_an_age_under_the_debugging_horizon_is_refused_unless_asked(any_logs):
    db, old, new = any_logs
    result = cli(db, "prune", "--older-than", "40d", "--yes")
    assert result.exit_code == 2 and "under the 180d debugging horizon" in result.output
    assert len(search(db, "")) == len(old) + len(new)
    assert cli(db, "prune", "--older-than", "1y", "--yes").exit_code == 2  # not a duration: one line, exit 2
    forced = cli(db, "prune", "--older-than", "100d", "--yes", "--below-horizon", "--no-vacuum")
    assert forced.exit_code == 0, forced.output
    assert search(db, "") == {r["request_id"] for r in new if r["ts"] > NOW - 100 * DAY}


def test_watch_prunes_once_a_day_into_the_configured_archive(logs, tmp_path: Path):
    db, old, _ = logs
    settings = Settings(db=db, retention=RetentionConfig(keep_days=400, prune=True, archive_dir=tmp_path / "arc"))
    with Store.open(db) as store:
        assert prune_if_due(store, Settings(db=db, retention=RetentionConfig(keep_days=400)), now=NOW) is None
        first = prune_if_due(store, settings, now=NOW)
        assert first is not None and first.rows == len(old) and len(first.files) == 3
        assert first.bytes_before is None  # no VACUUM from watch: freed pages are reused
        assert prune_if_due(store, settings, now=NOW + DAY // 2) is None  # not due again the same day
        again = prune_if_due(store, settings, now=NOW + DAY + 1)
        assert again is not None and again.rows == 0
        assert store.audit.entries()[0].actor == "modeldeck watch"


def test_a_large_prune_goes_in_chunks_with_the_same_result(logs):
    """A first prune of a big old log holds one chunk's tokens in memory at a time (here 7 rows a chunk, and a
    chunk of rows that all share one timestamp)."""
    from app.store.retention import delete_before

    db, old, new = logs
    with Store.open(db) as store:
        store.conn.execute("UPDATE predictions SET ts = ? WHERE request_id LIKE 'r-500-%'", (NOW - 500 * DAY,))
        store.conn.commit()
        with store.write():
            deleted = delete_before(store, NOW - 400 * DAY, chunk_rows=7)
    assert deleted.rows == len(old) and deleted.by_version == {("churn", "v1"): 30, ("fraud", "v2"): 30}
    fts_intact(db)
    assert search(db, "ancient") == set() and search(db, "recent") == {r["request_id"] for r in new}
