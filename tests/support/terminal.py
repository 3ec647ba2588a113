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
