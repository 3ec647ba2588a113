"""Start-up time of store-only commands (issue 18 item 2): what a process imports is most of its start-up,
so a store-only command must not pay for the console (textual), HTTP (httpx) or sqlite-utils, and a
command's --help must not pay for settings validation (pydantic-settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.store import Store
from app.store.bulk import write_all
from tests.support.search_records import random_records, to_row

# Runs the real CLI entry, then prints which of these packages the process imported.
_PROBE = """
import atexit, sys
watched = {watched!r}
atexit.register(lambda: print("IMPORTED", *sorted(m for m in watched if m in sys.modules), file=sys.stderr))
from app.cli.main import main
main()
"""
_WATCHED = ("textual", "httpx", "sqlite_utils", "pydantic_settings", "plotext", "scipy")


def _imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(watched=_WATCHED), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    line = next(line for line in done.stderr.splitlines() if line.startswith("IMPORTED"))
    return set(line.split()[1:])


def test_store_only_commands_do_not_import_the_console_or_http(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        write_all(store.conn, [[to_row(r) for r in random_records(30, seed=2)]])
    for args in (["search", "status:error"], ["quarantine"]):
        heavy = _imported(["--db", str(path), *args], tmp_path)
        assert not heavy & {"textual", "httpx", "sqlite_utils", "plotext", "scipy"}, (args, heavy)


def test_help_reads_no_settings(tmp_path: Path) -> None:
    for args in (["--help"], ["drift", "--help"], ["search", "-h"]):
        assert _imported(args, tmp_path) == set(), args
