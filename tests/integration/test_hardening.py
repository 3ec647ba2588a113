"""Hostile data, hostile endpoints and bad days (issue 12), on real store files, a real HTTP endpoint on
127.0.0.1 and the real CLI: each test reproduces a break found on main and checks it now holds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.config.settings import ModelConfig, Settings
from app.demo.endpoint import DemoModel, DemoState, start_demo_endpoint
from app.guard import ReadOnlyRefused
from app.models import Alert, ModelInfo, Stage, Version
from app.store import SCHEMA_VERSION, Store
from app.store.json_keys import names_sql, register

ESC = "\x1b"
CLIPBOARD = "\x1b]52;c;SE9TVElMRQ==\x07"  # OSC 52: write the operator's clipboard
LINK = "\x1b]8;;http://evil.example/\x07here\x1b]8;;\x07"  # OSC 8 hyperlink
CLEAR = "X\x1b[2JY"  # CSI: clear the screen
MARKUP = "[/][link=http://evil.example]x[/link][bold"
BIDI = "\u202egnp.exe\u200b"
HOSTILE = f"{CLIPBOARD}{LINK}{CLEAR}{MARKUP}{BIDI}"
MS = 1_795_514_400_123


def _cli(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


# --- 8. the audit cannot be rewritten --------------------------------------------------------------------


@pytest.mark.parametrize("statement", [
    "INSERT OR REPLACE INTO audit (id, ts, actor, action, detail) VALUES (?, 0, 'mallory', 'nothing', '{}')",
    "REPLACE INTO audit (id, ts, actor, action, detail) VALUES (?, 0, 'mallory', 'nothing', '{}')",
    "INSERT INTO audit (id, ts, actor, action, detail) VALUES (?, 0, 'mallory', 'nothing', '{}') "
    "ON CONFLICT (id) DO UPDATE SET action = 'nothing', actor = 'mallory'",
    "INSERT INTO audit (id, ts, actor, action, detail) VALUES (?, 0, 'mallory', 'nothing', '{}') "
    "ON CONFLICT DO NOTHING",  # harmless, but refused too: no insert may name an existing row
])
def test_replace_and_upsert_onto_an_audit_row_are_refused(store_path: Path, statement: str):
    with Store.open(store_path) as store:
        with store.write():
            audit_id = store.audit.append("rollback", "churn", outcome="succeeded", actor="alice")
    conn = sqlite3.connect(store_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement, (audit_id,))
        conn.commit()
        assert conn.execute("SELECT actor, action FROM audit").fetchall() == [("alice", "rollback")]
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (1, 'bob', 'note', '{}')")  # appends
    finally:
        conn.close()


def test_an_older_store_gets_the_refusal_by_migration(store_path: Path):
    Store(store_path, migrate_to=SCHEMA_VERSION - 1).close()
    with Store.open(store_path) as store:
        with store.write():
            audit_id = store.audit.append("rollback", "churn", outcome="succeeded", actor="alice")
    with sqlite3.connect(store_path) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("REPLACE INTO audit (id, ts, actor, action, detail) VALUES (?, 0, 'm', 'x', '{}')", (audit_id,))


# --- 2. poison records -----------------------------------------------------------------------------------


def _record(i: int, **fields) -> str:
    record = {"ts": MS + i, "model": "fraud", "version": "v1", "request_id": f"r{i}"}
    record.update(fields)
    return json.dumps(record)


def test_poison_lines_are_quarantined_and_search_still_works(tmp_path: Path, store_path: Path):
    log = tmp_path / "poison.jsonl"
    log.write_text("\n".join([
        _record(1),
        _record(2, ts=(MS + 2) * 1_000_000),  # Go's UnixNano: the same instant
        _record(3, ts=(MS + 3) * 1000),  # microseconds
        _record(4, ts=10**30),  # no calendar holds it
        _record(5, prediction=2**63, label=99999999999999999999999),  # beyond int64
        _record(6, features={"amount": 2**70}),
    ]) + "\n")
    result = _cli("--db", str(store_path), "ingest", str(log), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["accepted"], summary["quarantined"]) == (5, 1)
    conn = sqlite3.connect(store_path)
    register(conn)  # rows hold coded JSON keys: read the features as logged
    try:
        reasons = [r[0] for r in conn.execute("SELECT error FROM quarantine")]
        stored = dict(conn.execute("SELECT request_id, ts FROM predictions"))
        big = conn.execute("SELECT prediction, label FROM predictions WHERE request_id = 'r5'").fetchone()
        features = conn.execute(f"SELECT {names_sql('features')} FROM predictions WHERE request_id = 'r6'").fetchone()[0]
    finally:
        conn.close()
    assert len(reasons) == 1 and "outside 1970-2200" in reasons[0]
    assert stored["r2"] == MS + 2 and stored["r3"] == MS + 3
    assert big == (str(2**63), "99999999999999999999999")  # losslessly, as text
    assert json.loads(features) == {"amount": str(2**70)}
    found = _cli("--db", str(store_path), "search", "model:fraud")
    assert found.exit_code == 0 and found.output.count("fraud") == 5, found.output


# --- 3. version names are markup, created_at 1e300 --------------------------------------------------------


@pytest.fixture
def hostile_endpoint():
    versions = [{"version": "[/]", "created_at": 1e300}, {"version": HOSTILE, "created_at": 1e300},
                {"version": "v1", "created_at": MS}]
    state = DemoState({"churn": DemoModel("churn", versions, active="v1")})
    with start_demo_endpoint(state=state) as handle:
        yield handle


@pytest.fixture
def hostile_config(tmp_path: Path, hostile_endpoint) -> Path:
    path = tmp_path / "modeldeck.toml"
    path.write_text(f'[models.churn.endpoint]\nkind = "http"\nurl = "{hostile_endpoint.model_url("churn")}"\n')
    return path


def test_cli_rollback_prints_hostile_version_names_literally(store_path: Path, hostile_config: Path,
                                                              hostile_endpoint):
    result = _cli("--db", str(store_path), "--config", str(hostile_config), "rollback", "churn", "--to", HOSTILE,
                  "--reason", "regression", "--yes")
    assert result.exit_code == 0, result.output
    assert ESC not in result.output and "\u202e" not in result.output and "\x07" not in result.output
    assert "\\x1b]52;c;SE9TVElMRQ==\\x07" in result.output  # shown, as text
    assert hostile_endpoint.state.models["churn"].active == HOSTILE


def test_cli_disable_is_not_blocked_by_a_created_at_of_1e300(store_path: Path, hostile_config: Path,
                                                              hostile_endpoint):
    hostile_endpoint.state.models["churn"].active = "[/]"
    result = _cli("--db", str(store_path), "--config", str(hostile_config), "disable", "churn", "--reason", "stop",
                  "--yes")
    assert result.exit_code == 0, result.output
    assert "created ?" in result.output and ESC not in result.output
    assert hostile_endpoint.state.models["churn"].disabled


# --- 4. read-only refuses every write, at the action layer, audited ----------------------------------------


def _refusals(store_path: Path) -> list[tuple[str, str | None]]:
    with Store.open(store_path) as store:
        return [(e.action, e.outcome) for e in reversed(store.audit.entries())]


@pytest.mark.parametrize("settings", [Settings(read_only=True),
                                      Settings(models={"fraud": ModelConfig(read_only=True)})])
def test_read_only_refuses_sign_off_waive_reopen_pass_and_acknowledge(store_path: Path, settings: Settings):
    from app.alerts.rules import acknowledge_model
    from app.checklist import evaluate as checklist

    with Store.open(store_path) as store:
        with store.write():
            store.registry.upsert_model(ModelInfo(name="fraud"))
            store.registry.upsert_version(Version(model="fraud", version="v1", stage=Stage.champion, created_at=MS))
            store.alerts.add(Alert(model="fraud", rule="errors", severity="page", fired_at=MS))
        attempts = [
            lambda: acknowledge_model(store, "fraud", settings=settings),
            lambda: checklist.waive(store, "fraud", "monitoring", "we accept it", expires_in_ms=86_400_000,
                                    settings=settings),
            lambda: checklist.mark_passed(store, "fraud", "monitoring", "link", settings=settings),
            lambda: checklist.reopen(store, "fraud", "monitoring", settings=settings),
            lambda: checklist.sign_off(store, "fraud", "engineering", settings=settings),
        ]
        for attempt in attempts:  # the readiness changes go through their module's guard (issue 17)
            with pytest.raises((ReadOnlyRefused, checklist.ChangeRefused)):
                attempt()
        assert store.checklist.items("fraud") == [] and store.checklist.signoffs("fraud") == []
        assert [a.acked_by for a in store.alerts.firing("fraud")] == [None]
    refusals = _refusals(store_path)
    assert refusals[0] == ("alert.acknowledge", "refused") and len(refusals) == 5
    assert all(outcome == "refused" for _, outcome in refusals), refusals


def test_read_only_cli_baseline_is_refused_and_audited(tmp_path: Path, store_path: Path):
    data = tmp_path / "ref.csv"
    data.write_text("amount\n1\n2\n3\n")
    result = _cli("--db", str(store_path), "--read-only", "baseline", "fraud", str(data), "--version", "v1")
    assert result.exit_code == 1, result.output
    assert "refused" in result.output and "read-only" in result.output
    with Store.open(store_path) as store:
        assert store.baselines.for_version("fraud", "v1") == []
    assert _refusals(store_path) == [("baseline.create", "refused")]


# --- 5 and 7. hostile endpoints: huge answers, echoed tokens, secrets in URLs ----------------------------

TOKEN = "s3cr3t-token-0f-the-operator"


class _Hostile:
    """A real HTTP server on 127.0.0.1 that echoes the Authorization header and answers /big with
    ``big_bytes`` bytes (chunked: no Content-Length to refuse it by)."""

    def __init__(self, big_bytes: int = 5_000_000) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        big = big_bytes

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                echoed = self.headers.get("Authorization", "")
                if self.path.endswith("/big"):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        for _ in range(big // len(chunk)):
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:
                        pass  # the client stopped reading: what a cap does
                    return
                if self.path.endswith("/health"):
                    body = json.dumps({"status": "degraded", "reason": f"you sent {echoed}"}).encode()
                    status = 200
                else:
                    body = f"forbidden for {echoed}".encode()
                    status = 500
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/models/churn"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile_server():
    server = _Hostile()
    yield server
    server.stop()


def _adapter(url: str, **extra):  # type: ignore[no-untyped-def]
    from app.config.settings import EndpointConfig
    from app.endpoints import make_adapter

    return make_adapter("churn", EndpointConfig(kind="http", url=url, **extra))


def test_an_endpoint_answer_is_capped_and_health_says_why(hostile_server, monkeypatch):
    import asyncio

    from app.endpoints.protocol import EndpointError

    adapter = _adapter(hostile_server.url, max_body_bytes=1_000_000, timeout_s=10)

    async def read_big() -> str:
        try:
            await adapter.request("GET", f"{hostile_server.url}/big")
        except EndpointError as exc:
            return str(exc)
        finally:
            await adapter.aclose()
        return "read whole"

    assert "larger than 1,000,000 bytes" in asyncio.run(read_big())


def test_a_token_echoed_by_a_server_is_redacted_from_health_errors_and_the_audit(hostile_server, monkeypatch,
                                                                               store_path: Path):
    import asyncio

    from app.endpoints.protocol import EndpointError

    monkeypatch.setenv("CHURN_TOKEN", TOKEN)
    adapter = _adapter(hostile_server.url, token_env="CHURN_TOKEN")

    async def ask() -> tuple[str, str]:
        try:
            health = await adapter.health()
            try:
                await adapter.versions()
            except EndpointError as exc:
                return health.reason, str(exc)
        finally:
            await adapter.aclose()
        return health.reason, ""

    reason, error = asyncio.run(ask())
    assert "you sent Bearer [redacted]" in reason and TOKEN not in reason
    assert "HTTP 500" in error and "[redacted]" in error and TOKEN not in error
    with Store.open(store_path) as store, store.write():
        store.audit.append("rollback", "churn", detail={"error": error, "echo": f"Bearer {TOKEN}"}, outcome=TOKEN)
    raw = store_path.read_bytes() + (store_path.with_name(store_path.name + "-wal").read_bytes()
                                     if store_path.with_name(store_path.name + "-wal").exists() else b"")
    assert TOKEN.encode() not in raw


def test_userinfo_and_query_strings_never_reach_the_audit_or_the_screen(tmp_path: Path, store_path: Path, demo):
    url = demo.model_url("churn").replace("http://", "http://ops:hunter2pw@") + "?api_key=k3y-in-the-url"
    config = tmp_path / "modeldeck.toml"
    config.write_text(f'[models.churn.endpoint]\nkind = "http"\nurl = "{url}"\n')
    result = _cli("--db", str(store_path), "--config", str(config), "--read-only", "disable", "churn",
                  "--reason", "stop", "--yes")
    assert result.exit_code == 1, result.output
    assert "hunter2pw" not in result.output and "k3y-in-the-url" not in result.output
    with Store.open(store_path) as store:
        [entry] = store.audit.entries("churn")
    assert entry.outcome == "refused" and entry.detail["endpoint"]["url"].startswith("http://127.0.0.1:")
    assert "hunter2pw" not in json.dumps(entry.detail) and "k3y" not in json.dumps(entry.detail)


# --- 9. bad days: a damaged store, a full disk --------------------------------------------------------------


def test_ingest_refuses_to_write_into_a_damaged_store_with_one_line(tmp_path: Path, store_path: Path):
    log = tmp_path / "a.jsonl"
    log.write_text("\n".join(_record(i, features={"text": "x" * 400}) for i in range(2000)) + "\n")
    assert _cli("--db", str(store_path), "ingest", str(log)).exit_code == 0
    with sqlite3.connect(store_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'predictions'").fetchone()[0]
    data = bytearray(store_path.read_bytes())
    start = (root - 1) * page_size  # the table's root page: every read of it sees the damage
    data[start:start + 64] = b"\xff" * 64
    store_path.write_bytes(bytes(data))
    before = store_path.read_bytes()
    more = tmp_path / "b.jsonl"
    more.write_text(_record(9999) + "\n")
    result = CliRunner().invoke(main, ["--db", str(store_path), "ingest", str(more)])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modeldeck: error: ") and "damaged" in lines[0], lines
    assert "Traceback" not in result.stderr
    assert store_path.read_bytes() == before


def test_a_full_disk_is_one_line_and_rolls_back(store_path: Path):
    from app.store.connection import StoreFull, failure

    # SQLite's own page limit stands in for the disk: the same SQLITE_FULL a full disk gives.
    Store.open(store_path).close()
    conn = sqlite3.connect(store_path)
    try:
        conn.execute("PRAGMA max_page_count = %d" % conn.execute("PRAGMA page_count").fetchone()[0])
        with pytest.raises(sqlite3.OperationalError) as raised:
            conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (1, 'a', 'b', ?)", ("x" * 100_000,))
    finally:
        conn.close()
    failed = failure(raised.value, store_path)
    assert isinstance(failed, StoreFull) and "disk is full" in str(failed) and "\n" not in str(failed)


def test_a_poison_line_under_follow_is_quarantined_and_the_follower_goes_on(tmp_path: Path, store_path: Path):
    from tests.integration.test_ingest_follow import Follower, append, record, wait_for

    live = tmp_path / "live.jsonl"
    live.write_bytes(record(1))
    run = Follower(tmp_path, store_path, live)
    try:
        wait_for(store_path, (1, 0), run.proc)
        poison = (b'{"ts": 1795478400000000000000, "model": "fraud", "version": "v3", "request_id": "p1"}\n'
                  b'{"ts": 1795478400000, "model": "fraud", "version": "v3", "request_id": "p2", '
                  b'"prediction": 99999999999999999999999, "label": 9223372036854775808}\n')
        append(live, poison + record(2))
        wait_for(store_path, (3, 1), run.proc)  # the huge ts quarantined; big integers kept as text
        append(live, record(3))
        wait_for(store_path, (4, 1), run.proc)  # and it goes on
        summary = run.stop()
    finally:
        run.kill()
    assert (summary["accepted"], summary["quarantined"]) == (4, 1)
