"""Reads of the prediction log remembered while the log is unchanged (issue 18 item 2).

The fleet re-evaluates every model's readiness every few seconds; its log reads (the busiest hour of the week,
the newest rows' features and timing, the last hour's coverage) depend only on the prediction rows. An idle
store gets no new rows, so a pass with nothing new should read none of them again.

The memo lives here, in the store package, because only the store knows what "unchanged" means: the log's
mark, (highest id, oldest ts), read by two index probes. A new row raises the highest id; retention deletes
the oldest rows, which raises the oldest ts (everything before its cutoff goes). The other writes to stored
rows change nothing these reads return (a late label; compaction re-encodes the same JSON values). It is kept
per store (SQLite file or PostgreSQL address) for the life of the process, so a store opened again for the
next refresh still finds it, and it is cleared as soon as the mark moves: at most one mark's entries, at most
``MAX_ENTRIES`` of them, at most ``MAX_STORES`` stores.

The mark is read before the rows it vouches for. A row committed in between makes a value newer than its mark,
never older, and the next reader's mark (which sees that row) clears it: nothing stale outlives one pass.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 4096
"""Remembered results per store: a few per model and version (each a handful of values, or the counts of a week's
hours)."""
MAX_STORES = 4

Mark = tuple[Any, ...]
NOW = object()
"""``Remembered.read``'s default mark: the log's mark read now."""


class LogMemo:
    """Results of log reads for one store under one mark; thread-safe (the fleet's and the model screen's
    workers read the same store at once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mark: Mark | None = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, mark: Mark, key: Hashable) -> tuple[bool, Any]:
        """(found, value) of ``key`` remembered under ``mark``; a different mark forgets everything."""
        with self._lock:
            if mark != self._mark:
                self._entries.clear()
                self._mark = mark
                return False, None
            if key not in self._entries:
                return False, None
            self._entries.move_to_end(key)
            return True, self._entries[key]

    def put(self, mark: Mark, key: Hashable, value: Any) -> None:
        with self._lock:
            if mark != self._mark:  # the log moved on while this was read: the value may be of either mark
                return
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)


_memos: OrderedDict[Hashable, LogMemo] = OrderedDict()
_memos_lock = threading.Lock()


def memo_for(identity: Hashable) -> LogMemo:
    """The process's memo of the store ``identity`` (a SQLite file, a PostgreSQL address)."""
    with _memos_lock:
        memo = _memos.get(identity)
        if memo is None:
            memo = _memos[identity] = LogMemo()
            while len(_memos) > MAX_STORES:
                _memos.popitem(last=False)
        _memos.move_to_end(identity)
        return memo


class Remembered:
    """One open store's door to its memo: ``read(key, compute)`` returns what ``compute()`` returns, from the
    memo when the log's mark has not moved since it was remembered.

    ``mark`` returns the log's mark, or None when nothing may be remembered now: inside a write transaction,
    rows this connection added may still be rolled back, and SQLite would then hand their ids to other rows."""

    def __init__(self, memo: LogMemo | None, mark: Callable[[], Mark | None]) -> None:
        self._memo = memo
        self._mark = mark

    def mark(self) -> Mark | None:
        return None if self._memo is None else self._mark()

    def read(self, key: Hashable, compute: Callable[[], T], mark: Mark | None | object = NOW) -> T:
        """``compute()``, remembered under ``mark`` (default: the mark now; None: not remembered)."""
        if mark is NOW:
            mark = self.mark()
        if mark is None or self._memo is None:
            return compute()
        found, value = self._memo.get(mark, key)
        if found:
            return value
        value = compute()
        self._memo.put(mark, key, value)
        return value

    def remember(self, mark: Mark | None, key: Hashable, value: Any) -> None:
        if mark is not None and self._memo is not None:
            self._memo.put(mark, key, value)

    def recall(self, mark: Mark | None, key: Hashable) -> tuple[bool, Any]:
        if mark is None or self._memo is None:
            return False, None
        return self._memo.get(mark, key)
