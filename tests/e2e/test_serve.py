"""`modeldeck serve` (issue 16 item 7): the real command on 127.0.0.1 with a free port, its token, and the
console it runs per browser tab. Headless Chromium (Debian's package) opens the page with and without
the token; the console itself is driven over the page's websocket, as the page's JavaScript does, and
its output drawn by a VT100 emulator: the fleet renders, and a rollback is refused without
--allow-actions (read-only at the action layer). Chromium cannot hand back the text of its WebGL
terminal without a driver, so the terminal is read from the same websocket it reads."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_five_questions import demo_store  # noqa: F401  (a module fixture)

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db: Path, tmp: Path, config: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"), MODELDECK_TOKEN="t0ken")
    process = subprocess.Popen([sys.executable, "-c", "from app.cli.main import main; main()", "--db", str(db),
                                "--config", str(config), "serve", "--port", str(port), *extra], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, cwd=tmp, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()  # the URL with its token comes first
    found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
    assert found, line
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # bounded: until it listens
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return process, found.group(1)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _console(url: str, keys: list[tuple[str, str]], *, cookie: str, last: str = "") -> str:
    """Open the page's websocket, type ``keys`` ((needle to wait for first, text); a needle
    ``cursor:TEXT`` waits for the cursor on a line holding TEXT), return the screen once ``last`` is on it."""
    import aiohttp
    import pyte

    screen = pyte.Screen(80, 24)
    stream = pyte.ByteStream(screen)
    base = url.split("/?")[0]
    ws_url = base.replace("http:", "ws:") + "/ws?width=80&height=24"
    async with aiohttp.ClientSession(cookies={"modeldeck_token": cookie}) as session:
        async with session.ws_connect(ws_url, headers={"Origin": base}) as ws:
            async def until(needle: str, timeout_s: float = 60) -> str:
                deadline = time.monotonic() + timeout_s
                while True:
                    shown = "\n".join(screen.display)
                    # "cursor:TEXT": the terminal's cursor is on a line holding TEXT (the box typed into).
                    if (needle[len("cursor:"):] in screen.display[screen.cursor.y] if needle.startswith("cursor:")
                            else needle in shown):
                        return shown
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no {needle!r} in:\n{shown}")
                    try:
                        message = await ws.receive(timeout=0.5)
                    except asyncio.TimeoutError:
                        continue
                    if message.type == aiohttp.WSMsgType.BINARY:
                        stream.feed(message.data)
                    elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        raise AssertionError(f"the websocket closed; the screen:\n{shown}")

            for wait_for, text in keys:
                await until(wait_for)
                await ws.send_str(json.dumps(["stdin", text]))
            return await until(last)


def test_serve_needs_the_token_renders_the_fleet_and_refuses_actions(demo_store: Path, tmp_path: Path) -> None:  # noqa: F811
    from app.demo.endpoint import start_demo_endpoint, write_demo_config

    with start_demo_endpoint(demo_store) as endpoint:
        _serve_and_check(demo_store, tmp_path, write_demo_config(demo_store, endpoint))


def _serve_and_check(demo_store: Path, tmp_path: Path, config: Path) -> None:
    process, url = _start(demo_store, tmp_path, config)
    try:
        import urllib.error
        import urllib.request

        base, token = url.split("/?token=")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "/", timeout=10)
        assert refused.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(base + "/?token=guess", timeout=10)
        assert wrong.value.code == 403
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "modeldeck" in page.read().decode() and "HttpOnly" in page.headers["Set-Cookie"]

        if CHROMIUM:
            for target, expected in ((url, "textual-terminal"), (base + "/", "open the URL with the token")):
                dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                                      f"--user-data-dir={tmp_path / 'chromium'}", target],
                                     capture_output=True, text=True, timeout=60)
                assert expected in dom.stdout, (target, dom.stdout[-500:], dom.stderr[-500:])

        screen = asyncio.run(_console(url, [("WARN ticket-router", ":"), ("▔ : ▔", "rollback credit-limit\r")], cookie=token,
                                      last="read-only"))
        assert "Roll back credit-limit" in screen and "cannot" not in screen, screen
        # Without the cookie the websocket is refused.
        with pytest.raises(Exception):
            asyncio.run(_console(url, [], cookie="guess"))
    finally:
        _stop(process)


def test_serve_with_allow_actions_rolls_back_from_the_browser(demo_store: Path, tmp_path: Path) -> None:  # noqa: F811
    """With --allow-actions the browser's rollback dialog is not read-only: the plan preselects a version,
    and a reason plus the typed name roll back against the demo endpoint, verified and audited."""
    from app.demo.endpoint import start_demo_endpoint, write_demo_config
    from app.store import Store

    with start_demo_endpoint(demo_store) as endpoint:
        config = write_demo_config(demo_store, endpoint)
        before = endpoint.state.models["credit-limit"].active
        process, url = _start(demo_store, tmp_path, config, "--allow-actions")
        try:
            token = url.split("/?token=")[1]
            screen = asyncio.run(_console(url, [
                ("WARN ticket-router", ":"), ("▔ : ▔", "rollback credit-limit\r"),
                ("Roll back to ", "INC-9 from the browser\r"), ("cursor:type credit-limit to confirm", "credit-limit\r"),
            ], cookie=token, last="succeeded"))
        finally:
            _stop(process)
        after = endpoint.state.models["credit-limit"].active
    assert "read-only" not in screen and "read back" in screen, screen
    assert after != before
    with Store.open(demo_store, read_only=True) as store:
        newest = next(e for e in store.audit.entries("credit-limit") if e.action == "rollback")
    assert newest.outcome == "succeeded" and newest.detail.get("reason") == "INC-9 from the browser"


def test_serve_opens_a_console_on_a_postgresql_store(pg_url: str, tmp_path: Path) -> None:
    """A team's store is an address, not a file: serve starts on it (it once said "no store at
    postgresql:/..." and stopped) and each tab's console reads the fleet from that server."""
    from app.timeutil import now_ms
    from tests.integration.test_logged_fleet import run, write_log

    log = tmp_path / "logs.jsonl"
    write_log(log, [("loan-pricing", "v2", now_ms() - 600_000 + i * 1000) for i in range(20)])
    assert run("--db", pg_url, "ingest", str(log)).exit_code == 0
    config = tmp_path / "modeldeck.toml"
    config.write_text("[ui]\nrefresh_s = 600\n")
    process, url = _start(pg_url, tmp_path, config)  # type: ignore[arg-type]
    try:
        screen = asyncio.run(_console(url, [], cookie=url.split("/?token=")[1], last="loan-pricing"))
    finally:
        _stop(process)
    assert "v2" in screen and "no store" not in screen, screen
