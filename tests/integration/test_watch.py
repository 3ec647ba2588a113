"""``modeldeck watch``: followed logs, rules, delivery to a real Alertmanager and a signed webhook, /metrics
scraped and parsed with prometheus_client's parser, SIGTERM, and kill -9 + restart losing and doubling nothing.

Real parts only: SQLite files, Debian's prometheus-alertmanager, an http.server webhook receiver on
loopback, the watch process itself (the kill tests run it as a subprocess).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.alerts.rules import acknowledge_model
from app.config.settings import load_settings
from app.store import Store
from app.timeutil import now_ms
from tests.support import servers

CLI = [sys.executable, "-c", "from app.cli.main import main; main()"]
SECRET = "s3cret-for-tests"
RUNBOOK = "https://runbooks.example/router-errors"


class Receiver:
    """A loopback webhook receiver that keeps every body with its headers (and can fail on purpose)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[dict, dict[str, str], bytes]] = []
        self.fail_next = 0
        self.lock = threading.Lock()

    def handler(self) -> type:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= failing
                    if not failing:
                        receiver.bodies.append((json.loads(raw), dict(self.headers), raw))
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


def line(i: int, ts: int, *, error: bool) -> bytes:
    return orjson.dumps({"ts": ts, "model": "router", "version": "r7", "request_id": f"q{i}", "latency_ms": 12.5,
                         "status": "error" if error else "ok"}) + b"\n"


def write_config(tmp: Path, *, logs: str, notify: list[str], interval_s: float = 0.2, db: str | None = None) -> Path:
    config = tmp / "modeldeck.toml"
    config.write_text(f"""
db = "{db or tmp / 'watch.db'}"
[watch]
follow = ["{logs}"]
interval_s = {interval_s}
listen = "127.0.0.1:0"

[models.router]
owner = "ops"
[[models.router.alerts]]
metric = "error_rate"
threshold = 0.2
window = "1h"
severity = "critical"
runbook = "{RUNBOOK}"
""" + "\n".join(notify))
    return config


def webhook_notify(url: str) -> str:
    return f"""
[[notify]]
kind = "webhook"
url = "{url}/hook"
name = "pipeline"
secret_env = "MODELDECK_TEST_HOOK_SECRET"
backoff_s = 0.01
"""


@pytest.fixture
def receiver():
    receiver = Receiver()
    with servers.loopback_http(receiver.handler()) as url:
        receiver.url = url
        yield receiver


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("MODELDECK_TEST_HOOK_SECRET", SECRET)


def test_a_firing_rule_reaches_the_webhook_signed_once_and_its_resolution_follows(tmp_path, receiver, secret_env,
                                                                                   any_store_location):
    """On both backends: the store is a SQLite file or a real PostgreSQL (the config's db)."""
    from app.watch.loop import Watcher

    now = now_ms()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "router-1.jsonl").write_bytes(b"".join(line(i, now - 60_000 + i, error=i % 2 == 0) for i in range(40)))
    settings = load_settings(write_config(tmp_path, logs=f"{logs}/*.jsonl", notify=[webhook_notify(receiver.url)],
                                          db=any_store_location))
    receiver.fail_next = 1  # the first try fails: retried on the next pass, recorded both times
    watcher = Watcher(settings, settings.db)
    try:
        first = watcher.run_pass()
        assert first.errors == [] and first.lines == 40
        assert [t.split(":")[0] for t in first.transitions] == ["firing"]
        assert "failed (attempt 1/5)" in first.deliveries[0] and receiver.bodies == []
        time.sleep(0.05)  # the backoff (0.01 s) passes
        watcher.run_pass()
        watcher.run_pass()  # nothing new: nothing sent again
        assert len(receiver.bodies) == 1
        body, headers, raw = receiver.bodies[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Modeldeck-Signature"] == expected
        assert body["event"] == "firing" and body["alert"]["model"] == "router"
        assert body["alert"]["version"] == "r7" and body["alert"]["owner"] == "ops"
        assert body["alert"]["severity"] == "critical" and body["alert"]["runbook_url"] == RUNBOOK
        assert headers["X-Modeldeck-Delivery"] == str(body["delivery_id"])

        # A second file matching the glob appears with healthy traffic: the error rate falls, the alert resolves.
        (logs / "router-2.jsonl").write_bytes(b"".join(line(100 + i, now - 30_000 + i, error=False)
                                                       for i in range(200)))
        resolved = watcher.run_pass()
        assert resolved.lines == 200 and [t.split(":")[0] for t in resolved.transitions] == ["resolved"]
        assert [b[0]["event"] for b in receiver.bodies] == ["firing", "resolved"]
        with Store.open(settings.db) as store:
            rows = store.deliveries.recent("router")
        assert [(d.event, d.status, d.attempts) for d in rows] == [("resolved", "delivered", 1),
                                                                    ("firing", "delivered", 2)]
    finally:
        watcher.close()


def test_an_acknowledged_alert_is_not_notified(tmp_path, receiver, secret_env):
    from app.watch.loop import Watcher

    now = now_ms()
    (tmp_path / "router.jsonl").write_bytes(b"".join(line(i, now - 60_000 + i, error=True) for i in range(10)))
    config = write_config(tmp_path, logs=str(tmp_path / "router.jsonl"), notify=[webhook_notify(receiver.url)])
    settings = load_settings(config)
    receiver.fail_next = 1  # the first notice fails; the operator acknowledges before the retry
    watcher = Watcher(settings, settings.db)
    try:
        watcher.run_pass()
        with Store.open(settings.db) as store:
            assert [a.rule for a in acknowledge_model(store, "router", "alice@host")] == ["error_rate"]
        time.sleep(0.05)
        watcher.run_pass()
        assert receiver.bodies == []
        with Store.open(settings.db) as store:
            [delivery] = store.deliveries.recent("router")
        assert (delivery.status, delivery.last_error) == ("dropped", "acknowledged by alice@host")
    finally:
        watcher.close()


def test_unsigned_is_refused_when_the_secret_is_missing(tmp_path, receiver, monkeypatch):
    from app.watch.loop import Watcher

    monkeypatch.delenv("MODELDECK_TEST_HOOK_SECRET", raising=False)
    now = now_ms()
    (tmp_path / "router.jsonl").write_bytes(b"".join(line(i, now - 60_000 + i, error=True) for i in range(10)))
    settings = load_settings(write_config(tmp_path, logs=str(tmp_path / "router.jsonl"),
                                          notify=[webhook_notify(receiver.url)]))
    watcher = Watcher(settings, settings.db)
    try:
        report = watcher.run_pass()
    finally:
        watcher.close()
    assert receiver.bodies == []
    assert "$MODELDECK_TEST_HOOK_SECRET is not set: not sending unsigned" in report.deliveries[0]


# --- a real Alertmanager ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    if servers.ALERTMANAGER_MISSING:
        pytest.skip(servers.ALERTMANAGER_MISSING)
    with servers.alertmanager_server(tmp_path_factory.mktemp("alertmanager")) as server:
        yield server


def test_alertmanager_receives_the_alert_with_its_labels_and_runbook_then_its_resolution(tmp_path, alertmanager):
    now = now_ms()
    log = tmp_path / "router.jsonl"
    log.write_bytes(b"".join(line(i, now - 60_000 + i, error=True) for i in range(10)))
    config = write_config(tmp_path, logs=str(log), notify=[f"""
[[notify]]
kind = "alertmanager"
url = "{alertmanager.url}"
severities = ["critical"]
"""])
    done = subprocess.run([*CLI, "--config", str(config), "watch", "--once"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "delivered #1 firing router error_rate (critical, owner ops)" in done.stderr
    [held] = [a for a in alertmanager.alerts() if a["labels"].get("model") == "router"]
    assert held["labels"] == {"alertname": "error_rate", "model": "router", "version": "r7",
                              "severity": "critical", "owner": "ops"}
    assert held["annotations"]["runbook_url"] == RUNBOOK
    assert held["status"]["state"] == "active"

    with log.open("ab") as handle:  # healthy traffic: resolved, and Alertmanager told so
        handle.write(b"".join(line(100 + i, now - 30_000 + i, error=False) for i in range(100)))
    done = subprocess.run([*CLI, "--config", str(config), "watch", "--once"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "delivered #2 resolved router error_rate" in done.stderr
    still = [a for a in alertmanager.alerts() if a["labels"].get("model") == "router"
             and a["status"]["state"] == "active" and a["endsAt"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())]
    assert still == []


# --- the process: /metrics, /healthz, SIGTERM, kill -9 ---------------------------------------------------

def _port_of(proc: subprocess.Popen, log: Path) -> int:
    servers.wait_until(lambda: "serving /metrics" in log.read_text(), timeout_s=60, what="watch", proc=proc,
                       log=log)
    text = log.read_text()
    return int(text.split("http://127.0.0.1:")[1].split(";")[0])


def test_metrics_scrape_parses_and_sigterm_stops_cleanly(tmp_path, receiver):
    now = now_ms()
    log = tmp_path / "router.jsonl"
    log.write_bytes(b"".join(line(i, now - 60_000 + i, error=i % 2 == 0) for i in range(40)))
    config = write_config(tmp_path, logs=str(log), notify=[webhook_notify(receiver.url)])
    out = tmp_path / "watch.log"
    proc = servers.spawn([*CLI, "--config", str(config), "watch"], log=out,
                         env={"MODELDECK_TEST_HOOK_SECRET": SECRET})
    try:
        port = _port_of(proc, out)

        def passes() -> float:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                        if s.name == "modeldeck_watch_passes_total")

        servers.wait_until(lambda: passes() >= 2, timeout_s=60, what="two passes", proc=proc, log=out)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in families.values() for s in f.samples}
        assert samples[("modeldeck_model_error_rate", (("model", "router"), ("version", "r7")))] == 0.5
        assert samples[("modeldeck_model_requests_last_hour", (("model", "router"), ("version", "r7")))] == 40
        assert samples[("modeldeck_model_latency_p95_ms", (("model", "router"), ("version", "r7")))] == 12.5
        assert samples[("modeldeck_alerts_firing", (("model", "router"), ("severity", "critical")))] == 1
        assert samples[("modeldeck_notify_delivered_total", (("target", "pipeline"),))] == 1
        assert samples[("modeldeck_watch_follow_lag_bytes", (("file", str(log)),))] == 0
        assert samples[("modeldeck_watch_last_pass_timestamp_seconds", ())] > time.time() - 60
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        assert health.status_code == 200 and health.json()["ok"] and health.json()["delivery_failures"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopped" in out.read_text()
    finally:
        servers.stop_pid(proc.pid)


def _counts(db: Path) -> tuple[int, int, int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return (conn.execute("SELECT count(*) FROM predictions").fetchone()[0],
                conn.execute("SELECT count(*) FROM quarantine").fetchone()[0],
                conn.execute("SELECT count(*) FROM alerts").fetchone()[0],
                conn.execute("SELECT count(*) FROM deliveries WHERE status = 'delivered'").fetchone()[0])


def test_kill_9_mid_pass_and_restart_loses_and_doubles_nothing(tmp_path, receiver):
    """A big log read in a pass; the process is killed with SIGKILL while rows are being committed, then
    restarted: every line is stored once (quarantined lines too, which no unique index would catch), the
    alert fired once and the webhook got one notice for it."""
    now = now_ms()
    log = tmp_path / "router.jsonl"
    lines = 150_000
    bad_every = 1000
    with log.open("wb") as handle:
        for i in range(lines):
            handle.write(b"{not json\n" if i % bad_every == 0 else line(i, now - 600_000 + i % 500_000, error=i % 3 == 0))
    config = write_config(tmp_path, logs=str(log), notify=[webhook_notify(receiver.url)])
    db = tmp_path / "watch.db"
    out = tmp_path / "watch.log"
    env = {"MODELDECK_TEST_HOOK_SECRET": SECRET}
    proc = servers.spawn([*CLI, "--config", str(config), "watch"], log=out, env=env)

    def stored() -> int:
        try:
            return _counts(db)[0]
        except sqlite3.OperationalError:  # the file exists, its tables not yet (the store is being created)
            return 0

    try:
        servers.wait_until(lambda: db.exists() and 0 < stored() < lines - lines // bad_every, timeout_s=120,
                           what="a pass part-way through the log", proc=proc, log=out)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        servers.stop_pid(proc.pid)
    killed_at = _counts(db)
    assert killed_at[0] < lines - lines // bad_every  # really killed mid-read
    for _ in range(2):  # restart (twice: a second run must add nothing either)
        done = subprocess.run([*CLI, "--config", str(config), "watch", "--once"], capture_output=True, text=True,
                              timeout=300, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
    predictions, quarantined, alerts, delivered = _counts(db)
    assert (predictions, quarantined) == (lines - lines // bad_every, lines // bad_every)
    assert (alerts, delivered) == (1, 1)
    assert [b[0]["event"] for b in receiver.bodies] == ["firing"]


def test_metrics_carry_drift_per_feature_and_version_from_the_windows_a_pass_computed(any_store_location):
    """The pass computes the closed drift windows (refresh_model) and /metrics shows the verdict window, on
    both backends."""
    store_path = any_store_location
    from app.watch.exposition import ExpositionServer
    from app.watch.loop import Watcher
    from tests.integration.test_monitor import NOW, SETTINGS, drifted_store

    drifted_store(store_path)
    watcher = Watcher(SETTINGS, store_path, clock=lambda: NOW)
    server = ExpositionServer("127.0.0.1:0", lambda: watcher.snapshot, 1.0).start()
    try:
        report = watcher.run_pass()
        assert report.windows == 2 and report.errors == []
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=2).text
    finally:
        server.stop()
        watcher.close()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    amount = (("feature", "amount"), ("model", "fraud"), ("version", "v1"))
    assert samples[("modeldeck_feature_drift_detected", amount)] == 1
    [value] = [v for (name, labels), v in samples.items() if name == "modeldeck_feature_drift_value"
               and ("feature", "amount") in labels]
    assert value >= 0.1  # Wasserstein / reference std, at or over Evidently's threshold
    assert samples[("modeldeck_alerts_firing", (("model", "fraud"), ("severity", "critical")))] == 1


def test_slack_gets_incoming_webhook_text_with_names_kept_as_text(tmp_path, receiver):
    from app.watch.loop import Watcher

    now = now_ms()
    (tmp_path / "router.jsonl").write_bytes(b"".join(line(i, now - 60_000 + i, error=True) for i in range(10)))
    config = write_config(tmp_path, logs=str(tmp_path / "router.jsonl"), notify=[f"""
[[notify]]
kind = "slack"
url = "{receiver.url}/services/T0/B0/x"
owners = ["ops"]
[[notify]]
kind = "webhook"
url = "{receiver.url}/other-team"
owners = ["payments"]
"""]).read_text().replace('owner = "ops"', 'owner = "ops"', 1)
    (tmp_path / "modeldeck.toml").write_text(config.replace('runbook = "https://runbooks.example/router-errors"',
                                                            'runbook = "<!channel> see https://x"'))
    settings = load_settings(tmp_path / "modeldeck.toml")
    watcher = Watcher(settings, settings.db)
    try:
        watcher.run_pass()
    finally:
        watcher.close()
    [(body, headers, raw)] = receiver.bodies  # routed by owner: ops's Slack, not payments' webhook
    assert set(body) == {"text"}
    assert body["text"].startswith("[CRITICAL] router r7: error_rate is 1 (threshold 0.2)")
    assert "owner: ops" in body["text"] and "&lt;!channel&gt; see https://x" in body["text"]


def test_a_schedule_rule_triggers_an_airflow_dag_run_every_30_days(tmp_path, receiver):
    from app.checklist.evaluate import evaluate
    from app.models import ModelInfo, Stage, Version
    from app.watch.loop import Watcher

    day = 86_400_000
    now = now_ms()
    config = tmp_path / "modeldeck.toml"
    config.write_text(f"""
db = "{tmp_path / 'watch.db'}"
[models.fraud]
owner = "risk-ml"
[[models.fraud.alerts]]
metric = "schedule"
every = "30d"
name = "retrain"
severity = "info"
[[notify]]
kind = "webhook"
name = "retrain-fraud"
url = "{receiver.url}/api/v1/dags/retrain_fraud/dagRuns"
wrap = "airflow"
models = ["fraud"]
""")
    settings = load_settings(config)
    with Store.open(settings.db) as store:
        store.registry.upsert_model(ModelInfo(name="fraud", owner="risk-ml", created_at=now - 90 * day))
        store.registry.upsert_version(Version(model="fraud", version="v3", stage=Stage.champion,
                                              created_at=now - 20 * day))
    clock = [now]
    watcher = Watcher(settings, settings.db, clock=lambda: clock[0])
    try:
        assert watcher.run_pass().transitions == []  # the champion is 20 days old: not due
        clock[0] = now + 11 * day
        assert watcher.run_pass().transitions == ["scheduled: fraud retrain info, owner risk-ml"]
        watcher.run_pass()
        clock[0] = now + 20 * day  # 9 days after the notice: not due again
        watcher.run_pass()
        clock[0] = now + 42 * day
        watcher.run_pass()
    finally:
        watcher.close()
    assert [b[0]["dag_run_id"] for b in receiver.bodies] == ["modeldeck-1", "modeldeck-2"]
    conf = receiver.bodies[0][0]["conf"]
    assert (conf["event"], conf["alert"]["model"], conf["alert"]["rule"]) == ("schedule", "fraud", "retrain")
    with Store.open(settings.db) as store:
        monitoring = next(i for i in evaluate(store, "fraud", settings=settings, now=now) if i.area == "monitoring")
    assert "retraining trigger: retrain -> retrain-fraud" in monitoring.evidence


def test_a_dead_target_is_retried_with_backoff_and_the_queue_stays_bounded(tmp_path):
    """Three models fire; the webhook's port is closed. Each try is recorded; beyond queue_max the oldest
    waiting delivery is dropped (and says so); after max_attempts a delivery is failed for good."""
    from app.watch.loop import Watcher

    now = now_ms()
    dead = f"http://127.0.0.1:{servers.free_port()}"
    log = tmp_path / "all.jsonl"
    log.write_bytes(b"".join(orjson.dumps({"ts": now - 60_000 + i, "model": model, "version": "v1",
                                           "request_id": f"{model}{i}", "status": "error"}) + b"\n"
                             for model in ("m1", "m2", "m3") for i in range(5)))
    rules = "\n".join(f'[models.{m}]\nowner = "ops"\n[[models.{m}.alerts]]\nmetric = "error_rate"\nthreshold = 0.5\n'
                      for m in ("m1", "m2", "m3"))
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'db = "{tmp_path / "w.db"}"\n[watch]\nfollow = ["{log}"]\nqueue_max = 2\n{rules}\n'
                      f'[[notify]]\nkind = "webhook"\nurl = "{dead}"\nname = "dead"\nmax_attempts = 2\n'
                      'backoff_s = 60\ntimeout_s = 1\n')
    settings = load_settings(config)
    clock = [now]
    watcher = Watcher(settings, settings.db, clock=lambda: clock[0])
    try:
        first = watcher.run_pass()
        assert len(first.deliveries) == 2 and all("failed (attempt 1/2)" in line for line in first.deliveries)
        clock[0] = now + 30_000  # within the backoff: nothing tried
        assert watcher.run_pass().deliveries == []
        clock[0] = now + 61_000
        third = watcher.run_pass()
        assert len(third.deliveries) == 2 and all("failed (attempt 2/2)" in line for line in third.deliveries)
        assert watcher.snapshot.delivery_failures == {"dead": 3} and watcher.snapshot.delivery_queue == 0
    finally:
        watcher.close()
    with Store.open(settings.db) as store:
        outcomes = sorted((d.status, d.attempts, d.last_error.split(":")[0]) for m in ("m1", "m2", "m3")
                          for d in store.deliveries.recent(m))
    assert outcomes[0] == ("dropped", 0, "queue full")
    assert [o[:2] for o in outcomes[1:]] == [("failed", 2), ("failed", 2)]


def test_a_compressed_file_in_the_glob_is_reported_once_and_the_others_still_read(tmp_path):
    import gzip

    from app.watch.loop import Watcher

    now = now_ms()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "old.jsonl.gz").write_bytes(gzip.compress(line(0, now, error=False)))
    (logs / "new.jsonl").write_bytes(b"".join(line(i, now - 1000 + i, error=False) for i in range(1, 4)))
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'db = "{tmp_path / "w.db"}"\n[watch]\nfollow = ["{logs}/*"]\n')
    settings = load_settings(config)
    notes: list[str] = []
    watcher = Watcher(settings, settings.db, note=notes.append)
    try:
        assert watcher.run_pass().lines == 3
        watcher.run_pass()
        watcher.run_pass()
    finally:
        watcher.close()
    assert sum("cannot follow a compressed file" in note for note in notes) == 1
