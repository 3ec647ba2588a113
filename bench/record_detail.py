"""Benchmark: building one part of a record's detail (what the Logs screen's detail worker does) for a record
with a multi-MB field, against the floor: cleaning that part's characters alone (app.text.clean on a slice of
the same size), the least any safe display of them can cost.

    python bench/record_detail.py               # a 5 MB feature blob with hostile characters
    python bench/record_detail.py --mb 20

Times part 1, a middle part and the last part (best of --repeat runs each) and prints each against the floor,
and the old way's cost for reference: the whole field cleaned in one go (what a widget built whole would hold).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.text import clean  # noqa: E402
from app.views.record import PART_CHARS, record_part  # noqa: E402

HOSTILE = "[bold red]x[/]\x1b[2J\u202e"


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    unit = ("abcdefghij" * 9) + HOSTILE
    blob = unit * int(args.mb * 1_000_000 / len(unit))
    features = orjson.dumps({"blob": blob, "amount": 12}).decode()
    row = {"id": 1, "ts": 1_790_000_000_000, "model": "m", "version": "v1", "request_id": "r-1", "status": "ok",
           "features": features}
    parts = record_part(row, 1).parts  # type: ignore[union-attr]
    piece = features[len(features) // 2: len(features) // 2 + PART_CHARS]
    floor = best(lambda: clean(piece, keep_newlines=True), args.repeat)
    whole = best(lambda: clean(features, keep_newlines=True), max(1, args.repeat // 3))
    print(f"record with a {len(features) / 1e6:.1f} MB features field: {parts} parts of {PART_CHARS:,} characters")
    print(f"floor (clean one part's characters)        {floor * 1000:8.2f} ms")
    for name, part in (("part 1", 1), ("middle part", parts // 2), ("last part", parts)):
        took = best(lambda: record_part(row, part), args.repeat)
        print(f"modeldeck {name:<32} {took * 1000:8.2f} ms   ratio {took / floor:6.1f}x floor")
    print(f"whole field cleaned at once (for reference) {whole * 1000:8.2f} ms   ratio {whole / floor:6.1f}x floor")


if __name__ == "__main__":
    main()
