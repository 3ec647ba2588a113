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


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL for the session (tests/support/postgres.py); skipped, saying why, when the
    machine has none (.ci/run installs Debian's package)."""
    from tests.support.postgres import PostgresServer, pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's server; the password reaches clients as PGPASSWORD only."""
    import re

    monkeypatch.setenv("PGPASSWORD", postgres.password)
    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    return postgres.create_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One store location per backend: the store contract tests run once on each."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(any_store_location: str):
    with Store.open(any_store_location) as opened:
        yield opened
