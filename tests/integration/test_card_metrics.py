"""Issue 13: ``modeldeck card`` and ``modeldeck metrics`` give a logged model's checklist its evidence,
audited, refused read-only. Real store built by ``modeldeck ingest``; the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from app.store import Store
from tests.integration.test_logged_fleet import logged_store, run  # noqa: F401 - the fixture

CARD = """# loan-pricing v2

## Model details
Gradient boosting, 400 trees. [bold red]not markup[/]

## Intended use
Pricing personal loans.

## Factors
Income band, region.

## Metrics
AUC on the holdout.

## Evaluation data
2026 Q1 holdout.

## Training data
2024-2025 applications.

## Ethical considerations
Reviewed for disparate impact.
"""


def _areas(db: Path) -> dict[str, dict]:
    result = run("--db", str(db), "check", "loan-pricing", "--no-probe", "--json")
    return {item["area"]: item for item in json.loads(result.output)["items"]}


def test_logged_model_evidence_says_how_to_provide_what_is_missing(logged_store: Path) -> None:
    areas = _areas(logged_store)
    assert "modeldeck card loan-pricing --version v2 CARD.md" in areas["model_card"]["evidence"]
    assert "modeldeck metrics loan-pricing --version v2" in areas["benchmarks"]["evidence"]


def test_card_and_metrics_pass_their_areas_and_are_audited(logged_store: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text(CARD)
    result = run("--db", str(logged_store), "card", "loan", "--version", "v2", str(card))
    assert result.exit_code == 0, result.output
    assert result.stdout == "set the card of loan-pricing v2; all required sections present\n"
    assert result.stderr == "loan -> loan-pricing\n"
    result = run("--db", str(logged_store), "metrics", "loan-pricing", "--version", "v2", "--set", "auc=0.91",
                 "p95_latency_ms=41", "throughput_rps=800")
    assert result.exit_code == 0, result.output
    areas = _areas(logged_store)
    assert areas["model_card"]["status"] == "pass" and areas["benchmarks"]["status"] == "pass"
    assert "p95_latency_ms 41" in areas["benchmarks"]["evidence"]
    with Store.open(logged_store) as store:
        v2 = next(v for v in store.registry.versions("loan-pricing") if v.version == "v2")
        assert "[bold red]not markup[/]" in v2.card["Model details"]  # stored as given: untrusted text
        entries = {e.action: e for e in store.audit.entries("loan-pricing", limit=10)}
    assert set(entries) >= {"card.set", "metrics.set"} and entries["metrics.set"].actor
    assert entries["metrics.set"].detail["figures"] == {"auc": 0.91, "p95_latency_ms": 41.0, "throughput_rps": 800.0}


def test_metrics_from_a_json_file_merge_with_earlier_figures(logged_store: Path, tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    figures.write_text(json.dumps({"accuracy": 0.93, "throughput_rps": 500}))
    assert run("--db", str(logged_store), "metrics", "loan-pricing", "--version", "v1", "--set",
               "p95_latency_ms=30").exit_code == 0
    assert run("--db", str(logged_store), "metrics", "loan-pricing", "--version", "v1", "--from",
               str(figures)).exit_code == 0
    with Store.open(logged_store) as store:
        v1 = next(v for v in store.registry.versions("loan-pricing") if v.version == "v1")
    assert v1.metrics == {"p95_latency_ms": 30.0, "accuracy": 0.93, "throughput_rps": 500}


def test_bad_input_and_read_only_are_one_line_refusals(logged_store: Path, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text(CARD)
    cases = [
        (["metrics", "loan-pricing", "--version", "v2", "--set", "auc=high"], "auc: 'high' is not a number"),
        (["metrics", "loan-pricing", "--version", "v2"], "give figures"),
        (["metrics", "loan-pricing", "--version", "v9", "--set", "auc=1"], "unknown version 'v9' of loan-pricing"),
        (["card", "loan-pricing", "--version", "v2", str(card), "--read-only"], "refused: modeldeck runs read-only"),
        (["metrics", "loan-pricing", "--version", "v2", "--set", "auc=1", "--read-only"], "refused"),
    ]
    for args, message in cases:
        result = run("--db", str(logged_store), *args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, args
    with Store.open(logged_store) as store:
        v2 = next(v for v in store.registry.versions("loan-pricing") if v.version == "v2")
        assert v2.card is None and v2.metrics == {}
