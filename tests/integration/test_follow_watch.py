"""The Logs screen's follow mode watches the store for writes (app.views.logs.StoreWatch): a real store
file, a second connection writing as ingest does, the watcher's own read-only connection probing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from app.store import Store
from app.store.location import StoreLocation
from app.views.logs import StoreWatch, change_token
from tests.support.search_records import random_records, to_row


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "watched.db"
    with Store.open(path) as store:
        store.predictions.append([to_row(r) for r in random_records(5, seed=1)])
    return path


def _wait(event: threading.Event, timeout_s: float = 20.0) -> bool:
    return event.wait(timeout_s)  # bounded


@contextmanager
def _watching(path: Path, changed: Callable[[], None], *, fallback_s: float) -> Iterator[StoreWatch]:
    """A started StoreWatch probing every 20 ms, always stopped (and its thread gone) afterwards."""
    watch = StoreWatch(StoreLocation(path), changed, every_s=0.02, fallback_s=fallback_s).start()
    try:
        yield watch
    finally:
        watch.stop()
        watch.join(timeout=5)
    assert not watch.running


def test_a_commit_by_another_connection_is_told_and_an_idle_store_reads_nothing(tmp_path: Path) -> None:
    path = _store(tmp_path)
    told = threading.Event()
    calls: list[float] = []

    def changed() -> None:
        calls.append(time.monotonic())
        told.set()

    with _watching(path, changed, fallback_s=3600) as watch:
        # Idle: many probes, no call (following an idle store reads no row).
        deadline = time.monotonic() + 20
        while watch.checks < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watch.checks >= 10 and not calls
        fresh = random_records(2, seed=2, start=100)
        fresh[0]["label"] = None  # its label comes later
        with Store.open(path) as writer:  # ingest's incremental commit
            writer.predictions.append([to_row(r) for r in fresh])
        assert _wait(told)
        assert len(calls) == 1
        # A late label filled on a stored record (no new id) is a change too.
        told.clear()
        labelled = dict(fresh[0], label="late label")
        with Store.open(path) as writer:
            assert writer.predictions.append([to_row(labelled)]) == (0, 1)
        assert _wait(told)


def test_the_poll_stays_as_a_fallback_and_a_store_that_cannot_be_probed_is_still_polled(tmp_path: Path) -> None:
    path = _store(tmp_path)
    told = threading.Event()
    with _watching(path, told.set, fallback_s=0.1):
        assert _wait(told)  # nothing written: the fallback read still comes
    missing = threading.Event()
    with _watching(tmp_path / "gone" / "no.db", missing.set, fallback_s=0.1):
        assert _wait(missing)


def test_change_token_moves_with_commits(tmp_path: Path) -> None:
    path = _store(tmp_path)
    with Store.open(path, read_only=True) as reader:
        before = change_token(reader)
        assert change_token(reader) == before
        with Store.open(path) as writer:
            writer.predictions.append([to_row(r) for r in random_records(1, seed=3, start=200)])
        assert change_token(reader) != before
