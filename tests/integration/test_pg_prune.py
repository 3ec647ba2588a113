"""`modeldeck prune` on PostgreSQL drops whole day partitions (issue 19 item 3): the days wholly before the
cutoff go as partitions, the older rows of the day holding the cutoff are deleted, the archive holds exactly
the pruned rows and ingests back; run as the writer role `db init` made. Real PostgreSQL."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
from click.testing import CliRunner

from app.cli.main import main
from app.store import Store
from app.store.pg.schema import DAY_MS, partition_name
from app.timeutil import now_ms
from tests.integration.test_prune import record, write_jsonl

NOW = now_ms()


def _cli(db: str, *args: str):
    return CliRunner().invoke(main, ["--db", db, *args], catch_exceptions=False)


def _ids(db: str, query: str) -> set[str]:
    result = _cli(db, "search", query, "--format", "jsonl", "--limit", "0")
    assert result.exit_code == 0, result.output
    return {orjson.loads(line)["request_id"] for line in result.stdout.splitlines() if line.startswith("{")}


def test_prune_drops_whole_days_deletes_the_partial_day_and_the_archive_comes_back(pg_url: str, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    cutoff = NOW - 400 * DAY_MS
    old = [record(i, days, "ancient") for days in (500, 450, 402) for i in range(10)]
    # The day holding the cutoff: rows just before it (pruned) and well after it (kept).
    edge_old = [{**record(i, 0, "edgeold"), "ts": cutoff - 60_000 - i, "request_id": f"e-old-{i}"} for i in range(5)]
    edge_new = [{**record(i, 0, "edgenew"), "ts": cutoff + 3_600_000 + i, "request_id": f"e-new-{i}"}
                for i in range(5)]
    new = [record(i, 10, "recent") for i in range(10)]
    if (cutoff - 60_000) // DAY_MS != (cutoff + 3_600_005) // DAY_MS:  # the cutoff is near midnight: one edge
        edge_new, new = [], new + edge_new
    assert _cli(pg_url, "ingest", str(write_jsonl(tmp_path / "in.jsonl", old + edge_old + edge_new + new))).exit_code == 0
    monkeypatch.setenv("W_PW", "writer-pw-7")
    suffix = pg_url.rsplit("/", 1)[1][-20:]
    assert _cli(pg_url, "db", "init", "--writer", f"w_{suffix}", "--reader", f"r_{suffix}",
                "--writer-password-env", "W_PW", "--reader-password-env", "W_PW").exit_code == 0
    host = pg_url.split("@", 1)[1]
    writer = f"postgresql://w_{suffix}@{host}?password_env=W_PW"
    with Store.open(pg_url) as store:
        before = set(store.predictions.partitions())
    old_days = {partition_name(r["ts"] - r["ts"] % DAY_MS) for r in old}
    assert old_days <= before

    archive = tmp_path / "archive"
    result = _cli(writer, "prune", "--older-than", "400d", "--archive", str(archive), "--yes")
    assert result.exit_code == 0, result.output
    assert f"deleted   {len(old) + len(edge_old)} predictions" in result.stdout

    with Store.open(pg_url) as store:
        after = set(store.predictions.partitions())
        assert not (old_days & after)  # whole days went as partitions
        assert partition_name(cutoff - cutoff % DAY_MS) in after  # the cutoff's day stays, with its newer rows
        assert store.predictions.count() == len(edge_new) + len(new)
        assert sum(v.logged_rows for m in ("fraud", "churn") for v in store.registry.versions(m)) == \
            len(edge_new) + len(new)
        assert store.audit.entries()[0].action == "prune"
    assert _ids(pg_url, "") == {r["request_id"] for r in edge_new + new}

    files = sorted(archive.glob("*.jsonl.gz"))
    archived = [orjson.loads(line) for f in files for line in gzip.decompress(f.read_bytes()).splitlines()]
    assert sorted(r["request_id"] for r in archived) == sorted(r["request_id"] for r in old + edge_old)
    # The archive ingests back (its keys were forgotten with the rows, its partitions are made again).
    back = _cli(writer, "ingest", *map(str, files))
    assert back.exit_code == 0, back.output
    assert _ids(pg_url, "ancient") == {r["request_id"] for r in old}
