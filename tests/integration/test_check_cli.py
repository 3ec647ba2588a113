"""``modeldeck check`` as a CI promotion gate and ``modeldeck report``, through the real CLI, on a
real store file, with the endpoint's health read from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator

import orjson
from click.testing import CliRunner

from app.checklist.evaluate import sign_off, waive
from app.checklist.areas import READINESS_AREAS
from app.cli.main import main
from app.models import FeatureBaseline, ModelInfo, Stage, Version
from app.store import Store
from app.store.predictions import PredictionRow
from app.timeutil import now_ms
from tests.support.servers import loopback_http

CARD = {"Model details": "GBM", "Intended use": "fraud review", "Factors": "country", "Metrics": "auc",
        "Evaluation data": "holdout", "Training data": "2026", "Caveats and recommendations": "none known"}


class _Health(BaseHTTPRequestHandler):
    status = "up"

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = json.dumps({"status": self.status}).encode() if self.path == "/health" else b"{}"
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def health_server() -> Iterator[str]:
    with loopback_http(_Health) as url:
        yield url


def build_store(path: Path, *, ready: bool) -> None:
    now = now_ms()
    with Store.open(path) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="alice"))
        store.registry.upsert_version(Version(model="fraud", version="v1", stage=Stage.archived, created_at=now - 10**8))
        store.registry.upsert_version(Version(
            model="fraud", version="v2", stage=Stage.champion, created_at=now - 10**6, card=CARD,
            metrics={"auc": 0.91, "p95_latency_ms": 40, "throughput_rps": 900} if ready else {"auc": 0.91}))
        for feature in ("amount", "country"):
            store.baselines.put(FeatureBaseline(model="fraud", version="v2", feature=feature, kind="numeric", n=10))
        features = orjson.dumps({"amount": 3.5, "country": "DE"}).decode()
        store.predictions.append([PredictionRow(now - 60_000 - i, "fraud", "v2", f"r{i}", f"c{i}", None, 0.3, None,
                                                9.0, "ok", None, features, None, "") for i in range(20)])
        # The oldest kept record, 200 days old, proves the 180-day debugging horizon.
        store.predictions.append([PredictionRow(now - 200 * 86_400_000, "fraud", "v2", "old", "c", None, 0.3, None,
                                                9.0, "ok", None, features, None, "")])
        for role in ("engineering", "product", "data", "fairness", "retention"):
            sign_off(store, "fraud", role, actor=f"{role}@ci")
        # A drill a week ago: switched and verified in 2.1 s, and back.
        store.audit.append("rollback", "fraud", outcome="succeeded", ts=now - 7 * 86_400_000,
                           detail={"from": "v2", "to": "v1", "reason": "drill", "elapsed_ms": 2100})
        store.audit.append("rollback", "fraud", outcome="succeeded", ts=now - 7 * 86_400_000 + 5000,
                           detail={"from": "v1", "to": "v2", "reason": "drill", "elapsed_ms": 2000})


def write_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.fraud.endpoint]\nkind = "http"\nurl = "{url}"\ntimeout_s = 2.0\n'
                      # monitoring: a rule at each level (infrastructure, data, model), each delivered somewhere
                      '[[models.fraud.alerts]]\nmetric = "error_rate"\nnotify = "pagerduty-risk"\n'
                      '[[models.fraud.alerts]]\nmetric = "feature_drift:amount"\nnotify = "#risk-ml"\n'
                      '[[models.fraud.alerts]]\nmetric = "prediction_drift"\nnotify = "#risk-ml"\n'
                      '[retention]\nkeep_days = 400\n')
    return config


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_check_exits_0_when_every_area_passes_with_a_live_endpoint(tmp_path: Path, store_path: Path):
    build_store(store_path, ready=True)
    with health_server() as url:
        code, out, _ = run("--db", str(store_path), "--config", str(write_config(tmp_path, url)), "check", "fraud")
    assert code == 0, out
    assert out.splitlines()[0] == "fraud v2: readiness 8/8 (ready; * = set by hand)"
    assert len(out.splitlines()) == 2 + 8
    assert "answers its health check: up" in out


def test_check_exits_1_and_names_what_fails(tmp_path: Path, store_path: Path):
    build_store(store_path, ready=False)
    with health_server() as url:
        config = write_config(tmp_path, url)
        code, out, _ = run("--db", str(store_path), "--config", str(config), "check", "fraud")
        assert code == 1
        benchmarks = next(line for line in out.splitlines() if line.startswith("Performance benchmarks"))
        assert "FAIL" in benchmarks and "no p95 latency, no throughput" in benchmarks
        # A waiver is enough to pass the gate, and shows as set by hand.
        with Store.open(store_path) as store:
            waive(store, "fraud", "benchmarks", "latency benchmarked in the load-test repo", actor="alice", expires_in_ms=30 * 86_400_000)
        code, out, _ = run("--db", str(store_path), "--config", str(config), "check", "fraud")
    assert code == 0
    assert "WAIVED*" in out


def test_a_down_endpoint_fails_the_gate(tmp_path: Path, store_path: Path):
    build_store(store_path, ready=True)
    with health_server() as url:
        pass  # stopped: its port now refuses connections
    code, out, _ = run("--db", str(store_path), "--config", str(write_config(tmp_path, url)), "check", "fraud")
    assert code == 1
    serving = next(line for line in out.splitlines() if line.startswith("Serving infrastructure"))
    assert "FAIL" in serving and "down" in serving


def test_check_json_lists_the_items_and_a_summary(tmp_path: Path, store_path: Path):
    build_store(store_path, ready=False)
    code, out, _ = run("--db", str(store_path), "check", "fraud", "--json")
    assert code == 1
    payload = json.loads(out)
    assert payload["model"] == "fraud" and payload["version"] == "v2" and payload["evaluated_at"].endswith("Z")
    assert [i["area"] for i in payload["items"]] == list(READINESS_AREAS)
    assert payload["items"][0]["title"] == "Model card" and payload["items"][0]["status"] == "pass"
    assert payload["summary"]["ready"] is False
    # No config: no endpoint (rollback), no alert rules (monitoring), no retention (logging); serving without
    # an endpoint is "not configured" (pending), never a stored fail the console would contradict.
    assert set(payload["summary"]["failing"]) == {"benchmarks", "rollback", "monitoring", "logging"}
    assert payload["summary"]["passed_or_waived"] == 3 and payload["summary"]["total"] == 8


def test_unknown_model_is_one_line_and_exit_2(store_path: Path):
    build_store(store_path, ready=True)
    code, out, err = run("--db", str(store_path), "check", "fruad")
    assert code == 2 and out == ""
    assert err == "modeldeck: error: unknown model 'fruad'; did you mean fraud?\n"
    code, _, err = run("--db", str(store_path), "report", "fruad")
    assert code == 2 and err.count("\n") == 1


def test_a_missing_store_is_an_error_and_is_not_created(tmp_path: Path):
    missing = tmp_path / "typo.db"
    code, _, err = run("--db", str(missing), "check", "fraud")
    assert code == 2 and err == f"modeldeck: error: {missing}: no such store\n"
    assert not missing.exists()


def test_report_writes_markdown_with_score_areas_signoffs_and_audit(tmp_path: Path, store_path: Path):
    build_store(store_path, ready=False)
    target = tmp_path / "out" / "fraud-readiness.md"
    code, _, err = run("--db", str(store_path), "report", "fraud", "--output", str(target))
    assert code == 0 and f"wrote {target}" in err
    text = target.read_text()
    assert text.startswith("# Readiness report: fraud\n")
    assert "| Active version | v2 (champion) |" in text
    assert "| Score | 3/8 passed or waived: **not ready** |" in text
    assert all(f"| {title} |" in text for title in READINESS_AREAS.values())
    assert "| engineering | yes | engineering@ci |" in text
    assert "checklist.sign\\_off" in text  # the audit rows, escaped for Markdown
    assert not list(target.parent.glob(".*"))  # no temporary file left behind


def test_report_to_stdout(store_path: Path):
    build_store(store_path, ready=True)
    code, out, _ = run("--db", str(store_path), "report", "fraud", "--no-probe")
    assert code == 0 and out.startswith("# Readiness report: fraud\n") and "## Recent audit entries" in out
