"""Issue 18 item 2: a fleet refresh with nothing new in the store reads none of the readiness checklist's
prediction-log reads again (app/store/log_memo.py), and says exactly what a fresh evaluation says; a new row
is read and shows. Real demo store file, the real CLI for the new row, statements seen by SQLite's trace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.checklist.evaluate import evaluate
from app.cli.main import main
from app.config.settings import Settings
from app.demo.build import build_demo_store
from app.store import Store, log_memo
from app.timeutil import ms_to_iso
from app.views.fleet import fleet_rows

NOW_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z
HOUR_MS = 3_600_000

# The reads remembered while the log's mark stands, by their SQL.
NEWEST_ROWS = re.compile(r"ORDER BY ts DESC LIMIT \d+\)")  # the Feature pipeline area's recent features and feature timing
PEAK_P95 = re.compile(r"SELECT latency_ms FROM predictions WHERE model = '[^']*' AND version =")  # the benchmarks area's p95 of the peak hour
HOUR_COUNT = re.compile(r"SELECT count\(\*\) FROM predictions WHERE model = '[^']*' AND version = '[^']*' "
                        r"AND ts >= (\d+) AND ts < (\d+)")
LOGGING = re.compile(r"with_features|json_present|entity_id != ''")  # the logging area's coverage sums


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("idle-fleet") / "demo.db"
    build_demo_store(path, rows=40_000, now_ms=NOW_MS, baseline_rows=2_000)
    return path


def evidence(store: Store, settings: Settings, now: int) -> dict[str, list[tuple[str, str, str]]]:
    """Every model's Readiness tab (area, status, evidence), as the model screen evaluates it."""
    return {name: [(i.area, i.status.value, i.evidence) for i in evaluate(store, name, settings=settings, now=now)]
            for name in sorted(store.registry.names())}


def fresh(path: Path, settings: Settings, now: int) -> dict[str, list[tuple[str, str, str]]]:
    log_memo._memos.clear()  # a process that never read this store
    with Store.open(path) as store:
        return evidence(store, settings, now)


def logged_reads(statements: list[str]) -> list[str]:
    """The remembered reads among ``statements``: a clipped edge hour of the week (under an hour) is counted
    live, as the sliding window needs; a whole hour's count is not."""
    found = []
    for sql in statements:
        hour = HOUR_COUNT.search(sql)
        if NEWEST_ROWS.search(sql) or PEAK_P95.search(sql) or (hour and int(hour[2]) - int(hour[1]) >= HOUR_MS):
            found.append(sql)
        elif "FROM predictions" in sql and LOGGING.search(sql) and "ts >= " in sql:
            since, until = (int(v) for v in re.findall(r"ts [<>]= (\d+)", sql)[:2])
            if until - since >= 60_000:  # more than the few seconds the clock moved: the hour read again
                found.append(sql)
    return found


def test_an_idle_refresh_reads_nothing_again_and_a_new_row_shows(demo: Path, tmp_path: Path) -> None:
    settings = Settings()
    log_memo._memos.clear()
    with Store.open(demo) as store:
        first = fleet_rows(store, settings, NOW_MS)
    later = NOW_MS + 5_000  # the next refresh: the clock moved, the log did not

    # The console opens the store afresh for each refresh; the memo is the file's, not the connection's.
    statements: list[str] = []
    with Store.open(demo) as store:
        store.conn.set_trace_callback(statements.append)
        second = fleet_rows(store, settings, later)
        store.conn.set_trace_callback(None)
    assert statements, "the trace saw the refresh"
    assert logged_reads(statements) == []
    assert [(r.name, r.readiness_passed) for r in second] == [(r.name, r.readiness_passed) for r in first]

    # What the fleet's n/8 rests on is exactly a fresh evaluation's, area by area, evidence included.
    with Store.open(demo) as store:
        remembered = evidence(store, settings, later)
    assert remembered == fresh(demo, settings, later)
    assert any("peak hour" in e for items in remembered.values() for _a, _s, e in items), "the peak was judged"

    # One new prediction (no features, no entity id) of a model: read, and its coverage says so at once.
    model = sorted(remembered)[0]
    logging = next(e for a, _s, e in remembered[model] if a == "logging")
    count = int(re.match(r"([\d,]+) predictions in the last hour", logging)[1].replace(",", ""))
    line = tmp_path / "one.jsonl"
    line.write_text(json.dumps({"ts": ms_to_iso(later - 1_000), "model": model, "version": "v-new",
                                "request_id": "late-one", "prediction": 1}) + "\n")
    result = CliRunner().invoke(main, ["--db", str(demo), "ingest", str(line)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    statements.clear()
    with Store.open(demo) as store:
        store.conn.set_trace_callback(statements.append)
        after = evidence(store, settings, later)
        store.conn.set_trace_callback(None)
    assert logged_reads(statements), "a new row: the log is read again"
    logging = next(e for a, _s, e in after[model] if a == "logging")
    assert logging.startswith(f"{count + 1:,} predictions in the last hour")
    assert after == fresh(demo, settings, later)
