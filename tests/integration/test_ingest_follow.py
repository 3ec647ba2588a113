"""``modeldeck ingest --follow`` as a real process on a real file that grows and is rotated while it runs,
then stopped with Ctrl-C and restarted: like ``tail -F``, and resuming where it stopped. On both backends
(a SQLite file and a real PostgreSQL: ``any_store_location``)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]


def record(i: int) -> bytes:
    return orjson.dumps({"ts": 1_795_478_400_000 + i * 1000, "model": "fraud", "version": "v3",
                         "request_id": f"req-{i}", "score": 0.5}) + b"\n"


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def stored(location: str | Path) -> tuple[int, int]:
    """(predictions, quarantined lines) as a reader sees them; (0, 0) before the store exists."""
    location = str(location)
    if location.startswith("postgresql://"):
        from app.store import Store, StoreError

        try:
            with Store.open(location, read_only=True) as store:
                return (store.one("SELECT count(*) FROM predictions")[0],
                        store.one("SELECT count(*) FROM quarantine")[0])
        except StoreError:  # no schema yet: the follower has not opened it
            return 0, 0
    store_path = Path(location)
    if not store_path.exists():
        return 0, 0
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=5) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "predictions" not in tables:
            return 0, 0
        return (conn.execute("SELECT count(*) FROM predictions").fetchone()[0],
                conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])


def wait_for(store_path: str | Path, expected: tuple[int, int], proc: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    seen = stored(store_path)
    while seen != expected and time.monotonic() < deadline:
        assert proc.poll() is None, f"ingest --follow exited early: {proc.communicate()}"
        time.sleep(0.1)
        seen = stored(store_path)
    assert seen == expected


class Follower:
    """``modeldeck ingest PATH --follow --json`` in the background, always stopped."""

    def __init__(self, tmp_path: Path, store_path: str, path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
        env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
        self.proc = subprocess.Popen([*CLI, "--db", str(store_path), "ingest", str(path), "--follow", "--json"],
                                     cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stop(self) -> dict:
        """Ctrl-C, as an operator would: a clean stop, exit 0, the summary on stdout."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return json.loads(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def store_path(any_store_location: str) -> str:
    return any_store_location


@pytest.fixture
def follower(tmp_path: Path, store_path: str):
    started: list[Follower] = []

    def start(path: Path) -> Follower:
        started.append(Follower(tmp_path, store_path, path))
        return started[-1]

    yield start
    for one in started:
        one.kill()


def test_follow_reads_growth_and_rotation_then_resumes_after_a_restart(tmp_path: Path, store_path: str, follower):
    live = tmp_path / "live.jsonl"
    live.write_bytes(record(1) + record(2) + record(3))
    run = follower(live)
    wait_for(store_path, (3, 0), run.proc)

    append(live, record(4) + b"{broken\n" + record(5))
    wait_for(store_path, (5, 1), run.proc)

    # logrotate's default: the last lines land in the old file just before it is renamed away,
    # then the service opens a new file under the same name.
    append(live, record(6))
    live.rename(tmp_path / "live.jsonl.1")
    live.write_bytes(record(7) + record(8))
    wait_for(store_path, (8, 1), run.proc)

    summary = run.stop()
    assert (summary["accepted"], summary["quarantined"], summary["duplicates"], summary["mode"]) == (8, 1, 0, "follow")

    # Written while nothing was following: the restart reads only these, from the stored offset.
    append(live, record(9) + record(10))
    again = follower(live)
    wait_for(store_path, (10, 1), again.proc)
    summary = again.stop()
    assert (summary["accepted"], summary["duplicates"], summary["lines"]) == (2, 0, 2)


def test_copytruncate_rotation_is_followed_from_the_top(tmp_path: Path, store_path: str, follower):
    live = tmp_path / "live.jsonl"
    live.write_bytes(record(1) + record(2))
    run = follower(live)
    wait_for(store_path, (2, 0), run.proc)
    (tmp_path / "live.jsonl.1").write_bytes(live.read_bytes())  # logrotate copytruncate: copy, then truncate
    with live.open("r+b") as handle:
        handle.truncate(0)
    append(live, record(3))  # shorter than what was read: the follower sees the file shrank
    wait_for(store_path, (3, 0), run.proc)
    assert run.stop()["accepted"] == 3
