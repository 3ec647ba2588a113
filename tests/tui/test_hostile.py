"""A store seeded with hostile values in every field (issue 12): OSC 52 clipboard writes, OSC 8 links, a
screen-clearing CSI, Rich markup, bidi and zero-width characters. The console shows them as text on every
screen it reaches, in every widget (the Logs query bar, which draws its value raw, included), and the real
console walked in a pseudo-terminal sends none of them to the terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.models import ModelInfo, Stage, Version
from app.store import Store
from app.text import clean
from tests.support.terminal import walk_in_pty

# The module's walk types into the real console under a pty (tests/conftest.py keeps those one at a time).
pytestmark = pytest.mark.terminal

CLIPBOARD = "\x1b]52;c;SE9TVElMRQ==\x07"
LINK = "\x1b]8;;http://evil.example/\x07here\x1b]8;;\x07"
CLEAR = "X\x1b[2JY"
MARKUP = "[/][link=http://evil.example]x[/link]"
BIDI = "\u202e\u200b"
HOSTILE = f"{CLIPBOARD}{LINK}{CLEAR}{MARKUP}{BIDI}"
MODEL = f"m{HOSTILE}"
NOW = 1_795_514_400_000  # 2026-11-24T10:00Z


def _records() -> list[dict]:
    out = []
    for i in range(40):
        version = "v1" if i % 2 else f"v2{HOSTILE}"
        out.append({"ts": NOW - i * 60_000, "model": MODEL, "version": version, "request_id": f"r{i // 2}{HOSTILE}",
                    "entity_id": f"e{HOSTILE}", "prediction": f"p{HOSTILE}", "label": f"l{HOSTILE}",
                    "status": "error" if i % 7 == 0 else "ok", "error": f"boom{HOSTILE}" if i % 7 == 0 else None,
                    "score": 0.5, "features": {f"f{HOSTILE}": HOSTILE, "amount": i},
                    "context": {"note": HOSTILE, f"k{HOSTILE}": 1}})
    return out


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    log = folder / "hostile.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in _records()) + "\n")
    db = folder / "hostile.db"
    result = CliRunner().invoke(main, ["--db", str(db), "ingest", str(log)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store.open(db) as store, store.write():
        store.registry.upsert_model(ModelInfo(name=MODEL, description=HOSTILE, owner=f"o{HOSTILE}"))
        store.registry.upsert_version(Version(model=MODEL, version="v1", stage=Stage.champion, created_at=NOW,
                                              metrics={f"auc{HOSTILE}": HOSTILE}, card={"details": HOSTILE}))
        store.registry.upsert_version(Version(model=MODEL, version=f"v2{HOSTILE}", stage=Stage.challenger,
                                              created_at=NOW))
        store.audit.append(f"note{HOSTILE}", MODEL, detail={"text": HOSTILE}, outcome=HOSTILE, actor=f"a{HOSTILE}")
    return db


def _app(db: Path):  # type: ignore[no-untyped-def]
    from app.config.settings import Settings, UIConfig
    from app.console.app import ModeldeckApp

    return ModeldeckApp(db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: NOW)


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    from textual.worker import WorkerCancelled

    for _ in range(4):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        await pilot.pause()


async def test_the_query_bar_never_holds_an_escape_from_data_and_still_finds_the_record(hostile_db: Path):
    from screens.logs import LogsScreen
    from widgets.query_bar import QueryBar

    app = _app(hostile_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        app.open_model(MODEL)
        await _settle(pilot)
        await pilot.press("l")  # Logs from the model: model:<name>
        await _settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        bar = screen.query_one(QueryBar)
        assert clean(bar.value) == bar.value and "\\x1b]52" in bar.value
        assert len(screen.window.rows) == 40  # the escaped name reads back as the model's name
        screen.query_one("LogTable").focus()
        await pilot.press("a")  # entity:<id> around the record
        await _settle(pilot)
        assert clean(bar.value) == bar.value and bar.value.startswith('entity:"e\\x1b]52')
        assert len(screen.window.rows) > 1 and {r["entity_id"] for r in screen.window.rows} == {f"e{HOSTILE}"}
        # Whatever else sets the bar (a paste, history) gets the escapes too.
        bar.value = f"text {HOSTILE}"
        assert "\x1b" not in bar.value and "\u202e" not in bar.value


async def test_compare_tab_and_model_screen_show_the_hostile_name_as_text(hostile_db: Path):
    from textual.widgets import Static

    app = _app(hostile_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        app.open_model(MODEL)
        await _settle(pilot)
        for tab in "12345":
            await pilot.press(tab)
            await _settle(pilot)
            for widget in app.screen.query(Static):
                shown = str(widget.render())
                assert not any(ch in shown for ch in "\x1b\x07\u202e\u200b"), (tab, shown[:200])


def test_the_real_console_walked_in_a_terminal_sends_no_escape_from_data(hostile_db: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELDECK_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               TERM="xterm-256color")
    keys = [(4.0, b"\r"),  # open the (only) model from the fleet
            *[(1.5, tab) for tab in (b"2", b"3", b"4", b"5")],  # readiness, card, activity, compare
            (2.0, b"l"), (2.0, b"\t"), (1.0, b"a"), (2.0, b"\r"),  # logs, the table, around, the record
            (1.5, b"\x1b"), (1.0, b"R"), (2.0, b"\x1b"), (1.0, b"q"), (1.0, b"q")]
    code, output = walk_in_pty([sys.executable, "-c", "from app.cli.main import main; main()", "--db",
                                str(hostile_db)], keys, env=env, cwd=tmp_path, timeout_s=60, rows=30, columns=100)
    assert b"\\x1b]52" in output  # the data was on screen, as text
    for sequence in (b"\x1b]52", b"\x1b]8;", b"X\x1b[2JY", "\u202e".encode(), "\u200b".encode()):
        assert sequence not in output, sequence


@pytest.fixture
def hostile_endpoint():
    from app.demo.endpoint import DemoModel, DemoState, start_demo_endpoint

    versions = [{"version": "[/]", "created_at": 1e300}, {"version": HOSTILE, "created_at": 1e300},
                {"version": "v1", "created_at": NOW}]
    state = DemoState({MODEL: DemoModel(MODEL, versions, active="v1")})
    with start_demo_endpoint(state=state) as handle:
        yield handle


def _endpoint_app(db: Path, handle, *, read_only: bool = False):  # type: ignore[no-untyped-def]
    from app.config.settings import EndpointConfig, ModelConfig, Settings, UIConfig
    from app.console.app import ModeldeckApp

    from urllib.parse import quote

    url = f"{handle.url}/models/{quote(MODEL, safe='')}"  # the name percent-encoded, as a config would hold it
    settings = Settings(ui=UIConfig(refresh_s=600), models={MODEL: ModelConfig(
        read_only=read_only, endpoint=EndpointConfig(kind="http", url=url))})
    return ModeldeckApp(db, settings, clock=lambda: NOW)


def _shown(screen) -> str:  # type: ignore[no-untyped-def]
    from textual.widgets import Button, Input, Static

    parts = [str(w.render()) for w in screen.query(Static)]
    parts += [str(b.label) for b in screen.query(Button)] + [i.value + i.placeholder for i in screen.query(Input)]
    return "\n".join(parts)


async def test_rollback_modal_with_markup_version_names_and_a_created_at_of_1e300(hostile_db: Path,
                                                                                   hostile_endpoint):
    from screens.rollback import RollbackScreen
    from tests.tui.conftest import open_from_model, until

    app = _endpoint_app(hostile_db, hostile_endpoint)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_from_model(pilot, MODEL, "R", RollbackScreen)  # `[/]` raised MarkupError here
        await until(pilot, lambda: modal.plan is not None, "the rollback plan")
        await pilot.pause()
        assert {t.version for t in modal._targets} >= {"[/]", HOSTILE}
        seen = set()
        modal.query_one("#rb-targets").focus()  # Cancel starts focused
        for key in ["up"] * 4 + ["down"] * 4:  # every target's note and the action's label, 1e300 dates too
            await pilot.press(key)
            await pilot.pause()
            seen.add(modal.target.version)
            shown = _shown(modal)
            assert not any(ch in shown for ch in "\x1b\x07\u202e\u200b"), shown[:300]
            if modal.target.version == "[/]":
                assert "Roll back to [/]" in shown  # the label names the version, as text
        assert seen >= {"[/]", HOSTILE}
        assert isinstance(app.screen, RollbackScreen)


async def test_disable_modal_read_only_message_names_the_model_as_text(hostile_db: Path, hostile_endpoint):
    from screens.disable import DisableScreen
    from tests.tui.conftest import open_from_model

    app = _endpoint_app(hostile_db, hostile_endpoint, read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_from_model(pilot, MODEL, "X", DisableScreen)
        await pilot.pause()
        shown = _shown(modal)
        assert "is read-only in the config" in shown and "\\x1b]52" in shown
        assert not any(ch in shown for ch in "\x1b\x07\u202e\u200b"), shown[:300]
