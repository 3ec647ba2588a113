"""``modeldeck baseline`` and ``modeldeck drift`` end to end on a real store: the main paths on both backends
(a SQLite file and a real PostgreSQL, ``any_store_location``)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.store import Store
from app.store.predictions import PredictionRow
from app.timeutil import now_ms
from tests.support.drift_rows import rows_for

HOUR = 3_600_000


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _this_hour() -> int:
    now = now_ms()  # read once: two reads a millisecond apart gave 03:59:59.999 for 04:00
    return now - now % HOUR


@pytest.fixture(autouse=True)
def clear_of_the_hour() -> None:
    """These tests log traffic in whole hours before now and run the CLI on the real clock: one that spans a
    full hour (07:00 under load) sees every window shifted by one and fails. Start clear of the next hour."""
    import time

    left_ms = HOUR - now_ms() % HOUR
    if left_ms < 90_000:
        time.sleep(left_ms / 1000 + 1)


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def write_training_csv(path: Path, rng, n: int = 3000) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["amount", "colour", "zip", "score"])
        for amount, colour, zip_code in zip(rng.normal(100, 10, n), rng.choice(["red", "green"], n),
                                            rng.choice(["01000", "02000", "03000"], n)):
            writer.writerow([f"{amount:.3f}", colour, zip_code, f"{amount / 200:.4f}"])


def log_traffic(db: Path | str, rng, *, hours_ago: int, shift: float, n: int = 1200, version: str = "v1") -> None:
    start = _this_hour() - hours_ago * HOUR
    amounts = rng.normal(100 + shift, 10, n)
    rows = rows_for("fraud", version, start, amounts, rng.choice(["red", "green"], n).tolist(),
                    f"{hours_ago}-{version}", spacing=HOUR // (n + 1))
    with Store.open(db) as store:
        store.predictions.append(rows)


def test_baseline_from_csv_infers_kinds_and_honours_overrides(any_store_location, tmp_path, rng):
    db, data = any_store_location, tmp_path / "train.csv"
    write_training_csv(data, rng)
    result = run("--db", str(db), "baseline", "fraud", "--version", "v1", str(data),
                 "--categorical", "zip", "--prediction", "score")
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        stored = {b.feature: b for b in store.baselines.for_version("fraud", "v1")}
        entry = store.audit.entries("fraud")[0]
    assert {name: b.kind for name, b in stored.items()} == {
        "amount": "numeric", "colour": "categorical", "zip": "categorical", "__prediction__": "numeric"}
    assert set(stored["zip"].categories) == {"01000", "02000", "03000"}  # text kept, leading zeros too
    assert stored["amount"].n == 3000 and len(stored["amount"].sample) == 3000
    assert entry.action == "baseline.create" and entry.detail["version"] == "v1"


def test_baseline_from_jsonl_prediction_records(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("\n".join(orjson.dumps({"features": {"amount": a, "tier": t}, "score": a / 10}).decode()
                              for a, t in [(1, "a"), (2, "b"), (3, "a")]) + "\n")
    result = run("--db", str(tmp_path / "s.db"), "baseline", "fraud", "--version", "v1", str(data),
                 "--numeric", "tier")
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "s.db") as store:
        stored = {b.feature: b for b in store.baselines.for_version("fraud", "v1")}
    assert stored["amount"].kind == "numeric" and stored["__prediction__"].sample == [0.1, 0.2, 0.3]
    assert "tier" not in stored and "skipped tier: no values" in result.stderr  # forced numeric, no numbers


def test_baseline_from_logs_then_drift_json(any_store_location, tmp_path, rng):
    db = any_store_location
    log_traffic(db, rng, hours_ago=30, shift=0, n=3000)
    assert run("--db", str(db), "baseline", "fraud", "--version", "v1", "--from-logs",
               "--since", "31h", "--until", "29h").exit_code == 0
    with Store.open(db) as store:  # the audit (and the Activity tab) names the range as times, not epoch ms
        (made,) = [e for e in store.audit.entries("fraud") if e.action == "baseline.create"]
    assert re.fullmatch(r"logs \d{4}-\d\d-\d\dT[\d:.]+Z\.\.\d{4}-\d\d-\d\dT[\d:.]+Z", made.detail["source"]), made.detail
    log_traffic(db, rng, hours_ago=3, shift=0)
    log_traffic(db, rng, hours_ago=2, shift=20)
    result = run("--db", str(db), "drift", "fraud", "--since", "4h", "--json")
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)
    keys = {"model", "version", "feature", "window_start", "window_end", "n_reference", "n_current", "method",
            "value", "threshold", "drifted", "psi", "enough_rows"}
    assert rows and all(set(row) == keys for row in rows) and all(row["enough_rows"] for row in rows)
    assert all(row["window_start"].endswith(":00:00.000Z") for row in rows)
    amount = {row["window_start"]: row for row in rows if row["feature"] == "amount"}
    assert [r["drifted"] for r in sorted(amount.values(), key=lambda r: r["window_start"])] == [False, True]
    assert all(r["n_reference"] == 3000 and r["n_current"] == 1200 for r in amount.values())
    # A second run computes nothing new and prints the same rows.
    again = run("--db", str(db), "drift", "fraud", "--since", "4h", "--json")
    assert orjson.loads(again.stdout) == rows


def test_drift_table_thresholds_from_config_and_alerts(any_store_location, tmp_path, rng):
    db, config = any_store_location, tmp_path / "modeldeck.toml"
    config.write_text(
        '[models.fraud]\nowner = "risk-oncall"\n'
        '[models.fraud.drift_thresholds]\ncolour = 0.9\n'
        '[[models.fraud.alerts]]\nmetric = "feature_drift:amount"\nseverity = "critical"\n'
        'runbook = "https://runbooks.example/fraud-drift"\n')
    log_traffic(db, rng, hours_ago=30, shift=0, n=3000)
    run("--db", str(db), "baseline", "fraud", "--version", "v1", "--from-logs", "--since", "31h", "--until", "29h")
    log_traffic(db, rng, hours_ago=2, shift=25)
    result = run("--db", str(db), "--config", str(config), "drift", "fraud", "--since", "3h", "--fail-on-drift")
    lines = result.stdout.splitlines()
    assert result.exit_code == 1  # amount and the prediction drift: 1 of 2 input features is half
    assert "dataset: 1/2 drifted -> DRIFT" in lines[0]
    # Drifted rows first, the prediction among them by its own drift, by the name a person reads.
    assert {lines[2].split()[0], lines[3].split()[0]} == {"amount", "prediction"}
    assert lines[4].split()[0] == "colour"
    colour = next(line for line in lines if line.startswith("colour"))
    assert colour.split()[3] == "0.9000"
    assert "firing: fraud feature_drift:amount" in result.stderr and "owner risk-oncall" in result.stderr
    with Store.open(db) as store:
        assert [a.rule for a in store.alerts.firing("fraud")] == ["feature_drift:amount"]


def test_a_window_with_too_few_rows_is_shown_but_not_judged(any_store_location, tmp_path, rng):
    db, config = any_store_location, tmp_path / "modeldeck.toml"
    config.write_text('[[models.fraud.alerts]]\nmetric = "feature_drift:amount"\nseverity = "critical"\n'
                      'owner = "risk-oncall"\n')
    log_traffic(db, rng, hours_ago=30, shift=0, n=3000)
    run("--db", str(db), "baseline", "fraud", "--version", "v1", "--from-logs", "--since", "31h", "--until", "29h")
    log_traffic(db, rng, hours_ago=3, shift=0)
    log_traffic(db, rng, hours_ago=2, shift=90, n=3)  # the log ends: 3 rows far off the baseline
    result = run("--db", str(db), "--config", str(config), "drift", "fraud", "--since", "4h", "--fail-on-drift")
    assert result.exit_code == 0, result.output  # the 1200-row window decides: no dataset drift
    windows = [line for line in result.stdout.splitlines() if "dataset:" in line]
    assert "n=1200" in windows[0] and "dataset: 0/2 drifted -> ok" in windows[0]
    assert "n=3" in windows[1] and "dataset: too few rows (3 < 100): not judged" in windows[1]
    amount = [line.split() for line in result.stdout.splitlines() if line.startswith("amount")]
    assert amount[1][4] == "-" and amount[1][-1] == "3"  # no yes/no verdict on 3 rows; n_current shown
    assert "firing" not in result.stderr
    with Store.open(db) as store:
        assert store.alerts.firing("fraud") == []
    rows = orjson.loads(run("--db", str(db), "drift", "fraud", "--since", "4h", "--json").stdout)
    assert {(r["n_current"], r["enough_rows"]) for r in rows if r["feature"] == "amount"} == {(1200, True),
                                                                                              (3, False)}
    # Configured lower, the same 3 rows are judged: they drift, and the rule fires.
    config.write_text(config.read_text() + "[models.fraud]\ndrift_min_rows = 3\n")
    judged = run("--db", str(db), "--config", str(config), "drift", "fraud", "--since", "4h", "--fail-on-drift")
    assert judged.exit_code == 1 and "firing: fraud feature_drift:amount" in judged.stderr


def test_drift_without_a_baseline_says_what_to_do(tmp_path):
    result = run("--db", str(tmp_path / "s.db"), "drift", "fraud")
    assert result.exit_code == 2 and result.stderr == "modeldeck: error: unknown model 'fraud' (no models in this store)\n"
    with Store.open(tmp_path / "s.db") as store:  # a logged model without a baseline
        store.predictions.append([PredictionRow(1000, "fraud", "v1", "r1", None, 1, 0.5, None, 3.0, "ok", None,
                                                None, None, "")])
    result = run("--db", str(tmp_path / "s.db"), "drift", "fraud")
    assert result.exit_code == 2 and "modeldeck baseline fraud" in result.stderr


def _has_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


@pytest.mark.skipif(not _has_pyarrow(), reason="Parquet baselines need pyarrow, not installed here")
def test_baseline_from_parquet(tmp_path, rng):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "train.parquet"
    amounts = rng.normal(100, 10, 2000)
    pq.write_table(pa.table({"amount": amounts, "colour": rng.choice(["red", "green"], 2000)}), data)
    result = run("--db", str(tmp_path / "s.db"), "baseline", "fraud", "--version", "v1", str(data))
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "s.db") as store:
        stored = {b.feature: b for b in store.baselines.for_version("fraud", "v1")}
    assert stored["amount"].kind == "numeric" and stored["amount"].mean == pytest.approx(amounts.mean())
    assert stored["colour"].kind == "categorical" and sum(stored["colour"].categories.values()) == 2000


@pytest.mark.skipif(_has_pyarrow(), reason="pyarrow is installed: the Parquet round trip runs instead")
def test_baseline_from_parquet_without_pyarrow_says_what_to_install(tmp_path):
    data = tmp_path / "train.parquet"
    data.write_bytes(b"PAR1")
    result = run("--db", str(tmp_path / "s.db"), "baseline", "fraud", "--version", "v1", str(data))
    assert result.exit_code == 2 and "pip install pyarrow" in result.output


def test_baseline_file_and_from_logs_are_exclusive(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("a\n1\n")
    result = run("--db", str(tmp_path / "s.db"), "baseline", "fraud", "--version", "v1", str(data), "--from-logs")
    assert result.exit_code == 2 and "either FILE or --from-logs" in result.output


def test_drift_summary_is_one_line_a_feature_with_since_when_it_drifts(any_store_location, tmp_path, rng):
    db = any_store_location
    log_traffic(db, rng, hours_ago=30, shift=0, n=3000)
    run("--db", str(db), "baseline", "fraud", "--version", "v1", "--from-logs", "--since", "31h", "--until", "29h")
    for hours_ago, shift in ((6, 0), (5, 0), (4, 25), (3, 25), (2, 25)):  # drifting for the last three windows
        log_traffic(db, rng, hours_ago=hours_ago, shift=shift)
    result = run("--db", str(db), "drift", "fraud", "--since", "7h", "--summary")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first_drifting = _this_hour() - 4 * HOUR
    from app.timeutil import TimeFormat, format_ms

    amount = next(line for line in lines if line.startswith("amount"))
    assert amount.split()[1] == "DRIFT"
    assert amount.endswith(f"{format_ms(first_drifting, TimeFormat.MINUTE)} (3 windows)")
    colour = next(line for line in lines if line.startswith("colour"))
    assert colour.split()[1] == "ok" and colour.endswith("-")
    assert len(lines) == 2 + 3  # the window line, the header, amount, colour and the prediction
    piped = run("--db", str(db), "drift", "fraud", "--since", "7h")  # not a terminal: every window, as before
    assert "dataset:" in piped.stdout
