"""Benchmark: how long a CLI process takes, start to exit (issue 18 item 2: a no-op drift under 0.5 s).

    python bench/cli_startup.py --db STORE.db --model fraud-scorer
    python bench/cli_startup.py --db AFTER.db --before OLD_CHECKOUT/.venv/bin/modeldeck --before-db BEFORE.db

Times, median of ``--runs`` fresh processes each: ``modeldeck --help``, ``modeldeck drift --help`` and a
no-op ``modeldeck drift MODEL --summary`` (its windows already computed: one warm-up run first), with the
floor measured in the same run (``python -c pass``: the interpreter's own start-up) and, with
``--before``, another modeldeck executable (e.g. main's) on its own store. Also lists which heavy
packages each command imported (``-X importtime``), since start-up is mostly imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("textual", "httpx", "numpy", "scipy", "plotext", "sqlite_utils", "pydantic", "pydantic_settings", "rich")


def timed(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def imported(argv: list[str]) -> list[str]:
    """The HEAVY top-level packages a command imports (from ``-X importtime`` of the same process)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, check=False)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a store (drift windows computed by a warm-up run)")
    parser.add_argument("--model", default="fraud-scorer")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--exe", type=Path, default=Path(sys.executable).parent / "modeldeck")
    parser.add_argument("--before", type=Path, default=None, help="another modeldeck executable to time beside")
    parser.add_argument("--before-db", type=Path, default=None, help="the store for --before (default: --db)")
    args = parser.parse_args()

    def commands(exe: Path, db: Path) -> dict[str, list[str]]:
        return {"modeldeck --help": [str(exe), "--help"],
                "modeldeck drift --help": [str(exe), "drift", "--help"],
                f"modeldeck drift {args.model} --summary (no-op)": [str(exe), "--db", str(db), "drift", args.model,
                                                                   "--summary"]}

    rows: list[tuple[str, str, float, list[str]]] = []
    floor = timed([sys.executable, "-c", "pass"], args.runs)
    sides = [("this tree", args.exe, args.db)]
    if args.before is not None:
        sides.append(("before", args.before, args.before_db or args.db))
    for side, exe, db in sides:
        for name, argv in commands(exe, db).items():
            if "no-op" in name:
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # warm-up
            rows.append((side, name, timed(argv, args.runs), imported(argv)))
    print(f"median of {args.runs} processes; floor (python -c pass) {floor * 1000:.0f} ms")
    print(f"{'side':<10} {'command':<44} {'ms':>7} {'x floor':>8}  heavy imports")
    for side, name, seconds, heavy in rows:
        print(f"{side:<10} {name:<44} {seconds * 1000:>7.0f} {seconds / floor:>8.1f}  {' '.join(heavy) or '-'}")
    if args.before is not None:
        half = len(rows) // 2
        for (_, name, ours, _), (_, _, theirs, _) in zip(rows[:half], rows[half:]):
            print(f"{name:<55} this tree / before: {ours / theirs:.2f}x")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores "
          "(wall times on a shared machine are pessimistic)")


if __name__ == "__main__":
    main()
