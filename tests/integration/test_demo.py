"""The demo store (app/demo/) and ``modeldeck demo``: what an operator exploring the demo relies on.

One small store (100,000 rows, fixed clock) is built per module; the invariants hold at any size.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from app.checklist.areas import READINESS_AREAS
from app.cli.main import main
from app.demo.build import PREDICTION_FEATURE, build_demo_store, existing_demo
from app.models import Stage
from app.store import Store, StoreError
from app.store.json_keys import names_sql, register
from app.timeutil import now_ms

NOW_MS = 1_795_478_400_000  # 2026-11-24T00:00:00Z
DAY_MS = 86_400_000
ROWS = 100_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    summary = build_demo_store(path, rows=ROWS, now_ms=NOW_MS)
    return path, summary


def rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``sql``, where ``FEATURES`` reads the features as logged (rows hold coded keys)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        register(conn)
        return conn.execute(sql.replace("FEATURES", names_sql("features")), params).fetchall()


def test_models_each_have_a_champion_a_challenger_or_shadow_and_archived_versions(built):
    path, summary = built
    with Store.open(path) as store:
        models = store.registry.models()
        assert len(models) >= 4
        for info in models:
            stages = Counter(v.stage for v in store.registry.versions(info.name))
            assert stages[Stage.champion] == 1, info.name
            assert stages[Stage.challenger] + stages[Stage.shadow] >= 1, info.name
            assert stages[Stage.archived] >= 1, info.name
    assert {m.task for m in summary.models} >= {"classification", "regression"}


def test_thirty_days_of_traffic_for_every_model_and_only_registered_versions(built):
    path, summary = built
    assert rows(path, "SELECT count(*) FROM predictions") == [(ROWS,)] and summary.rows == ROWS
    (first, last), = rows(path, "SELECT min(ts), max(ts) FROM predictions")
    assert NOW_MS - 30 * DAY_MS <= first < NOW_MS - 29 * DAY_MS and NOW_MS - DAY_MS < last <= NOW_MS
    served = set(rows(path, "SELECT DISTINCT model, version FROM predictions"))
    registered = set(rows(path, "SELECT model, version FROM versions"))
    assert served <= registered
    assert {m for m, _ in served} == {m for m, _ in registered}
    per_day = rows(path, "SELECT count(DISTINCT ts / ?) FROM predictions", (DAY_MS,))
    assert per_day[0][0] >= 30  # traffic every day, not a burst


def test_features_are_numeric_and_categorical_with_latencies_errors_and_partial_labels(built):
    path, _ = built
    for model, features in rows(path, "SELECT model, FEATURES FROM predictions GROUP BY model"):
        values = orjson.loads(features).values()
        assert any(isinstance(v, str) for v in values), model
        assert any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), model
    (total, labelled, errors, with_message, min_latency), = rows(
        path, "SELECT count(*), count(label), sum(status = 'error'), sum(status = 'error' AND error <> ''), "
              "min(latency_ms) FROM predictions")
    assert 0 < labelled < total  # ground truth arrives for part of the traffic only
    assert 0 < errors < total * 0.05 and with_message == errors
    assert min_latency > 0


def test_drift_episodes_show_in_the_data(built):
    path, summary = built
    assert len(summary.drift_episodes) >= 2
    for episode in summary.drift_episodes:
        inside = [orjson.loads(f)[episode.feature] for (f,) in rows(
            path, "SELECT FEATURES FROM predictions WHERE model = ? AND ts BETWEEN ? AND ?",
            (episode.model, episode.start_ms, episode.end_ms))]
        before = [orjson.loads(f)[episode.feature] for (f,) in rows(
            path, "SELECT FEATURES FROM predictions WHERE model = ? AND ts BETWEEN ? AND ?",
            (episode.model, episode.start_ms - 7 * DAY_MS, episode.start_ms))]
        assert len(inside) > 500 and len(before) > 500
        if isinstance(inside[0], str):  # categorical: some category's share moves a lot
            shares = [Counter(side) for side in (inside, before)]
            shift = max(abs(shares[0][c] / len(inside) - shares[1][c] / len(before)) for c in shares[0] | shares[1])
            assert shift > 0.2, episode.description
        else:
            assert sum(inside) / len(inside) > 1.5 * sum(before) / len(before), episode.description


def test_the_incident_is_an_error_spike_on_one_version_followed_by_an_audited_rollback(built):
    path, summary = built
    incident = summary.incident
    (n, errors), = rows(path, "SELECT count(*), sum(status = 'error') FROM predictions "
                              "WHERE model = ? AND version = ? AND ts >= ? AND ts < ?",
                        (incident.model, incident.version, incident.start_ms, incident.end_ms))
    (n_other, errors_other), = rows(path, "SELECT count(*), sum(status = 'error') FROM predictions "
                                          "WHERE model = ? AND NOT (ts >= ? AND ts < ?)",
                                    (incident.model, incident.start_ms, incident.end_ms))
    assert n >= 10 and errors / n > 0.15 and errors_other / n_other < 0.02
    rollbacks = rows(path, "SELECT ts, detail FROM audit WHERE action = 'rollback' AND model = ?", (incident.model,))
    assert rollbacks and all(incident.start_ms <= ts <= incident.end_ms + DAY_MS for ts, _ in rollbacks)
    assert any(incident.rollback_to in detail for _, detail in rollbacks)


def test_baselines_cover_every_logged_feature_and_the_prediction_of_live_versions(built):
    path, _ = built
    with Store.open(path) as store:
        for info in store.registry.models():
            features = set(orjson.loads(rows(path, "SELECT FEATURES FROM predictions WHERE model = ? LIMIT 1",
                                             (info.name,))[0][0]))
            for version in store.registry.versions(info.name):
                if version.stage in (Stage.champion, Stage.challenger, Stage.shadow):
                    stored = {b.feature for b in store.baselines.for_version(info.name, version.version,
                                                                              with_sample=False)}
                    assert stored == features | {PREDICTION_FEATURE}, (info.name, version.version)


def test_cards_checklists_and_audit_history(built):
    path, summary = built
    with Store.open(path) as store:
        statuses = Counter()
        incomplete = set()
        for info in store.registry.models():
            items = {item.area: item for item in store.checklist.items(info.name)}
            assert set(items) == set(READINESS_AREAS)
            statuses.update(item.status.value for item in items.values())
            for version in store.registry.versions(info.name):
                assert version.card and len(version.card) >= 5 and version.metrics, version.version
                if not all(version.card.values()):
                    incomplete.add(info.name)
            if info.name in incomplete:  # the story's gap in a card shows on that model's checklist
                assert items["model_card"].status.value != "pass"
        assert len(incomplete) == 1  # one card deliberately left with empty sections, the others complete
        assert {"pass", "fail", "pending"} <= set(statuses)  # mixed states, not all green
        entries = store.audit.entries(limit=1000)
    actions = Counter(entry.action for entry in entries)
    assert len(entries) == summary.audit_entries and actions["rollback"] >= 1 and actions["demo.build"] == 1
    assert len({entry.actor for entry in entries}) >= 4  # several people, as in a real team


def test_same_seed_and_clock_give_the_same_store(tmp_path: Path):
    digests = []
    for name in ("a.db", "b.db"):
        build_demo_store(tmp_path / name, rows=3000, now_ms=NOW_MS, baseline_rows=500)
        digests.append(rows(tmp_path / name, "SELECT count(*), sum(ts), group_concat(request_id), "
                                              "group_concat(features) FROM predictions ORDER BY id"))
    assert digests[0] == digests[1]


def test_a_store_that_is_not_a_demo_is_never_overwritten(tmp_path: Path):
    real = tmp_path / "real.db"
    with Store.open(real) as store:
        store.audit.append("note", None, detail={"why": "an operator's own store"})
    before = real.read_bytes()
    with pytest.raises(StoreError, match="not a modeldeck demo store"):
        build_demo_store(real, rows=100, now_ms=NOW_MS)
    assert real.read_bytes() == before
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all\n" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite store"):
        existing_demo(junk)


# --- the command ----------------------------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config or store of the machine running the tests leaks in; returns the XDG data home."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in list(os.environ):
        if name.startswith("MODELDECK_"):
            monkeypatch.delenv(name)
    return tmp_path / "data"


def demo(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_no_tui_builds_prints_what_is_inside_and_reuses_it_next_time(tmp_path: Path, isolated: Path):
    path = tmp_path / "my-demo.db"
    first = demo("--db", str(path), "demo", "--rows", "3000", "--no-tui")
    assert first.exit_code == 0, first.output
    assert f"Built the demo store {path}" in first.stdout and "3,000 predictions over 30 days" in first.stdout
    assert "incident:" in first.stdout and first.stdout.count("drift:") == 2
    assert f"Open it with: modeldeck demo --db {path}" in first.stdout  # with its endpoint and live traffic
    assert rows(path, "SELECT count(*) FROM predictions") == [(3000,)]
    inode = path.stat().st_ino

    again = demo("--db", str(path), "demo", "--no-tui")
    assert again.exit_code == 0 and f"Reusing the demo store {path}" in again.stdout
    assert path.stat().st_ino == inode  # untouched

    rebuilt = demo("demo", "--db", str(path), "--rows", "2000", "--no-tui")  # --db after the command too (make demo)
    assert rebuilt.exit_code == 0 and "building one with --rows 2000" in rebuilt.stderr
    assert rows(path, "SELECT count(*) FROM predictions") == [(2000,)]
    assert not list(tmp_path.glob("*.building*"))


def test_a_demo_store_whose_traffic_ended_hours_ago_is_rebuilt_with_its_size_and_seed(tmp_path: Path,
                                                                                      isolated: Path):
    path = tmp_path / "old-demo.db"
    three_hours_ago = now_ms() - 3 * 3_600_000
    build_demo_store(path, rows=1500, seed=7, now_ms=three_hours_ago, baseline_rows=300)
    old_newest = rows(path, "SELECT max(ts) FROM predictions")[0][0]

    result = demo("--db", str(path), "demo", "--no-tui")
    assert result.exit_code == 0, result.output
    assert "traffic ended 3.0 h ago; building a fresh one" in result.stderr
    assert f"Built the demo store {path}" in result.stdout
    newest = rows(path, "SELECT max(ts) FROM predictions")[0][0]
    # The traffic now runs up to about now (1,500 rows over 30 days are sparse at night: compare
    # with the old store's newest row rather than a fixed margin, which depends on the hour).
    assert newest > old_newest + 2 * 3_600_000
    assert rows(path, "SELECT count(*) FROM predictions") == [(1500,)]
    assert existing_demo(path).seed == 7


def test_a_demo_store_kept_live_by_its_last_console_session_is_reused(tmp_path: Path, isolated: Path):
    from app.demo.live import LiveTraffic

    path = tmp_path / "live-demo.db"
    build_demo_store(path, rows=1500, seed=7, now_ms=now_ms() - 3 * 3_600_000, baseline_rows=300)
    with LiveTraffic(path, speed=2, tick_s=0.1) as live:  # fills the last hour first
        deadline = time.monotonic() + 20
        while live.rows_written == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert live.rows_written > 0 and live.error is None

    result = demo("--db", str(path), "demo", "--no-tui")
    assert result.exit_code == 0, result.output
    assert f"Reusing the demo store {path}" in result.stdout and "building a fresh one" not in result.stderr


def test_default_location_is_demo_db_in_the_data_dir_never_the_configured_store(tmp_path: Path, isolated: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    real = tmp_path / "real.db"
    monkeypatch.setenv("MODELDECK_DB", str(real))
    result = demo("demo", "--rows", "1000", "--no-tui")
    assert result.exit_code == 0, result.output
    assert (isolated / "modeldeck" / "demo.db").is_file()
    assert not real.exists()


def test_refuses_a_real_store_in_one_line(tmp_path: Path, isolated: Path):
    real = tmp_path / "real.db"
    with Store.open(real) as store:
        store.audit.append("note", None)
    result = demo("--db", str(real), "demo", "--rows", "100", "--no-tui", "--rebuild")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "refusing to overwrite it" in result.stderr
    assert rows(real, "SELECT action FROM audit") == [("note",)]


def test_opens_the_console_with_the_demo_endpoint_serving_every_model(tmp_path: Path, isolated: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    # The console needs a terminal (its own tests drive it with Pilot); here the seam is what the demo
    # hands it: the store, demo=True, and settings whose endpoints answer on 127.0.0.1 while it runs.
    seen: dict = {}

    def console(settings, db_path: Path | None = None, *, demo: bool = False) -> None:
        seen.update(db_path=db_path, demo=demo, urls={name: m.endpoint.url for name, m in settings.models.items()})
        # Live traffic runs beside the console (tests/integration/test_demo_live.py covers what it writes).
        seen["live"] = [t for t in threading.enumerate() if t.name == "modeldeck-demo-live"]
        for name, url in seen["urls"].items():
            assert url.startswith("http://127.0.0.1:")
            versions = httpx.get(f"{url}/versions", timeout=5).json()
            assert versions["model"] == name and versions["active"]

    monkeypatch.setattr("app.cli.tui.run_console", console)
    path = tmp_path / "demo.db"
    result = demo("--db", str(path), "demo", "--rows", "1000")
    assert result.exit_code == 0, result.output
    assert seen["db_path"] == path and seen["demo"] is True
    assert len(seen["urls"]) >= 4
    with pytest.raises(httpx.ConnectError):  # stopped when the console returned
        httpx.get(next(iter(seen["urls"].values())) + "/health", timeout=2)
    assert len(seen["live"]) == 1 and not seen["live"][0].is_alive()


def test_every_step_after_the_rows_is_announced_in_order(tmp_path: Path):
    # A bar at 100 % with a frozen clock for half a minute looked hung: each step says its name.
    steps: list[str] = []
    build_demo_store(tmp_path / "d.db", rows=3000, now_ms=NOW_MS, baseline_rows=500, phase=steps.append)
    assert steps == ["indexes and full-text search", "registry and drift baselines",
                     "readiness checklists and sign-offs", "alerts and the audit story", "writing the store to disk"]


def test_the_demo_command_names_each_step_when_not_on_a_terminal(tmp_path: Path):
    result = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "d.db"), "--rows", "50000", "--no-tui"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if line.startswith("modeldeck demo: ")]
    assert [line.split(": ", 1)[1].split("…")[0] for line in said] == [
        "writing 50,000 predictions", "indexes and full-text search", "registry and drift baselines",
        "readiness checklists and sign-offs", "alerts and the audit story", "writing the store to disk"]
