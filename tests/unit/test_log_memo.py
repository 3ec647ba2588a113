"""The store's memo of log reads (app/store/log_memo.py) stays bounded and forgets on a new mark."""

from __future__ import annotations

from app.store import log_memo
from app.store.log_memo import MAX_ENTRIES, MAX_STORES, LogMemo, Remembered, memo_for


def test_a_new_mark_forgets_and_entries_are_capped() -> None:
    memo = LogMemo()
    memo.put((1, 0), "a", 1)  # nobody asked under this mark yet: not kept
    assert memo.get((1, 0), "a") == (False, None)
    memo.put((1, 0), "a", 1)
    assert memo.get((1, 0), "a") == (True, 1)
    assert memo.get((2, 0), "a") == (False, None)  # a new row: everything read before is gone
    memo.put((1, 0), "b", 2)  # a value read under the old mark arrives late: dropped
    assert memo.get((2, 0), "b") == (False, None)
    for i in range(MAX_ENTRIES + 10):
        memo.put((2, 0), i, i)
    assert memo.get((2, 0), 0) == (False, None) and memo.get((2, 0), MAX_ENTRIES + 9) == (True, MAX_ENTRIES + 9)


def test_reads_are_remembered_per_store_and_not_without_a_mark() -> None:
    log_memo._memos.clear()
    calls: list[str] = []
    mark: list = [(5, 1)]
    store = Remembered(memo_for(("sqlite", "/a.db")), lambda: mark[0])
    assert [store.read("k", lambda: calls.append("read") or 7) for _ in range(3)] == [7, 7, 7]
    assert calls == ["read"]
    mark[0] = None  # inside a write transaction: read every time
    store.read("k", lambda: calls.append("read") or 7)
    assert calls == ["read", "read"]
    for i in range(MAX_STORES + 2):
        memo_for(("sqlite", f"/{i}.db"))
    assert len(log_memo._memos) == MAX_STORES
