"""SVG snapshots of the fleet and model screens on the fixed store and clock.

Regenerate after an intended change: ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import make_app, settle

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_fleet_screen(snap_compare, fixed_db: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(fixed_db), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_model_overview(snap_compare, fixed_db: Path, size: tuple[int, int]) -> None:
    async def open_model(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(fixed_db), terminal_size=size, run_before=open_model)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_model_readiness(snap_compare, fixed_db: Path, size: tuple[int, int]) -> None:
    async def open_readiness(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(make_app(fixed_db), terminal_size=size, run_before=open_readiness)


# Severity without colour: down, DRIFT, fail, firing, pending read by a word and an attribute under
# NO_COLOR, 16 colours and TERM=screen (widgets/severity.py). Each mode is what that terminal shows.
MODES = {"no_color": {"NO_COLOR": "1"}, "16_colours": {"TERM": "xterm-16color"}, "screen": {"TERM": "screen"}}


def _in_mode(monkeypatch: pytest.MonkeyPatch, mode: str, db: Path):  # type: ignore[no-untyped-def]
    from tests.support.colours import SixteenColours

    for name, value in MODES[mode].items():
        monkeypatch.setenv(name, value)
    app = make_app(db)
    if mode != "no_color":
        app._filters.append(SixteenColours())  # the terminal driver's downgrade, drawn into the SVG
    return app


@pytest.mark.parametrize("mode", list(MODES))
def test_fleet_severity_without_colour(snap_compare, fixed_db: Path, mode: str, monkeypatch) -> None:
    assert snap_compare(_in_mode(monkeypatch, mode, fixed_db), terminal_size=(80, 24), run_before=settle)


@pytest.mark.parametrize("mode", list(MODES))
def test_readiness_severity_without_colour(snap_compare, fixed_db: Path, mode: str, monkeypatch) -> None:
    async def open_readiness(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(_in_mode(monkeypatch, mode, fixed_db), terminal_size=(80, 24), run_before=open_readiness)
