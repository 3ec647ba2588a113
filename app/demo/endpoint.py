"""A small serving endpoint that speaks modeldeck's ``http`` protocol (data/http-protocol.md).

It serves a set of models on 127.0.0.1 from in-memory state seeded from a store's versions, so the
whole demo, rollback included, works with no other server. Each model lives under its own base URL,
``<url>/models/<name>``. Requests, errors and latency are synthesised (Prometheus text).
Knobs (``Behaviour``) make a model slow, failing or garbage-answering, for tests and the poll benchmark.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

NOTIFY_PATH = "/notify"  # the demo's alert webhook receiver
NOTIFICATIONS_KEPT = 200
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class Behaviour:
    """How a model misbehaves: every request to it is delayed, fails, or answers garbage."""

    delay_s: float = 0.0
    status: int | None = None  # e.g. 500: every request answers this status
    garbage: bool = False
    activate_delay_s: float = 0.0  # a version switch takes effect this long after it was accepted


@dataclass
class DemoModel:
    name: str
    versions: list[dict[str, Any]]  # {"version", "created_at", "stage"}, newest first
    active: str | None
    disabled: bool = False
    behaviour: Behaviour = field(default_factory=Behaviour)
    rps: float = 5.0
    error_share: float = 0.01
    pending: tuple[float, str] | None = None  # (monotonic time it takes effect, version)
    latency_mu: float = -3.5  # request latency ~ lognormal(mu, sigma) seconds (median about 30 ms)
    latency_sigma: float = 0.6
    # True while the demo's live traffic (app.demo.live) reports what it serves: the counters then count
    # exactly the requests written to the log, instead of synthesised ones.
    fed: bool = False

    def __post_init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("modeldeck_requests", "Requests answered", ["model", "version", "status"],
                                registry=self.registry)
        self.latency = Histogram("modeldeck_request_latency_seconds", "Time to answer a request", ["model"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rng = random.Random(self.name)
        self.last_tick = time.monotonic()

    def settle(self) -> None:
        if self.pending and time.monotonic() >= self.pending[0]:
            self.active, self.disabled, self.pending = self.pending[1], False, None

    def tick(self) -> None:
        """Synthesize the traffic served since the last scrape (bounded work per scrape)."""
        now = time.monotonic()
        elapsed, self.last_tick = now - self.last_tick, now
        if self.fed or self.disabled or self.active is None:
            return
        count = min(int(elapsed * self.rps + self.rng.random()), 2000)
        errors = sum(1 for _ in range(count) if self.rng.random() < self.error_share)
        self.requests.labels(self.name, self.active, "ok").inc(count - errors)
        if errors:
            self.requests.labels(self.name, self.active, "error").inc(errors)
        for _ in range(count):
            self.latency.labels(self.name).observe(self.rng.lognormvariate(self.latency_mu, self.latency_sigma))

    def served(self, version: str, ok: int, errors: int, latencies_s: list[float]) -> None:
        """Count requests served elsewhere (the live traffic); the caller holds the state's lock."""
        if ok:
            self.requests.labels(self.name, version, "ok").inc(ok)
        if errors:
            self.requests.labels(self.name, version, "error").inc(errors)
        for seconds in latencies_s:
            self.latency.labels(self.name).observe(seconds)

    def metrics_text(self) -> bytes:
        from prometheus_client import generate_latest

        self.tick()
        return generate_latest(self.registry)

    def versions_doc(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "active": None if self.disabled else self.active,
            "disabled": self.disabled,
            "versions": [{"version": v["version"], "created_at": v.get("created_at"), "stage": v.get("stage"),
                          "ready": v["version"] == self.active and not self.disabled} for v in self.versions],
        }


def _like_the_log(model: DemoModel, store: Any) -> None:
    """Synthesised traffic shaped like the model's last logged hour, so the live figures the console
    shows (from /metrics) agree with the log-derived ones."""
    import math

    newest = store.predictions.latest_ts(model.name)
    if newest is None:
        return
    stats = store.predictions.window_stats(model.name, newest - 3_600_000, newest + 1)
    if stats.requests:
        model.rps = stats.requests / 3600.0
        model.error_share = stats.errors / stats.requests
    if stats.p95_latency_ms:
        model.latency_mu = math.log(stats.p95_latency_ms / 1000.0) - 1.645 * model.latency_sigma


class DemoState:
    """Every model the endpoint serves; one lock, since handler threads share it."""

    def __init__(self, models: dict[str, DemoModel]) -> None:
        self.models = models
        self.lock = threading.Lock()
        # Alert deliveries the demo config's [[notify]] webhook posted here (newest last, bounded).
        self.notifications: deque[Any] = deque(maxlen=NOTIFICATIONS_KEPT)

    @classmethod
    def from_store(cls, store_path: Path | str) -> "DemoState":
        from app.models import Stage
        from app.store import Store

        models: dict[str, DemoModel] = {}
        with Store.open(store_path) as store:
            for info in store.registry.models():
                versions = store.registry.versions(info.name)
                if not versions:
                    continue
                champion = next((v for v in versions if v.stage is Stage.champion), versions[0])
                model = DemoModel(
                    info.name,
                    [{"version": v.version, "created_at": v.created_at, "stage": v.stage.value} for v in versions],
                    active=champion.version,
                    rps=2.0 + (sum(map(ord, info.name)) % 9),
                )
                _like_the_log(model, store)
                models[info.name] = model
        return cls(models)

    @classmethod
    def synthetic(cls, names: list[str], versions: tuple[str, ...] = ("v1", "v2")) -> "DemoState":
        """Models without a store (the poll benchmark): each with ``versions``, the last one active."""
        return cls({name: DemoModel(name, [{"version": v} for v in reversed(versions)], active=versions[-1])
                    for name in names})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests and the TUI own stderr
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc).encode())

    def _route(self) -> tuple[DemoModel | None, str]:
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        if len(parts) >= 2 and parts[0] == "models":
            model = self.server.state.models.get(parts[1])
            return model, "/".join(parts[2:])
        return None, "/".join(parts)

    def _misbehave(self, model: DemoModel) -> bool:
        b = model.behaviour
        if b.delay_s:
            time.sleep(b.delay_s)
        if b.status is not None:
            self._json(b.status, {"error": "simulated failure"})
            return True
        if b.garbage:
            self._send(200, b"\x00\x1b[31m<<not what you asked for>>\x07", "text/plain")
            return True
        return False

    def _authorised(self) -> bool:
        token = self.server.token
        if token and self.headers.get("Authorization") != f"Bearer {token}":
            self._json(401, {"error": "missing or wrong bearer token"})
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        if not self._authorised():
            return None
        model, rest = self._route()
        if model is None:
            if rest == "health":
                return self._json(200, {"status": "up", "reason": "", "models": sorted(state.models)})
            if rest == "models":
                return self._json(200, {"models": sorted(state.models)})
            return self._json(404, {"error": "no such path or model"})
        if self._misbehave(model):
            return None
        with state.lock:
            model.settle()
            if rest == "health":
                if model.disabled:
                    return self._json(200, {"status": "down", "reason": "disabled by an operator"})
                return self._json(200, {"status": "up", "reason": ""})
            if rest == "versions":
                return self._json(200, model.versions_doc())
            if rest == "metrics":
                return self._send(200, model.metrics_text(), "text/plain; version=0.0.4")
        return self._json(404, {"error": "no such path"})

    def _notified(self, raw: bytes) -> None:
        """The demo's alert webhook (demo.toml's [[notify]]): keep the body, answer 204 as a receiver would."""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return self._json(400, {"error": "body is not JSON"})
        with self.server.state.lock:
            self.server.state.notifications.append(body)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def do_POST(self) -> None:  # noqa: N802
        state = self.server.state
        model, rest = self._route()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].rstrip("/") == NOTIFY_PATH:
            return self._notified(raw)
        if not self._authorised():
            return None
        if model is None:
            return self._json(404, {"error": "no such model"})
        if self._misbehave(model):
            return None
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json(400, {"error": "body is not JSON"})
        with state.lock:
            model.settle()
            if rest == "activate":
                version = body.get("version") if isinstance(body, dict) else None
                known = {v["version"] for v in model.versions}
                if version not in known:
                    return self._json(404, {"error": f"unknown version {version!r}"})
                delay = model.behaviour.activate_delay_s
                if delay:
                    model.pending = (time.monotonic() + delay, str(version))
                else:
                    model.active, model.disabled = str(version), False
                return self._json(200, model.versions_doc())
            if rest == "disable":
                model.disabled = True
                return self._json(200, model.versions_doc())
        return self._json(404, {"error": "no such path"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default backlog (5) drops connections when many pollers arrive at once
    state: DemoState
    token: str | None = None


@dataclass
class DemoEndpointHandle:
    url: str
    state: DemoState
    _server: _Server
    _thread: threading.Thread

    def model_url(self, model: str) -> str:
        return f"{self.url}/models/{model}"

    @property
    def notify_url(self) -> str:
        """The demo's alert webhook: deliveries posted here are kept in ``state.notifications``."""
        return f"{self.url}{NOTIFY_PATH}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "DemoEndpointHandle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_demo_endpoint(store_path: Path | str | None = None, host: str = "127.0.0.1", port: int = 0, *,
                        state: DemoState | None = None,
                        behaviour: dict[str, Behaviour] | None = None,
                        token: str | None = None) -> DemoEndpointHandle:
    """Serve the store's models (or ``state``) in a background thread; ``port=0`` picks a free port.
    With ``token``, every request must carry ``Authorization: Bearer <token>``."""
    if state is None:
        if store_path is None:
            raise ValueError("give a store path or a DemoState")
        state = DemoState.from_store(store_path)
    for name, how in (behaviour or {}).items():
        state.models[name].behaviour = how
    server = _Server((host, port), _Handler)
    server.state = state
    server.token = token
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="modeldeck-demo-endpoint", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return DemoEndpointHandle(url=f"http://{bound_host}:{bound_port}", state=state, _server=server, _thread=thread)


def with_demo_endpoints(settings: Any, handle: DemoEndpointHandle) -> Any:
    """``settings`` with an ``http`` endpoint at the demo server for every model it serves and the
    config does not bind elsewhere."""
    from app.config.settings import EndpointConfig, ModelConfig

    from app.demo.gates import with_demo_gates

    from app.demo.monitoring import with_demo_monitoring

    models = dict(settings.models)
    for name in handle.state.models:
        # The demo's shadow pairing and promotion gates (issue 7), unless the config sets them.
        current = models[name] = with_demo_gates(name, models.get(name) or ModelConfig())
        if current.endpoint is None:
            models[name] = current.model_copy(update={
                "endpoint": EndpointConfig(kind="http", url=handle.model_url(name), poll_interval_s=2.0)})
    # Its team's alert rules, retention and alert webhook (data/demo-monitoring.toml), unless the config sets them.
    return with_demo_monitoring(settings.model_copy(update={"models": models}), handle.notify_url)


def demo_config_path(store_path: Path) -> Path:
    """Where ``modeldeck demo`` writes the config of its endpoint and gates: beside its store."""
    return Path(store_path).with_suffix(".toml")


def write_demo_config(store_path: Path, handle: DemoEndpointHandle) -> Path:
    """Write the demo's setup as a user's config beside its store (issue 13): its store, an ``http``
    endpoint at the running demo server for every model, the demo's pairing and gates
    (data/demo-gates.toml, verbatim), and its team's monitoring: alert rules with owners, retention
    (data/demo-monitoring.toml, verbatim) and a ``[[notify]]`` webhook at the demo server. ``modeldeck --config FILE check|gate|rollback ...`` then acts on the
    demo exactly as its console does, while the demo runs. Rewritten on every start (the port changes)."""
    from app.demo.gates import DEMO_GATES_FILE
    from app.demo.monitoring import demo_monitoring_toml

    path = demo_config_path(store_path)
    lines = ["# Written by `modeldeck demo`: the demo's endpoint (alive while `modeldeck demo` runs), gates, alert",
             "# rules, retention and alert webhook.",
             "# Rewritten each time the demo starts; do not edit.",
             f"db = {json.dumps(str(Path(store_path).resolve()))}", ""]
    for name in sorted(handle.state.models):
        lines += [f"[models.{json.dumps(name)}.endpoint]", 'kind = "http"', f"url = {json.dumps(handle.model_url(name))}",
                  "poll_interval_s = 2.0", ""]
    try:
        lines.append(DEMO_GATES_FILE.read_text(encoding="utf-8"))
    except OSError:
        pass  # an install without the data files: endpoints only
    lines += demo_monitoring_toml(handle.notify_url)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path
