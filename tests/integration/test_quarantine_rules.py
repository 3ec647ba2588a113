"""Quarantined lines as an operator meets them (issues 12 and 15): redacted of the secrets the config knows,
naming the model they were for, counted by a ``quarantine_rate`` rule per model and per source; and
``[ingest] allow_swapped_link`` reaching the follower ``modeldeck watch`` runs.

Real parts: SQLite files, the real ``modeldeck ingest`` (CliRunner) and the watch pass, real symlinks.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from app.alerts.rules import evaluate
from app.cli.main import main
from app.config.settings import AlertRule, load_settings
from app.ingest.run import ingest
from app.store import Store
from app.timeutil import ms_to_iso, now_ms
from tests.integration.test_ingest import isolated, jsonl, record  # noqa: F401 (the fixture)

TOKEN = "tok-9f3c1d7e52ab-quarantine"  # unique to this module: the process-wide secret set keeps it


def _quarantine(db: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT raw, error, model FROM quarantine ORDER BY line_no").fetchall()


def test_a_token_the_config_knows_is_redacted_from_quarantined_lines_and_the_rest_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAUD_TOKEN", TOKEN)
    config = tmp_path / "modeldeck.toml"
    config.write_text('[models.fraud.endpoint]\nkind = "http"\nurl = "http://127.0.0.1:9/models/fraud"\n'
                      'token_env = "FRAUD_TOKEN"\n')
    # A serving proxy that logs the request headers, and a bad timestamp: the line goes to quarantine,
    # and the token must not go with it (its error message quotes the value too).
    leaky = record(1, ts=f"Bearer {TOKEN}", context={"authorization": f"Bearer {TOKEN}", "route": "/score"})
    log = tmp_path / "day.jsonl"
    log.write_bytes(jsonl(record(0), leaky))
    db = tmp_path / "q.db"
    result = CliRunner().invoke(main, ["--config", str(config), "--db", str(db), "ingest", str(log)])
    assert result.exit_code == 0, result.output
    [(raw, error, model)] = _quarantine(db)
    assert TOKEN not in raw and TOKEN not in error
    assert raw.count("[redacted]") == 2 and '"route":"/score"' in raw and '"request_id":"req-1"' in raw
    assert error.startswith("ts:") and model == "fraud"
    # The operator's view of it says the same.
    listed = CliRunner().invoke(main, ["--db", str(db), "quarantine", "--format", "jsonl"])
    assert TOKEN not in listed.stdout and "[redacted]" in listed.stdout
    assert orjson.loads(listed.stdout)["model"] == "fraud"


def test_postgresql_ingest_redacts_a_known_token_from_quarantined_lines_too(tmp_path, monkeypatch, pg_url: str):
    monkeypatch.setenv("FRAUD_TOKEN", TOKEN)
    config = tmp_path / "modeldeck.toml"
    config.write_text('[models.fraud.endpoint]\nkind = "http"\nurl = "http://127.0.0.1:9/models/fraud"\n'
                      'token_env = "FRAUD_TOKEN"\n')
    leaky = record(1, ts=f"Bearer {TOKEN}", context={"authorization": f"Bearer {TOKEN}"})
    log = tmp_path / "day.jsonl"
    log.write_bytes(jsonl(record(0), leaky))
    result = CliRunner().invoke(main, ["--config", str(config), "--db", pg_url, "ingest", str(log)])
    assert result.exit_code == 0, result.output
    with Store.open(pg_url) as store:
        [line] = store.quarantine.lines()
    assert TOKEN not in line.raw and TOKEN not in line.error and line.raw.count("[redacted]") == 2


def test_a_quarantined_line_names_its_model_when_it_got_that_far(tmp_path):
    log = tmp_path / "mixed.jsonl"
    log.write_bytes(jsonl(b"{not json", record(1, score="high"), record(2, model="churn", ts="yesterday"),
                          {"model": ["not", "a", "name"], "ts": 1}))
    with Store.open(tmp_path / "q.db") as store:
        ingest(store, [str(log)])
        assert [line.model for line in reversed(store.quarantine.lines())] == [None, "fraud", "churn", None]
    other = tmp_path / "given.jsonl"
    other.write_bytes(jsonl(b"{not json", record(3, model="", score="x")))
    with Store.open(tmp_path / "given.db") as store:
        ingest(store, [str(other)], model="router")  # --model names the model of every line of the file
        assert [line.model for line in store.quarantine.lines()] == ["router", "router"]


def _rules(**rule: object) -> list[AlertRule]:
    return [AlertRule.model_validate({"metric": "quarantine_rate", "threshold": 0.1, "window": "15m",
                                      "owner": "ingest-oncall", **rule})]


def test_quarantine_rate_fires_per_model_and_per_source(tmp_path):
    now = now_ms()
    at = ms_to_iso(now - 60_000)  # written a minute ago, ingested now: a followed log
    fraud_log, churn_log = tmp_path / "fraud.jsonl", tmp_path / "churn.jsonl"
    # fraud: 16 good lines, 4 refused that name fraud: 20% of its lines.
    fraud_log.write_bytes(jsonl(*(record(i, ts=at) for i in range(16)),
                                *(record(100 + i, ts=at, score="high") for i in range(4))))
    # churn: 19 good lines and one too broken to name any model: only its source tells whose it is.
    churn_log.write_bytes(jsonl(*(record(i, ts=at, model="churn") for i in range(19)), b'{"model": "churn", '))
    with Store.open(tmp_path / "q.db") as store:
        ingest(store, [str(fraud_log), str(churn_log)])
        now = now_ms() + 1  # judged just after the ingest
        fired = evaluate(store, "fraud", _rules(), now=now)
        assert [(t.state, t.alert.rule, round(t.alert.value, 3)) for t in fired] == [("firing", "quarantine_rate", 0.2)]
        assert fired[0].alert.owner == "ingest-oncall"
        # By model alone, churn lost nothing it can be blamed for; by its source, it lost 1 line in 20.
        assert evaluate(store, "churn", _rules(), now=now) == []
        by_source = evaluate(store, "churn", _rules(source=str(tmp_path / "churn*.jsonl"), threshold=0.05), now=now)
        assert [(t.state, round(t.alert.value, 3)) for t in by_source] == [("firing", 0.05)]
        # Another source's bad lines are not churn's.
        assert evaluate(store, "churn", _rules(source=str(tmp_path / "other*.jsonl"), threshold=0.01, name="q2"),
                        now=now) == []
        # Once the window has moved past them, the rate is judged on what arrives next: clean traffic resolves it.
        later = now + 20 * 60_000
        clean = tmp_path / "fraud-2.jsonl"
        clean.write_bytes(jsonl(*(record(200 + i, ts=ms_to_iso(later - 60_000)) for i in range(10))))
        ingest(store, [str(clean)])
        resolved = evaluate(store, "fraud", _rules(), now=later)
        assert [(t.state, t.alert.rule) for t in resolved] == [("resolved", "quarantine_rate")]


def test_a_source_glob_belongs_to_quarantine_rate_only():
    with pytest.raises(ValueError, match="source"):
        AlertRule.model_validate({"metric": "error_rate", "threshold": 0.1, "source": "/logs/*.jsonl"})


@pytest.mark.parametrize("allowed", [False, True])
def test_allow_swapped_link_in_the_config_reaches_the_watch_follower(tmp_path, allowed):
    from app.watch.loop import Watcher

    at = ms_to_iso(now_ms() - 60_000)
    blue, green, link = tmp_path / "blue.jsonl", tmp_path / "green.jsonl", tmp_path / "current.jsonl"
    blue.write_bytes(jsonl(record(1, ts=at)))
    green.write_bytes(jsonl(record(2, ts=at), record(3, ts=at)))
    link.symlink_to(blue)
    config = tmp_path / "modeldeck.toml"
    config.write_text(f"[watch]\nfollow = [{orjson.dumps(str(link)).decode()}]\n"
                      + ("[ingest]\nallow_swapped_link = true\n" if allowed else ""))
    settings = load_settings(config)
    assert settings.ingest.allow_swapped_link is allowed
    notes: list[str] = []
    watcher = Watcher(settings, tmp_path / "w.db", note=notes.append)
    try:
        assert watcher.run_pass().lines == 1
        link.unlink()
        link.symlink_to(green)  # a blue/green deployment flips the `current` link
        lines = watcher.run_pass().lines + watcher.run_pass().lines
    finally:
        watcher.close()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        stored = sorted(r[0] for r in conn.execute("SELECT request_id FROM predictions"))
    if allowed:
        assert lines == 2 and stored == ["req-1", "req-2", "req-3"]
    else:
        assert lines == 0 and stored == ["req-1"]
        assert any("now points to" in note and "not followed" in note for note in notes)


def test_a_notify_token_and_signing_key_are_secrets_too(monkeypatch):
    from app.config.settings import NotifyConfig
    from app.text import clean

    monkeypatch.setenv("HOOK_TOKEN", "hook-token-5e1f0c")
    monkeypatch.setenv("HOOK_KEY", "hook-hmac-key-77aa")
    NotifyConfig(kind="webhook", url="http://127.0.0.1:9/hook", token_env="HOOK_TOKEN", secret_env="HOOK_KEY")
    assert clean("echo: hook-token-5e1f0c / hook-hmac-key-77aa") == "echo: [redacted] / [redacted]"
    assert os.environ["HOOK_TOKEN"] == "hook-token-5e1f0c"  # read, never changed


def test_watch_follows_a_log_and_fires_quarantine_rate_for_its_source(tmp_path):
    """The whole path an operator relies on: `watch` follows the log, bad lines go to quarantine with their
    source, and the rule on that source fires in the same pass."""
    from app.watch.loop import Watcher

    at = ms_to_iso(now_ms() - 60_000)
    log = tmp_path / "serving" / "router.jsonl"
    log.parent.mkdir()
    log.write_bytes(jsonl(*(record(i, ts=at, model="router") for i in range(30)), *([b"{truncated by a crash"] * 5)))
    config = tmp_path / "modeldeck.toml"
    config.write_text(f"[watch]\nfollow = [{orjson.dumps(str(log.parent / '*.jsonl')).decode()}]\n"
                      "[[models.router.alerts]]\nmetric = \"quarantine_rate\"\nwindow = \"1h\"\nthreshold = 0.1\n"
                      f"source = {orjson.dumps(str(log.parent / '*.jsonl')).decode()}\nowner = \"ingest-oncall\"\n")
    watcher = Watcher(load_settings(config), tmp_path / "w.db")
    try:
        report = watcher.run_pass()
    finally:
        watcher.close()
    assert report.lines == 35 and report.errors == []
    assert [line for line in report.transitions if "quarantine_rate" in line] == [
        "firing: router quarantine_rate value 0.1429 (threshold 0.1) warning, owner ingest-oncall"]
