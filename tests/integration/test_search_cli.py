"""`modeldeck search` as a user runs it: real processes, real pipes, a real store file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from app.store import Store
from app.store.bulk import write_all
from tests.support.search_records import random_records, to_row

MODELDECK = str(Path(sys.executable).parent / "modeldeck")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "logs.db"
    records = random_records(3000, seed=21)
    records[0]["entity_id"] = "evil\x1b[2J\x07\rcust"
    records[0]["ts"] = max(r["ts"] for r in records) + 1
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
    return path


def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MODELDECK, *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_pipe_into_head_closes_cleanly(db: Path) -> None:
    for fmt in ("jsonl", "csv", "table"):
        shell = subprocess.run(
            ["bash", "-c", f'"{MODELDECK}" --db "{db}" search "" --format {fmt} --limit 0 | head -1; '
                           'echo "exit=${PIPESTATUS[0]}" >&2'],
            capture_output=True, text=True, timeout=60)
        assert shell.stderr.strip() == "exit=0", (fmt, shell.stderr)
        assert len(shell.stdout.splitlines()) == 1
    first = subprocess.run(["bash", "-c", f'"{MODELDECK}" search --db "{db}" "" --format jsonl | head -1'],
                           capture_output=True, text=True, timeout=60).stdout
    assert orjson.loads(first)["entity_id"].startswith("evil")


def test_table_output_is_plain_and_limited(db: Path) -> None:
    result = run("--db", str(db), "search", "")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ts", "model", "version"] and len(lines) == 51
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\r" not in result.stdout
    assert "evil" in lines[1]


def test_search_output_ingests_back_unchanged(db: Path, tmp_path: Path) -> None:
    exported = tmp_path / "hits.jsonl"
    query = 'status:error -"alpha"'
    with exported.open("w") as out:
        assert subprocess.run([MODELDECK, "--db", str(db), "search", query, "--format", "jsonl"], stdout=out,
                              timeout=60).returncode == 0
    lines = exported.read_text().splitlines()
    assert lines
    copy = tmp_path / "copy.db"
    ingested = run("--db", str(copy), "ingest", str(exported))
    assert ingested.returncode == 0, ingested.stderr
    again = run("--db", str(copy), "search", "", "--format", "jsonl")
    # The same records, byte for byte (rows sharing a ts may swap: ids are the store's own).
    assert sorted(again.stdout.splitlines()) == sorted(lines)
    # Ingesting the export into its own store adds nothing: every record is already there.
    with Store.open(db) as store:
        before = store.predictions.latest_id()
    assert run("--db", str(db), "ingest", str(exported)).returncode == 0
    with Store.open(db) as store:
        assert store.predictions.latest_id() == before


def test_csv_and_limit(db: Path) -> None:
    result = run("search", "--db", str(db), "model:fraud", "--format", "csv", "--limit", "5")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ts,model,version,request_id") and len(lines) == 6
    assert all(",fraud," in line for line in lines[1:])


def test_query_words_are_joined(db: Path) -> None:
    split = run("--db", str(db), "search", "model:fraud", "status:error", "--format", "jsonl")
    joined = run("--db", str(db), "search", "model:fraud status:error", "--format", "jsonl")
    assert split.stdout == joined.stdout and split.stdout
    assert all(orjson.loads(line)["status"] == "error" for line in split.stdout.splitlines())


def test_bad_query_names_the_token_and_column(db: Path) -> None:
    result = run("--db", str(db), "search", "model:fraud latncy>5")
    assert result.returncode == 2 and result.stdout == ""
    assert "'latncy>5' at column 13" in result.stderr and "did you mean latency_ms" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    result = run("--db", str(tmp_path / "nope.db"), "search", "model:x")
    assert result.returncode == 2 and "no such store" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nope.db").exists()


def test_declared_features_get_a_generated_column_and_index_once(db: Path, tmp_path: Path) -> None:
    from app.store.search_sql import feature_column

    config = tmp_path / "modeldeck.toml"
    config.write_text('[search]\nindexed_features = ["amount"]\n')
    plain = run("--db", str(db), "search", "features.amount>1000", "--format", "jsonl")
    first = run("--config", str(config), "--db", str(db), "search", "features.amount>1000", "--format", "jsonl")
    assert first.returncode == 0 and "indexing features amount" in first.stderr
    assert first.stdout == plain.stdout and first.stdout  # the same answer, now from the index
    with Store.open(db, read_only=True) as store:
        plan = " ".join(r[3] for r in store.conn.execute(
            f'EXPLAIN QUERY PLAN SELECT id FROM predictions WHERE "{feature_column("amount")}" > 1000'))
    assert feature_column("amount") in plan
    again = run("--config", str(config), "--db", str(db), "search", "features.amount>1000", "--format", "jsonl")
    assert "indexing" not in again.stderr and again.stdout == plain.stdout


def test_model_prefix_is_resolved_with_a_notice(db: Path) -> None:
    result = run("--db", str(db), "search", "model:chu status:error", "--format", "jsonl")
    assert result.returncode == 0
    assert "model:chu means churn" in result.stderr
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert rows and {r["model"] for r in rows} == {"churn"} and {r["status"] for r in rows} == {"error"}


def test_a_typo_is_an_error_naming_the_closest_name(db: Path) -> None:
    result = run("--db", str(db), "search", "model:frawd")
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown model 'frawd'; did you mean fraud?" in result.stderr


def test_a_valid_empty_answer_says_why_and_exits_0(db: Path) -> None:
    for query, why in (("model:payments", "no model named 'payments'"),
                       ("entity:nobody", "no record with entity 'nobody'"),
                       ("model:zz*", "no model matches 'zz*'")):
        for fmt in ("table", "jsonl"):
            result = run("--db", str(db), "search", query, "--format", fmt)
            assert result.returncode == 0, (query, result.stderr)
            assert why in result.stderr, (query, fmt, result.stderr)
            assert len(result.stdout.splitlines()) == (1 if fmt == "table" else 0)  # the header, or nothing


def test_or_and_parentheses(db: Path) -> None:
    result = run("--db", str(db), "search", "status:error (model:churn OR model:eta)", "--format", "jsonl",
                 "--limit", "0")
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and rows
    assert {r["model"] for r in rows} == {"churn", "eta"} and {r["status"] for r in rows} == {"error"}


def _on_a_terminal(db: Path, columns: int, *args: str) -> str:
    """Run `modeldeck search` with stdout on a real pseudo-terminal of ``columns`` cells."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([MODELDECK, "--db", str(db), "search", *args], stdout=follower,
                               stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def long_names(tmp_path: Path) -> Path:
    from tests.support.search_records import random_records

    path = tmp_path / "long.db"
    records = random_records(20, seed=4)
    for i, record in enumerate(records):
        record.update(model="fraud-scorer-eu-west-production", version="v2.4.0-rc1+build.20261124",
                      request_id=f"7f3a9c2e-4b1d-4e8a-9c3f-{i:012d}", status="error",
                      error="TimeoutError: scoring took 2300 ms via bureau-gateway.internal:6379 " * 2)
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in records]])
    return path


def test_a_pipe_gets_every_value_whole_with_the_error(long_names: Path) -> None:
    result = run("--db", str(long_names), "search", "")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ts", "model", "version", "request_id", "entity_id", "status", "score",
                                "prediction", "latency_ms", "error"]
    assert "…" not in result.stdout
    for line in lines[1:]:
        assert "fraud-scorer-eu-west-production" in line and "v2.4.0-rc1+build.20261124" in line
        assert "7f3a9c2e-4b1d-4e8a-9c3f-" in line and line.endswith("bureau-gateway.internal:6379")


def test_a_wide_terminal_shows_whole_ids_and_a_narrow_one_fits(long_names: Path) -> None:
    wide = _on_a_terminal(long_names, 250, "").splitlines()
    assert all(len(line) <= 250 for line in wide)
    assert "fraud-scorer-eu-west-production" in wide[1] and "v2.4.0-rc1+build.20261124" in wide[1]
    assert "7f3a9c2e-4b1d-4e8a-9c3f-0000000000" in wide[1] and "TimeoutError: scoring" in wide[1]
    narrow = _on_a_terminal(long_names, 80, "").splitlines()
    assert narrow and all(len(line) <= 80 for line in narrow)
    assert "…" in narrow[1]  # something gave way, the error text first
