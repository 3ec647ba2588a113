"""Start-up time of store-only commands (issue 18 item 2): what a process imports is most of its start-up,
so a store-only command must not pay for the console (textual), HTTP (httpx) or sqlite-utils, a
command's --help must not pay for settings validation (pydantic), and a `modeldeck drift` with nothing
new to compute must not pay for the statistics (numpy)."""

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
_WATCHED = ("textual", "httpx", "sqlite_utils", "pydantic", "pydantic_settings", "plotext", "scipy", "numpy",
            "rich.text")


def _run(args: list[str], cwd: Path) -> tuple[set[str], str]:
    """The watched packages the command imported, and what it said (stdout, then stderr)."""
    done = subprocess.run([sys.executable, "-c", _PROBE.format(watched=_WATCHED), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    line = next(line for line in done.stderr.splitlines() if line.startswith("IMPORTED"))
    return set(line.split()[1:]), done.stdout + done.stderr


def _imported(args: list[str], cwd: Path) -> set[str]:
    return _run(args, cwd)[0]


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


def test_a_drift_run_with_nothing_new_does_not_import_the_statistics(tmp_path: Path) -> None:
    import numpy as np

    from app.drift.windows import HOUR_MS
    from app.timeutil import ms_to_iso
    from tests.integration.test_drift_windows import DAY0, put_baseline, traffic

    path = tmp_path / "s.db"
    rng = np.random.default_rng(5)
    with Store.open(path) as store:
        put_baseline(store, "fraud", "v1", rng)
        for hour in range(3):
            traffic(store, "fraud", "v1", hour, rng, n=200)
    command = ["--db", str(path), "drift", "fraud", "--summary", "--since", ms_to_iso(DAY0),
               "--until", ms_to_iso(DAY0 + 3 * HOUR_MS)]
    first, said = _run(command, tmp_path)
    assert "numpy" in first and "3 new window(s) computed" in said, said  # the windows were computed here
    heavy, said = _run(command, tmp_path)
    # The stored windows are still shown, each feature's verdict judged without numpy.
    assert "0 new window(s) computed" in said and "amount" in said and "colour" in said, said
    assert not heavy & {"numpy", "scipy", "pydantic_settings", "textual", "httpx", "sqlite_utils", "rich.text"}, heavy
