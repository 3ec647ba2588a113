"""`modeldeck evaluate`: held-out metrics from a file, checked against scipy, stored on the version with
the file's hash and who ran it, audited, refused under read-only; on a store built without the demo."""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from scipy.stats import mannwhitneyu

from app.checklist.heldout import auc, classification_metrics, regression_metrics
from app.cli.main import main
from app.models import ModelInfo, Stage, Version
from app.store import Store

NOW = 1_790_000_000_000


def test_auc_log_loss_and_errors_match_scipy_and_their_definitions():
    rng = random.Random(7)
    labels = [rng.random() < 0.3 for _ in range(500)]
    # Rounded scores: many ties, which the midrank handling must get right.
    scores = [round(min(0.99, max(0.01, rng.gauss(0.6 if y else 0.4, 0.2))), 2) for y in labels]
    positives = [s for s, y in zip(scores, labels) if y]
    negatives = [s for s, y in zip(scores, labels) if not y]
    u = mannwhitneyu(positives, negatives).statistic
    assert auc(scores, [int(y) for y in labels]) == pytest.approx(u / (len(positives) * len(negatives)), abs=1e-12)
    metrics = classification_metrics(scores, [int(y) for y in labels])
    expected_loss = -sum(math.log(s) if y else math.log(1 - s) for s, y in zip(scores, labels)) / len(labels)
    assert metrics["log_loss"] == pytest.approx(expected_loss, rel=1e-12)
    assert metrics["accuracy"] == sum((s >= 0.5) == y for s, y in zip(scores, labels)) / len(labels)
    reg = regression_metrics([1.0, 2.0, 4.0], [1.5, 2.0, 1.0])
    assert reg["mae"] == pytest.approx((0.5 + 0 + 3) / 3) and reg["rmse"] == pytest.approx(math.sqrt((0.25 + 9) / 3))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "own.db"
    with Store.open(path) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="alice"))
        store.registry.upsert_version(Version(model="fraud", version="v2", stage=Stage.champion, created_at=NOW,
                                              metrics={"p95_latency_ms": 40}))
        store.registry.upsert_model(ModelInfo(name="limit", task="regression"))
        store.registry.upsert_version(Version(model="limit", version="r1", stage=Stage.champion, created_at=NOW))
    return path


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], env={"MODELDECK_ACTOR": "dana@ci"})
    return result.exit_code, result.stdout, result.stderr


def test_evaluate_stores_the_metrics_with_the_files_hash_and_who_ran_it(db: Path, tmp_path: Path):
    held = tmp_path / "holdout.csv"
    held.write_text("score,label\n0.9,1\n0.8,1\n0.3,0\n0.6,0\n0.2,0\n")
    code, out, err = run(db, "evaluate", "fraud", str(held), "--version", "v2")
    assert code == 0, err
    assert out.startswith("fraud v2: accuracy 0.8, auc 1, log_loss ") and "on 5 held-out rows of holdout.csv" in out
    with Store.open(db) as store:
        [v2] = store.registry.versions("fraud")
        record = v2.metrics["heldout"]
        assert record["sha256"] == hashlib.sha256(held.read_bytes()).hexdigest() and record["run_by"] == "dana@ci"
        assert record["auc"] == 1.0 and record["n"] == 5 and v2.metrics["p95_latency_ms"] == 40  # kept
        [entry] = store.audit.entries("fraud")
        assert (entry.action, entry.actor, entry.detail["sha256"]) == ("evaluate", "dana@ci", record["sha256"])


def test_a_regressor_gets_mae_and_rmse_from_json_lines(db: Path, tmp_path: Path):
    held = tmp_path / "holdout.jsonl"
    held.write_bytes(b"".join(orjson.dumps({"pred": p, "y": y}) + b"\n" for p, y in ((100, 110), (200, 190))))
    code, out, err = run(db, "evaluate", "limit", str(held), "--version", "r1", "--score-column", "pred",
                         "--label-column", "y")
    assert code == 0 and "mae 10, rmse 10" in out, err


@pytest.mark.parametrize("content, message", [
    ("score,label\n0.9,yes\n", "row 1: label 'yes' is not a number"),
    ("score,label\n0.9,2\n", "a classifier's label must be 0 or 1"),
    ("prob,label\n0.9,1\n", "needs columns 'score' and 'label'"),
    ("score,label\n", "no rows"),
])
def test_a_bad_file_is_one_line_and_stores_nothing(db: Path, tmp_path: Path, content: str, message: str):
    held = tmp_path / "bad.csv"
    held.write_text(content)
    code, _, err = run(db, "evaluate", "fraud", str(held), "--version", "v2")
    assert code == 2 and message in err and err.count("\n") == 1
    with Store.open(db) as store:
        assert "heldout" not in store.registry.versions("fraud")[0].metrics and store.audit.entries("fraud") == []


def test_evaluate_is_refused_and_audited_under_read_only(db: Path, tmp_path: Path):
    held = tmp_path / "holdout.csv"
    held.write_text("score,label\n0.9,1\n0.1,0\n")
    code, _, err = run(db, "--read-only", "evaluate", "fraud", str(held), "--version", "v2")
    assert code == 2 and "refused: modeldeck runs read-only" in err
    with Store.open(db) as store:
        assert "heldout" not in store.registry.versions("fraud")[0].metrics
        assert [(e.action, e.outcome) for e in store.audit.entries("fraud")] == [("evaluate", "refused")]


def test_the_benchmarks_area_cites_the_held_out_evaluation(db: Path, tmp_path: Path):
    import orjson as _orjson

    held = tmp_path / "holdout.csv"
    held.write_text("score,label\n0.9,1\n0.1,0\n")
    run(db, "evaluate", "fraud", str(held), "--version", "v2")
    result = CliRunner().invoke(main, ["--db", str(db), "check", "fraud", "--json", "--no-probe"])
    benchmarks = next(i for i in _orjson.loads(result.stdout)["items"] if i["area"] == "benchmarks")
    digest = hashlib.sha256(held.read_bytes()).hexdigest()[:12]
    # Quality now comes from the held-out run; throughput is still missing, so the area fails and says so.
    assert benchmarks["status"] == "fail"
    assert f"has heldout.accuracy 1 (held-out, 2 rows, sha256 {digest}, by dana@ci" in benchmarks["evidence"]
