"""Running a program as an operator's terminal would: under a pseudo-terminal of a given size, its
output drained as it comes (or it blocks writing the screen). Used by the console's start-up tests
and by bench/startup.py."""

from __future__ import annotations

import os
import pty
import select
import struct
import subprocess
import time
from pathlib import Path
from typing import Callable

import fcntl
import termios


def run_in_pty(argv: list[str], *, env: dict[str, str], cwd: Path, timeout_s: float = 30.0,
               rows: int = 24, columns: int = 80) -> tuple[int, bytes]:
    """Run ``argv`` under a ``columns`` x ``rows`` pty until it exits (killed after ``timeout_s``);
    its exit code and everything it wrote to the terminal."""
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=cwd,
                               close_fds=True)
    os.close(child_fd)
    output = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    return process.returncode, bytes(output)


def walk_in_pty(argv: list[str], keys: list[tuple[float, bytes]], *, env: dict[str, str], cwd: Path,
                timeout_s: float = 60.0, rows: int = 24, columns: int = 80) -> tuple[int | None, bytes]:
    """Run ``argv`` under a pty and type ``keys``: each (seconds to wait first, bytes to write), as an
    operator would; everything the program wrote to the terminal comes back (``tmux capture-pane -e``
    without tmux: the raw stream, so any escape sequence it sent is in it). Killed after ``timeout_s``."""
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=cwd,
                               close_fds=True, start_new_session=True)
    os.close(child_fd)
    output = bytearray()
    deadline = time.monotonic() + timeout_s
    pending = list(keys)
    next_at = time.monotonic() + (pending[0][0] if pending else 0)
    try:
        while time.monotonic() < deadline:
            if pending and time.monotonic() >= next_at:
                os.write(main_fd, pending.pop(0)[1])
                next_at = time.monotonic() + (pending[0][0] if pending else 0)
            ready, _, _ = select.select([main_fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(main_fd)
    return process.returncode, bytes(output)


class Terminal:
    """An operator's terminal kept open: a program under a ``columns`` x ``rows`` pty whose output is drawn
    by a VT100 emulator (pyte), so a test reads the screen as the operator sees it and waits for text
    (bounded), instead of sleeping. Keys pressed with ``press`` are counted; text typed with ``type``
    (an id, a reason, a name) is not: the count is the operator's key budget "after typing an id"."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path, rows: int = 24,
                 columns: int = 80) -> None:
        import pyte

        self.rows, self.columns = rows, columns
        self._screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._main_fd, child_fd = pty.openpty()
        fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.process = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=cwd,
                                        close_fds=True, start_new_session=True)
        os.close(child_fd)
        self.keys = 0

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self._main_fd)

    def _drain(self, wait_s: float) -> None:
        ready, _, _ = select.select([self._main_fd], [], [], wait_s)
        if ready:
            try:
                chunk = os.read(self._main_fd, 65536)
            except OSError:  # the program closed the terminal
                return
            self._stream.feed(chunk)

    def text(self) -> str:
        """The screen now, one line per row (trailing blanks dropped)."""
        self._drain(0)
        return "\n".join(line.rstrip() for line in self._screen.display)

    def wait_for(self, *needles: str, timeout_s: float = 30.0, absent: tuple[str, ...] = ()) -> str:
        """Read the program's output until every needle is on screen (and none of ``absent``); the
        screen then. Fails naming what is missing and showing the screen after ``timeout_s``."""
        return self.wait_until(lambda shown: all(n in shown for n in needles) and not any(a in shown for a in absent),
                               f"{needles!r} (absent {absent!r})", timeout_s=timeout_s)

    def wait_until(self, met: Callable[[str], object], what: str, timeout_s: float = 30.0) -> str:
        """Read the program's output until ``met(screen)`` holds; the screen then. Fails naming ``what``
        and showing the screen after ``timeout_s`` (or when the program has exited)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._drain(0.05)
            shown = "\n".join(line.rstrip() for line in self._screen.display)
            if met(shown):
                return shown
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"waited {timeout_s:.0f} s for {what}; the screen:\n{shown}")

    def cursor_line(self) -> str:
        """The screen line the terminal's cursor is on (a focused text box puts it there)."""
        self._drain(0)
        return self._screen.display[self._screen.cursor.y].rstrip()

    def wait_for_cursor_on(self, needle: str, timeout_s: float = 20.0) -> None:
        """Bounded wait until the cursor is on a line holding ``needle`` (the box being typed into)."""
        deadline = time.monotonic() + timeout_s
        while needle not in self.cursor_line():
            if time.monotonic() > deadline:
                raise AssertionError(f"the cursor is not on {needle!r} but on {self.cursor_line()!r}:\n{self.text()}")
            self._drain(0.05)

    def settle(self, quiet_s: float = 0.3, timeout_s: float = 5.0) -> None:
        """Wait until the program has drawn nothing for ``quiet_s`` (bounded by ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._main_fd], [], [], quiet_s)
            if not ready:
                return
            self._drain(0)

    def press(self, *keys: str) -> None:
        """Press keys, each counted: a character, or a name (enter, escape, tab, up, down)."""
        names = {"enter": "\r", "escape": "\x1b", "tab": "\t", "up": "\x1b[A", "down": "\x1b[B",
                 "shift+tab": "\x1b[Z"}
        for key in keys:
            os.write(self._main_fd, names.get(key, key).encode())
            self.keys += 1
            if key == "escape":
                # A lone ESC is told from an escape sequence (alt+key) by a pause, as in any terminal.
                time.sleep(0.4)
            self.settle(0.05, timeout_s=1.0)

    def type(self, text: str) -> None:
        """Type text (not counted as keys: it is the id, reason or name the operator has to give)."""
        os.write(self._main_fd, text.encode())
        self.settle(0.05, timeout_s=1.0)
