"""What an operator sees when the store or the config is wrong: one line on stderr naming the file, exit 2,
never a traceback (real processes, as from a shell)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.store import SCHEMA_VERSION, Store

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]


def modeldeck(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    clean.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"), **env)
    return subprocess.run([*CLI, *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60)


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("modeldeck: error: "), done.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("content", [b"id,amount\n1,20\n" * 100, b"SQLite format 3\x00" + b"\x07" * 5000])
def test_a_file_that_is_not_a_store(tmp_path: Path, content: bytes):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    one_line_error(modeldeck(tmp_path, "--db", str(path), "check", "fraud"), str(path))
    assert path.read_bytes() == content


def test_a_store_from_a_newer_modeldeck_found_through_the_environment(tmp_path: Path):
    path = tmp_path / "newer.db"
    Store.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    one_line_error(modeldeck(tmp_path, "search", "model:fraud", MODELDECK_DB=str(path)), str(path), "newer")


def test_a_typo_in_the_config_file(tmp_path: Path):
    (tmp_path / "modeldeck.toml").write_text('[ui]\nrefresh_secs = 2\n')
    one_line_error(modeldeck(tmp_path, "--db", str(tmp_path / "s.db"), "check", "fraud"),
                   "modeldeck.toml", "ui.refresh_secs", "unknown key")
