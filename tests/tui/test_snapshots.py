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
