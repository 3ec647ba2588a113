"""Real servers for the integration tests, on 127.0.0.1 and free ports, always stopped by PID.

Small misbehaving servers (one that accepts and never answers, one that answers garbage) and the
real serving systems (MLflow, MLServer, TorchServe) from the ``.servers`` venv that ``make test`` builds.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVERS_VENV = ROOT / ".servers"
SERVERS_BIN = SERVERS_VENV / "bin"
SERVERS_MISSING = None if (SERVERS_VENV / ".installed").exists() else (
    f"the real-server venv {SERVERS_VENV.name}/ is missing: run `make test` (it installs it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """Accepts connections and never answers: the endpoint that hangs past every timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)  # keep it open, say nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def garbage_server() -> Iterator[str]:
    """Answers every request with 200 and bytes that are neither JSON nor Prometheus text."""
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = b"\x1b[2J<html>\x00 {oops"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with loopback_http(Handler) as url:
        yield url


@contextlib.contextmanager
def loopback_http(handler: type) -> Iterator[str]:
    """An http.server on a free 127.0.0.1 port answering with ``handler``; yields its base URL and
    stops it (and its thread) on exit."""
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_until(check, *, timeout_s: float, what: str, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Bounded wait for ``check()`` to be true; fails with the server's log tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} not ready within {timeout_s}s\n{tail}")


def stop_pid(pid: int, *, grace_s: float = 10.0) -> None:
    """SIGTERM the server's process group (it was started as its own session, so the group holds the
    server, e.g. TorchServe's Java, and its workers), then SIGKILL what is left after a bound."""
    _LIVE.discard(pid)
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap the leader so it does not linger as a zombie
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


_LIVE: set[int] = set()  # process groups started here and not yet stopped
_ARMED = False


def _stop_leftovers() -> None:
    for pid in list(_LIVE):
        stop_pid(pid, grace_s=5.0)


def _interrupt_on_sigterm(signum: int, frame: object) -> None:
    # A CI timeout sends SIGTERM: turn it into the interrupt pytest tears fixtures down for, so
    # every server is stopped by its fixture (and atexit catches whatever is left).
    raise KeyboardInterrupt(f"signal {signum}")


def spawn(args: list[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> subprocess.Popen:
    global _ARMED
    if not _ARMED and threading.current_thread() is threading.main_thread():
        _ARMED = True
        atexit.register(_stop_leftovers)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                                env={**os.environ, **(env or {})})
    _LIVE.add(proc.pid)
    return proc


# --- the demo endpoint in a process of its own (so a test can kill it mid-poll) -------------------------

_DEMO_CHILD = """
import sys, time
from app.demo.endpoint import Behaviour, DemoState, start_demo_endpoint
state = DemoState.synthetic(["churn"])
h = start_demo_endpoint(state=state, port=int(sys.argv[1]), behaviour={"churn": Behaviour(delay_s=float(sys.argv[2]))})
print("ready", flush=True)
time.sleep(3600)
"""


@contextlib.contextmanager
def demo_endpoint_process(tmp: Path, *, delay_s: float = 0.0) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    log = tmp / "demo-endpoint.log"
    proc = spawn([sys.executable, "-c", _DEMO_CHILD, str(port), str(delay_s)], log=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, timeout_s=20,
                   what="demo endpoint process", proc=proc, log=log)
        yield proc, url
    finally:
        stop_pid(proc.pid)


_FLEET_CHILD = """
import json, sys, time
from app.demo.endpoint import Behaviour, DemoState, start_demo_endpoint
names, behaviour = json.loads(sys.argv[2]), json.loads(sys.argv[3])
h = start_demo_endpoint(state=DemoState.synthetic(names), port=int(sys.argv[1]),
                        behaviour={k: Behaviour(**v) for k, v in behaviour.items()})
time.sleep(3600)
"""


@contextlib.contextmanager
def demo_fleet_process(tmp: Path, names: list[str], behaviour: dict[str, dict]) -> Iterator[str]:
    """Many demo models in one child process (the poll benchmark): yields the server's URL."""
    port = free_port()
    log = tmp / "demo-fleet.log"
    proc = spawn([sys.executable, "-c", _FLEET_CHILD, str(port), json.dumps(names), json.dumps(behaviour)],
                 log=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200, timeout_s=30,
                   what="demo fleet process", proc=proc, log=log)
        yield url
    finally:
        stop_pid(proc.pid)


# --- MLflow -------------------------------------------------------------------------------------------


@dataclass
class MlflowServer:
    url: str
    proc: subprocess.Popen

    def register(self, model: str, versions: int) -> None:
        """A registered model with ``versions`` versions (s3:// sources: the server never reads them)."""
        api = f"{self.url}/api/2.0/mlflow"
        httpx.post(f"{api}/registered-models/create", json={"name": model}, timeout=10).raise_for_status()
        for n in range(1, versions + 1):
            httpx.post(f"{api}/model-versions/create", timeout=10,
                       json={"name": model, "source": f"s3://modeldeck-test/{model}/{n}"}).raise_for_status()

    def set_alias(self, model: str, alias: str, version: str) -> None:
        httpx.post(f"{self.url}/api/2.0/mlflow/registered-models/alias", timeout=10,
                   json={"name": model, "alias": alias, "version": version}).raise_for_status()

    def aliases(self, model: str) -> dict[str, str]:
        body = httpx.get(f"{self.url}/api/2.0/mlflow/registered-models/get", params={"name": model},
                         timeout=10).json()
        return {a["alias"]: a["version"] for a in body["registered_model"].get("aliases", [])}


@contextlib.contextmanager
def mlflow_server(tmp: Path) -> Iterator[MlflowServer]:
    port = free_port()
    log = tmp / "mlflow.log"
    (tmp / "prom").mkdir(parents=True, exist_ok=True)
    proc = spawn([str(SERVERS_BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                  "--artifacts-destination", str(tmp / "art"), "--host", "127.0.0.1", "--port", str(port),
                  "--workers", "1", "--expose-prometheus", str(tmp / "prom")],
                 log=log, env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, timeout_s=90,
                   what="MLflow server", proc=proc, log=log)
        yield MlflowServer(url, proc)
    finally:
        stop_pid(proc.pid)


# --- MLServer ------------------------------------------------------------------------------------------


@dataclass
class MlserverServer:
    url: str
    metrics_url: str
    repository: Path
    proc: subprocess.Popen


_TRAIN = """
import sys, joblib
from sklearn.linear_model import LogisticRegression
X = [[0.0], [1.0], [2.0], [3.0]]
for path, flip in zip(sys.argv[1::2], sys.argv[2::2]):
    y = [1, 1, 0, 0] if flip == "1" else [0, 0, 1, 1]
    joblib.dump(LogisticRegression().fit(X, y), path)
"""


@contextlib.contextmanager
def mlserver_server(tmp: Path, *, model: str = "clf") -> Iterator[MlserverServer]:
    """MLServer with two versions (v1, v2) of a tiny scikit-learn model."""
    repo = tmp / "repo"
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    paths = []
    for version in ("v1", "v2"):
        folder = repo / model / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model-settings.json").write_text(json.dumps({
            "name": model, "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": version}}))
        paths += [str(folder / "model.joblib"), "1" if version == "v2" else "0"]
    subprocess.run([str(SERVERS_BIN / "python"), "-c", _TRAIN, *paths], check=True, timeout=120)
    (repo / "settings.json").write_text(json.dumps({
        "host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
        "parallel_workers": 0, "load_models_at_startup": True}))
    log = tmp / "mlserver.log"
    proc = spawn([str(SERVERS_BIN / "mlserver"), "start", str(repo)], log=log, cwd=tmp)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/v2/models/{model}/versions/v2/ready", timeout=2).status_code == 200,
                   timeout_s=90, what="MLServer", proc=proc, log=log)
        yield MlserverServer(url, f"http://127.0.0.1:{metrics_port}/metrics", repo, proc)
    finally:
        stop_pid(proc.pid)


# --- TorchServe ------------------------------------------------------------------------------------------

# A handler module with no weights: TorchServe calls handle(data, context); it answers its version.
_TS_HANDLER = '''
def handle(data, context):
    if data is None:
        return None
    return [{"version": context.manifest["model"]["modelVersion"]} for _ in data]
'''


@dataclass
class TorchServeServer:
    url: str
    management_url: str
    metrics_url: str
    proc: subprocess.Popen


@contextlib.contextmanager
def torchserve_server(tmp: Path, *, model: str = "tsclf") -> Iterator[TorchServeServer]:
    """TorchServe with two versions (1.0, 2.0) of a weightless model; 2.0 registered last, 1.0 the default."""
    store = tmp / "model-store"
    store.mkdir(parents=True, exist_ok=True)
    (tmp / "handler.py").write_text(_TS_HANDLER)
    for version in ("1.0", "2.0"):
        subprocess.run([str(SERVERS_BIN / "torch-model-archiver"), "--model-name", model, "--version", version,
                        "--handler", str(tmp / "handler.py"), "--export-path", str(store), "--archive-format",
                        "default", "--force"], check=True, timeout=120, cwd=tmp)
        (store / f"{model}.mar").rename(store / f"{model}-{version}.mar")
    ports = [free_port() for _ in range(5)]
    (tmp / "config.properties").write_text("\n".join([
        f"inference_address=http://127.0.0.1:{ports[0]}",
        f"management_address=http://127.0.0.1:{ports[1]}",
        f"metrics_address=http://127.0.0.1:{ports[2]}",
        # Its gRPC servers otherwise take the fixed ports 7070/7071: two test runs at once would collide.
        "grpc_inference_address=127.0.0.1", f"grpc_inference_port={ports[3]}",
        "grpc_management_address=127.0.0.1", f"grpc_management_port={ports[4]}",
        "disable_token_authorization=true", "enable_model_api=true", "metrics_mode=prometheus", f"model_store={store}",
        "default_workers_per_model=1", "install_py_dep_per_model=false", "enable_envvars_config=false", ""]))
    log = tmp / "torchserve.log"
    proc = spawn([str(SERVERS_BIN / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                  "--ts-config", str(tmp / "config.properties"), "--model-store", str(store)],
                 log=log, cwd=tmp, env={"PATH": f"{SERVERS_BIN}:{os.environ.get('PATH', '')}",
                                        # its PID file lives in the temp dir: one per fixture, not one per machine
                                        "TMPDIR": str(tmp),
                                        "LOG_LOCATION": str(tmp / "logs"), "METRICS_LOCATION": str(tmp / "logs")})
    url, mgmt = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    try:
        wait_until(lambda: httpx.get(f"{url}/ping", timeout=2).status_code == 200, timeout_s=120,
                   what="TorchServe", proc=proc, log=log)
        for version in ("1.0", "2.0"):
            httpx.post(f"{mgmt}/models", timeout=120, params={
                "url": f"{model}-{version}.mar", "initial_workers": 1, "synchronous": "true"}).raise_for_status()
        yield TorchServeServer(url, mgmt, f"http://127.0.0.1:{ports[2]}/metrics", proc)
    finally:
        stop_pid(proc.pid, grace_s=15)


# --- Alertmanager (Debian's prometheus-alertmanager; .ci/run installs it when missing) ------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
ALERTMANAGER_MISSING = None if ALERTMANAGER else (
    "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager; .ci/run does it)")

_ALERTMANAGER_CONFIG = """\
route:
  receiver: nobody
  group_wait: 1h
receivers:
  - name: nobody
"""


@dataclass
class AlertmanagerServer:
    url: str
    pid: int

    def alerts(self) -> list[dict]:
        """What Alertmanager holds now (API v2), resolved ones included."""
        response = httpx.get(f"{self.url}/api/v2/alerts", params={"active": "true", "silenced": "true",
                                                                  "inhibited": "true", "unprocessed": "true"},
                             timeout=5)
        response.raise_for_status()
        return response.json()


@contextlib.contextmanager
def alertmanager_server(tmp: Path) -> Iterator[AlertmanagerServer]:
    """A real Alertmanager on a free loopback port, with a temp config and storage, clustering off."""
    if ALERTMANAGER is None:
        raise RuntimeError(ALERTMANAGER_MISSING)
    config = tmp / "alertmanager.yml"
    config.write_text(_ALERTMANAGER_CONFIG)
    port = free_port()
    log = tmp / "alertmanager.log"
    proc = spawn([ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp / 'data'}",
                  f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, timeout_s=30,
                   what="alertmanager", proc=proc, log=log)
        yield AlertmanagerServer(url, proc.pid)
    finally:
        stop_pid(proc.pid)
