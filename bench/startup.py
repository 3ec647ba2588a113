"""Startup: process start -> fleet screen painted, on a 1,000,000-row demo store.

Peer measured in the same run: a bare Textual app that paints one Static (the floor).
Both run under a pseudo-terminal (80x24) and write ``time.monotonic_ns()`` to a marker file
from ``call_after_refresh`` once their first screen is painted, then exit. The console is
also timed until its fleet rows are on screen (the first store read done).

    python bench/startup.py                 # 1,000,000 rows, 7 runs each
    python bench/startup.py --rows 100000 --runs 3
    python bench/startup.py --db /tmp/demo1m.db   # an existing store (opened, migrated if older)
The store is built once with app.demo.build_demo_store and cached under bench/.cache/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.support.terminal import run_in_pty  # noqa: E402
CACHE = HERE / ".cache"

BARE_APP = """
import os, time
from pathlib import Path
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("floor")
    def on_mount(self):
        self.call_after_refresh(self.painted)
    def painted(self):
        Path(os.environ["MODELDECK_PAINT_MARKER"]).write_text(str(time.monotonic_ns()))
        self.exit()

Bare().run()
"""


def build_store(rows: int) -> Path:
    path = CACHE / f"startup-{rows}.db"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    from app.demo.build import build_demo_store

    print(f"building a {rows:,}-row demo store at {path} (once)...", file=sys.stderr)
    started = time.perf_counter()
    build_demo_store(path, rows=rows)
    print(f"  built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def time_to_marker(argv: list[str], env_extra: dict[str, str], timeout_s: float = 30.0) -> float:
    """Seconds from spawning ``argv`` under an 80x24 pty to the marker it writes."""
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "painted"
        env = {**os.environ, **env_extra, "MODELDECK_PAINT_MARKER": str(marker), "TERM": "xterm-256color",
               "COLUMNS": "80", "LINES": "24"}
        started = time.monotonic_ns()
        code, _ = run_in_pty(argv, env=env, cwd=ROOT, timeout_s=timeout_s)
        if not marker.exists():
            raise RuntimeError(f"{argv[0]}... never painted (exit {code})")
        return (int(marker.read_text()) - started) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_STARTUP_ROWS", 1_000_000)))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="use this store instead of building one")
    args = parser.parse_args()

    store = args.db.resolve() if args.db else build_store(args.rows)
    if args.db:
        import sqlite3

        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:  # said once, outside the timing
            args.rows = conn.execute("SELECT max(id) FROM predictions").fetchone()[0] or 0
    python = sys.executable
    # The installed entry point, exactly what an operator runs.
    console = [str(Path(python).parent / "modeldeck"), "--db", str(store)]
    bare = [python, "-c", BARE_APP]
    # The App without the click command line (it still reads the settings).
    app_only = [python, "-c", f"from pathlib import Path; from app.console.app import ModeldeckApp; "
                              f"from app.config.source import SettingsSource; "
                              f"ModeldeckApp(None, SettingsSource(db=Path({str(store)!r}))).run()"]
    # No UI at all: only what the command line does before the App exists (click, pydantic,
    # reading the config): the part of the gap to the floor that the console screens do not cause.
    config_only = [python, "-c", "import os, time; from pathlib import Path; import click; "
                                 "from app.config.settings import load_settings; load_settings(None); "
                                 "Path(os.environ['MODELDECK_PAINT_MARKER']).write_text(str(time.monotonic_ns()))"]
    results: dict[str, list[float]] = {"bare": [], "console": [], "console_rows": [], "app_only": [],
                                       "config_only": []}
    time_to_marker(bare, {})  # warm the file cache for both
    time_to_marker(console, {"MODELDECK_EXIT_AFTER_PAINT": "1"})
    for _ in range(args.runs):  # interleaved, so a noisy neighbour hurts both alike
        results["bare"].append(time_to_marker(bare, {}))
        results["console"].append(time_to_marker(console, {"MODELDECK_EXIT_AFTER_PAINT": "1"}))
        results["console_rows"].append(time_to_marker(console, {"MODELDECK_EXIT_AFTER_PAINT": "rows"}))
        results["app_only"].append(time_to_marker(app_only, {"MODELDECK_EXIT_AFTER_PAINT": "1"}))
        results["config_only"].append(time_to_marker(config_only, {}))

    medians = {name: statistics.median(values) for name, values in results.items()}
    print(f"startup to first paint, {args.rows:,}-row store, 80x24 pty, median of {args.runs} runs")
    print(f"  bare Textual app (one Static): {medians['bare'] * 1000:7.0f} ms")
    print(f"  modeldeck fleet screen:        {medians['console'] * 1000:7.0f} ms   "
          f"ratio {medians['console'] / medians['bare']:.2f}x (target <= 1.5x)")
    print(f"  modeldeck fleet rows shown:    {medians['console_rows'] * 1000:7.0f} ms   "
          f"ratio {medians['console_rows'] / medians['bare']:.2f}x")
    print(f"  the App without the click CLI: {medians['app_only'] * 1000:7.0f} ms   "
          f"ratio {medians['app_only'] / medians['bare']:.2f}x")
    print(f"  config layer alone, no UI:     {medians['config_only'] * 1000:7.0f} ms   "
          f"(python + click + pydantic + config; the console reads the config after its first paint)")


if __name__ == "__main__":
    main()
