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


# --- running on several workers (pytest-xdist, `make test`) -------------------------------------------------
# Work goes to the workers one module at a time: a module's module-scoped fixture (a demo store, a log
# corpus) is built once, as in a serial run, not once per worker. Two kinds of test share a group across
# modules: those on the session's real serving systems (MLflow, MLServer, TorchServe take a minute each to
# start; one worker starts them once) and those typing into the real console under a pty (one at a time).
REAL_SERVER_FIXTURES = frozenset({"mlflow", "mlserver", "torchserve"})


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("real-servers"))
        elif item.get_closest_marker("terminal"):
            item.add_marker(pytest.mark.xdist_group("terminal"))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadGroupScheduling

    class ModuleOrGroup(LoadGroupScheduling):
        """xdist's loadgroup, except that a test with no group goes with its module (loadscope)."""

        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return scope.split("::", 1)[0] if scope == nodeid else scope

    return ModuleOrGroup(config, log)
