"""Console fixtures: a fixed small store and an App on a fixed clock (deterministic screens)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.config.settings import Settings, UIConfig
from app.store import Store
from app.console.app import ModeldeckApp
# The seeded store and the demo endpoint on 127.0.0.1 of the endpoint tests, shared (not copied) here.
from tests.integration.conftest import demo, seeded_store_path  # noqa: F401
from tests.tui.fixed_store import FIXED_NOW, build_fixed_store


@pytest.fixture(autouse=True)
def _full_colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console reads NO_COLOR, TERM and COLORTERM (app.console.app.few_colours): every test starts
    on a 256-colour terminal whatever runs it (tmux, CI without a terminal); a test sets its own."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COLORTERM", raising=False)


@pytest.fixture
def fixed_db(tmp_path: Path) -> Path:
    return build_fixed_store(tmp_path / "fleet.db")


@pytest.fixture
def demo_db(seeded_store_path: Path) -> Path:
    """churn v1, v2, v3 (v3 champion); fraud v1, v2: the store the demo endpoint serves."""
    return seeded_store_path


def make_app(db: Path, *, monitor_at_start: bool = True, **ui: object) -> ModeldeckApp:
    # A long refresh period: the live refresh never fires in the middle of a test (the monitor's first
    # pass, right after the first paint, does run unless ``monitor_at_start=False``).
    settings = Settings(ui=UIConfig(**{"refresh_s": 600, **ui}))  # type: ignore[arg-type]
    return ModeldeckApp(db, settings, clock=lambda: FIXED_NOW, monitor_at_start=monitor_at_start)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let every store read finish and its result be shown."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def settle_superseded(pilot) -> None:  # type: ignore[no-untyped-def]
    """Like ``settle``, where a newer read cancels an older one (paging, the record detail): a cancelled
    worker is expected there, not a failure."""
    from textual.worker import WorkerCancelled

    for _ in range(4):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        await pilot.pause()


async def settle_screen(pilot, until=None, tries: int = 400) -> None:  # type: ignore[no-untyped-def]
    """Let the screen's workers finish (the endpoint poller never does: it runs until quit), bounded;
    with ``until``, also wait for that condition."""
    for _ in range(tries):
        busy = [w for w in pilot.app.workers if not w.is_finished and w.node is not pilot.app]
        if not busy and (until is None or until()):
            break
        await pilot.pause(0.05)
    await pilot.pause()


async def until(pilot, check, what: str, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Bounded wait for something the console does in a worker (the endpoint poller never finishes,
    so ``workers.wait_for_complete()`` cannot be used there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def open_model_screen(pilot, model: str):  # type: ignore[no-untyped-def]
    """The fleet settled, then ``model``'s screen opened and its readers settled: the model screen."""
    from screens.model import ModelScreen  # the screens import the console app, which this module builds

    await settle(pilot)
    pilot.app.open_model(model)
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ModelScreen)
    return screen

async def open_from_model(pilot, model: str, key: str, screen_type: type):  # type: ignore[no-untyped-def]
    """Open ``model``'s screen, press ``key`` there and wait (bounded) for a ``screen_type`` on top."""
    app = pilot.app
    app.open_model(model)
    await pilot.pause()
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, screen_type), f"the screen {key} opens")
    return app.screen


def audit_outcomes(db: Path, model: str, action: str) -> list[str | None]:
    """The outcomes of ``model``'s ``action`` audit entries, oldest first."""
    with Store.open(db) as store:
        return [e.outcome for e in reversed(store.audit.entries(model)) if e.action == action]
