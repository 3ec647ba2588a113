"""``modeldeck quarantine`` on a real store filled by a real ``modeldeck ingest``; re-ingesting quarantines nothing twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from click.testing import CliRunner

from app.cli.main import main
from app.store import Store
from tests.integration.test_ingest import BAD_LINES, isolated, jsonl, record  # noqa: F401 (the fixture)


def invoke(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def test_bad_lines_are_listed_once_however_often_the_file_is_ingested(tmp_path: Path) -> None:
    store = tmp_path / "q.db"
    hostile = orjson.dumps(record(7, score="\x1b[2Jhigh\x07"))
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(record(1), *(raw for raw, _ in BAD_LINES), hostile, record(2)))
    other = tmp_path / "other.jsonl"
    other.write_bytes(jsonl(b"{broken"))
    for _ in range(2):
        assert invoke(store, "ingest", str(path))[0] == 0
    assert invoke(store, "ingest", str(other))[0] == 0
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == len(BAD_LINES) + 2

    code, out, _ = invoke(store, "quarantine", "--source", str(path), "--format", "jsonl")
    assert code == 0
    listed = [orjson.loads(line) for line in out.splitlines()]
    assert [item["line_no"] for item in listed] == list(range(len(BAD_LINES) + 2, 1, -1))  # newest first
    assert {item["source"] for item in listed} == {str(path)}
    assert listed[0]["raw"] == hostile.decode() and listed[0]["error"].startswith("score:")
    assert "\x1b" not in out and "\\u001b" in out  # the raw text escaped, as JSON does

    code, out, _ = invoke(store, "quarantine")
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(BAD_LINES) + 2
    assert f"{other}:1" in lines[0] and "{broken" in lines[0]
    assert "\x1b" not in out and "\x07" not in out and "\\x1b[2Jhigh\\x07" in out  # visible, never run
    assert any(f"{path}:2" in line and "not JSON" in line for line in lines)


def test_since_and_nothing_found(tmp_path: Path) -> None:
    store = tmp_path / "q.db"
    Store.open(store).close()
    code, out, err = invoke(store, "quarantine", "--since", "2h")
    assert code == 0 and out == "" and "no quarantined lines since 2h" in err
    code, _, err = invoke(store, "quarantine", "--since", "last week")
    assert code == 2 and "--since" in err


def test_an_old_store_keeps_one_copy_of_each_quarantined_line(tmp_path: Path) -> None:
    from app.models import QuarantinedLine

    path = tmp_path / "old.db"
    Store(path, migrate_to=5).close()
    line = QuarantinedLine(3, "{broken", "not JSON", source="/logs/a.jsonl", ingested_at=1)
    with sqlite3.connect(path) as old:  # written as schema 5 wrote it (no model column yet)
        old.executemany("INSERT INTO quarantine (ingested_at, source, line_no, raw, error) VALUES (?, ?, ?, ?, ?)",
                        [(1, "/logs/a.jsonl", 3, "{broken", "not JSON")] * 2 + [(1, "/logs/a.jsonl", 4, "{x", "not JSON")])
        assert old.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 3  # schema 5 stored it again
    old.close()
    with Store.open(path) as store:
        assert store.quarantine.count() == 2
        store.quarantine.add_many([line])
        assert store.quarantine.count() == 2
