"""Benchmark: reads of a coded store (JSON keys stored once per store, issue 18 item 5) against the same rows
stored with names, in one run (the peer: the store of names; ratios are what to compare on a loaded machine).

    python bench/json_keys.py --names NAMES.db --coded CODED.db   # e.g. CODED.db from `modeldeck --db NAMES.db db compact CODED.db`

Both stores are opened read-only. Per class, the runs alternate between the two stores; medians in ms:
first pages of search (everything, a model, a feature predicate on a text and on a number, a context
predicate), one record by id, a drift window's rows (a day of one model with features, decoded in
Python), a drift feature read (two features of a day through JSON paths) and the facets of a day.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from operator import itemgetter
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DAY_MS = 86_400_000


def classes(path: Path) -> dict[str, Callable[[], object]]:
    import orjson

    from app.search.searcher import Searcher, parse
    from app.store import Store
    from app.store.windows import FeatureRead

    store = Store.open(path, read_only=True)
    searcher = Searcher(store)
    conn = store.conn
    newest = conn.execute("SELECT max(ts) FROM predictions").fetchone()[0]
    row_id = conn.execute("SELECT max(id) / 2 FROM predictions").fetchone()[0]
    record = store.predictions.get(row_id)
    model = record["model"]
    features = orjson.loads(record["features"])
    text_key = next(k for k, v in features.items() if isinstance(v, str))
    number_key = next(k for k, v in features.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    context = orjson.loads(record["context"])
    windows = store.windows

    def page(text: str) -> Callable[[], object]:
        query = parse(text)
        return lambda: searcher.page(query)

    def window_rows() -> int:
        """A day's rows as drift reads them: as stored, two features picked by their stored keys."""
        keys = windows.stored_keys([number_key, text_key])
        pick = itemgetter(keys[number_key], keys[text_key])
        return sum(1 for row in windows.window_rows(model, newest - DAY_MS, newest, as_stored=True)
                   if pick(orjson.loads(row[4])))

    def decoded_rows() -> int:
        return sum(1 for _ in windows.window_rows(model, newest - DAY_MS, newest))

    reads = [FeatureRead(kind="number", feature=number_key), FeatureRead(kind="json", feature=text_key)]
    since = newest - DAY_MS
    return {
        "page: everything": page(""),
        f"page: model:{model}": page(f"model:{model}"),
        f"page: features.{text_key}=V": page(f"features.{text_key}={features[text_key]}"),
        f"page: features.{number_key}>V": page(f"features.{number_key}>{features[number_key]}"),
        "page: context.region=V": page(f"context.region={context.get('region', 'x')}"),
        "record by id": lambda: store.predictions.get(row_id),
        "drift: a day's rows, two features picked": window_rows,
        "a day's rows decoded (baseline, rollback)": decoded_rows,
        "drift: two features of a day": lambda: windows.feature_values(model, record["version"], since, newest,
                                                                       reads),
        "facets of a day (model, feature)": lambda: searcher.facets(parse(f"model:{model}"),
                                                                    ["model", f"features.{text_key}"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=Path, required=True, help="the store with names in its rows (the peer)")
    parser.add_argument("--coded", type=Path, required=True, help="the same rows, coded")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    import os

    stores = {"names": classes(args.names), "coded": classes(args.coded)}
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.runs):
        for i, (kind, cases) in enumerate(stores.items()):
            for j, fn in enumerate(cases.values()):
                started = time.perf_counter()
                fn()
                times.setdefault((kind, j), []).append((time.perf_counter() - started) * 1000)
    print(f"{'class':<44} {'names ms':>10} {'coded ms':>10} {'ratio':>7}")
    for j, name in enumerate(stores["coded"]):
        before, after = (statistics.median(times[(k, j)]) for k in ("names", "coded"))
        print(f"{name[:44]:<44} {before:>10.2f} {after:>10.2f} {after / before:>7.2f}")
    load = os.getloadavg()[0]
    print(f"\nmedians of {args.runs} alternating runs; load average {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
