"""The Logs screen's query history is one per store, whatever directory the console was started from."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.search import history


def test_a_postgresql_store_keeps_one_history_from_any_working_directory(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.ENV, str(tmp_path / "state"))
    store = Path("postgresql://deck@db.internal:5432/models")  # as --db reads it: a Path, its '//' collapsed
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    history.add(store, "model:fraud-scorer status:error")
    monkeypatch.chdir(tmp_path / "b")
    assert history.load(store) == ["model:fraud-scorer status:error"]
    assert history.load(Path("postgresql://deck@db.internal:5432/other")) == []


def test_a_file_store_is_named_by_its_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(history.ENV, str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    history.add(Path("team.db"), "entity:c-42")
    assert history.load(tmp_path / "team.db") == ["entity:c-42"]
    assert history.load(tmp_path / "other.db") == []
