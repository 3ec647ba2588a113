"""Fixtures shared by every test folder: real SQLite store files in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.store import Store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(store_path: Path):
    with Store.open(store_path) as opened:
        yield opened
