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


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Logs screen's query history (app.search.history) goes to a scratch directory, never the
    state directory of whoever runs the tests."""
    monkeypatch.setenv("MODELDECK_STATE_DIR", str(tmp_path_factory.mktemp("state")))
