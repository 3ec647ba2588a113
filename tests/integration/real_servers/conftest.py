"""The real serving systems (MLflow, MLServer, TorchServe from the ``.servers`` venv): one process each,
started when a test here first asks for it and stopped, by PID, when this package's tests are done.

Package scope, not session scope: a session-scoped server outlived its tests by the rest of the suite (a
JVM and two Python servers held through the console and unit tests) and its stop was charged to whichever
test ran last (22 s in the teardown of a unit test of time parsing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import servers


def _need_servers() -> None:
    if servers.SERVERS_MISSING:
        pytest.skip(servers.SERVERS_MISSING)


@pytest.fixture(scope="package")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MlflowServer]:
    _need_servers()
    with servers.mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="package")
def mlserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.MlserverServer]:
    _need_servers()
    with servers.mlserver_server(tmp_path_factory.mktemp("mlserver")) as server:
        yield server


@pytest.fixture(scope="package")
def torchserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.TorchServeServer]:
    _need_servers()
    with servers.torchserve_server(tmp_path_factory.mktemp("torchserve")) as server:
        yield server
