"""The console's one worker-error rule: a failed worker becomes one line of plain text.

The App shows every failed worker as a rate-limited toast (``ErrorToasts``); a screen that has a status
line of its own says it there too (``worker_failure``) and stops the toast for its readers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from app.text import clean

if TYPE_CHECKING:
    from textual.worker import Worker

ERROR_REPEAT_S = 60.0
"""The same worker error is shown at most once in this many seconds."""


def one_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name when it has none (never a traceback)."""
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def worker_failure(event: "Worker.StateChanged") -> str | None:
    """The failed worker's error as one cleaned line, or None when the worker did not fail."""
    from textual.worker import WorkerState

    if event.state is not WorkerState.ERROR:
        return None
    error = event.worker.error
    return clean(one_line(error)) if error is not None else "failed"


class ErrorToasts:
    """Which error texts were shown when: periodic readers fail together and again on every pass (a broken
    store, a full disk), so the same message is shown once a minute at most, not once per reader per refresh."""

    def __init__(self, repeat_s: float = ERROR_REPEAT_S) -> None:
        self.repeat_s = repeat_s
        self._shown: dict[str, float] = {}  # error text -> when it was last shown (monotonic s)

    def due(self, text: str) -> bool:
        """Whether ``text`` should be shown now (and, if so, note that it was)."""
        now = time.monotonic()
        if now - self._shown.get(text, -self.repeat_s) < self.repeat_s:
            return False
        self._shown[text] = now
        return True


def write_crash_report(error: BaseException) -> str:
    """Write ``error``'s traceback to a file in the user's state folder (else the temp folder) and return
    the one line the operator sees once the terminal is back: what broke and where the rest is."""
    import os
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(error))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    where = "(the traceback could not be written)"
    try:
        from platformdirs import user_state_path

        folders = [user_state_path("modeldeck"), tempfile.gettempdir()]
    except ImportError:
        folders = [tempfile.gettempdir()]
    for folder in folders:
        try:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"modeldeck-crash-{stamp}-{os.getpid()}.txt")
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
            where = f"traceback in {path}"
            break
        except OSError:
            continue
    return f"the console crashed: {type(error).__name__}: {clean(one_line(error))[:200]}; {where}"
