"""Where ingest reads from: files (plain or gzip), stdin, and files followed like ``tail -F``.

Every reader yields ``Block``s of whole lines with the number of their first line. Only
complete lines are handed on while more may come (a half-written last line waits); at
the true end of an input an unterminated last line counts as a line.
"""

from __future__ import annotations

import gzip
import os
import select
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from app.ingest.parse import MAX_LINE_BYTES, OVERLONG_HEAD, overlong_marker
from app.store.offsets import IngestOffset

BLOCK_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
STDIN_SOURCE = "<stdin>"


class SourceError(Exception):
    """An input that cannot be read; one line naming it."""


@dataclass(slots=True)
class Block:
    data: bytes  # whole lines; only the last block of an input may lack the final newline
    first_line_no: int
    source: str
    consumed: int  # bytes of the underlying file read so far: what the progress bar shows
    position: IngestOffset | None = None  # where to resume after this block (followed files)


def source_name(path: str) -> str:
    """The name a source is stored under (quarantine, offsets): absolute path, or <stdin>."""
    return STDIN_SOURCE if path == STDIN else os.path.abspath(path)


class _LineCutter:
    """Cuts a byte stream into whole lines, keeping count of lines and bytes consumed.

    Linear in the input: the unfinished line is kept as a list of chunks (joining the growing line
    with each new chunk was quadratic: a 300 MB line without a newline took 80 s and 1.3 GB). A line
    longer than ``max_line`` bytes is not kept: only its first ``OVERLONG_HEAD`` bytes are, handed on
    as one overlong-line marker that the parser quarantines with the reason (app/ingest/parse.py).
    """

    def __init__(self, line_no: int = 0, offset: int = 0, *, max_line: int = MAX_LINE_BYTES) -> None:
        self.parts: list[bytes] = []  # the unfinished line so far
        self.pending_len = 0  # its length in bytes, kept or not
        self.head: bytes | None = None  # set once the unfinished line is overlong: what is kept of it
        self.max_line = max_line
        self.line_no = line_no  # lines handed out so far
        self.offset = offset  # bytes handed out so far (where an unread line starts)

    @property
    def pending(self) -> bytes:
        return self.head if self.head is not None else b"".join(self.parts)

    def feed(self, data: bytes) -> tuple[bytes, int] | None:
        last = data.rfind(b"\n")
        if last < 0:
            self._hold(data)
            return None
        first = data.find(b"\n")
        consumed = self.pending_len + last + 1
        line = self._close(data[: first + 1])
        complete = line + data[first + 1: last + 1] if first < last else line
        self._hold(data[last + 1:])
        return self._hand_out(complete, consumed)

    def finish(self) -> tuple[bytes, int] | None:
        """The unterminated last line, once no more can come."""
        if not self.pending_len:
            return None
        consumed = self.pending_len
        return self._hand_out(self._close(b""), consumed, terminated=False)

    def _hold(self, data: bytes) -> None:
        if not data:
            return
        self.pending_len += len(data)
        if self.head is not None:
            return  # overlong: the rest of the line is counted, not kept
        self.parts.append(data)
        if self.pending_len > self.max_line:
            self.head = b"".join(self.parts)[:OVERLONG_HEAD]
            self.parts = []

    def _close(self, end: bytes) -> bytes:
        """The unfinished line completed by ``end`` (its newline included, or b"" at the end of input)."""
        length = self.pending_len + len(end)
        if self.head is None and length <= self.max_line:
            line = b"".join(self.parts) + end if self.parts else end
        else:
            head = self.head if self.head is not None else (b"".join(self.parts) + end)[:OVERLONG_HEAD]
            line = overlong_marker(length - end.endswith(b"\n"), head.split(b"\n", 1)[0]) \
                + (b"\n" if end.endswith(b"\n") else b"")
        self.parts, self.pending_len, self.head = [], 0, None
        return line

    def _hand_out(self, complete: bytes, consumed: int, *, terminated: bool = True) -> tuple[bytes, int]:
        first = self.line_no + 1
        self.line_no += complete.count(b"\n") + (0 if terminated else 1)
        self.offset += consumed
        return complete, first


def file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False


def read_file(path: str, *, block_size: int = BLOCK_SIZE) -> Iterator[Block]:
    """A whole file, plain or gzip (told apart by its first bytes, not its name)."""
    name = source_name(path)
    raw = _open(path)
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw  # type: ignore[assignment]
        cutter = _LineCutter()
        while True:
            try:
                data = stream.read(block_size)
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceError(f"{path}: {'not a readable gzip file' if compressed else 'read failed'} "
                                  f"after line {cutter.line_no} ({exc})") from None
            if not data:
                break
            cut = cutter.feed(data)
            if cut is not None:
                yield Block(cut[0], cut[1], name, raw.tell())
        cut = cutter.finish()
        if cut is not None:
            yield Block(cut[0], cut[1], name, raw.tell())


def _open(path: str) -> BinaryIO:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller's with
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot open ({exc.strerror or exc})") from None


def read_stdin(stop: threading.Event, *, idle_after_s: float = 0.5, stream: BinaryIO | None = None
               ) -> Iterator[Block | None]:
    """Standard input until it closes. Yields ``None`` when nothing arrived for a while, so
    the caller can commit what it has while a slow producer is quiet."""
    stream = sys.stdin.buffer if stream is None else stream
    try:
        fd: int | None = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (an in-memory stream)
        fd = None
    cutter = _LineCutter()
    consumed = 0
    while not stop.is_set():
        if fd is not None:
            ready, _, _ = select.select([fd], [], [], idle_after_s)
            if not ready:
                yield None
                continue
            data = os.read(fd, BLOCK_SIZE)
        else:
            data = stream.read(BLOCK_SIZE)
        if not data:
            break
        if consumed == 0 and data.startswith(GZIP_MAGIC):
            raise SourceError("-: standard input is gzip-compressed (pipe it through zcat, or pass the file name)")
        consumed += len(data)
        cut = cutter.feed(data)
        if cut is not None:
            yield Block(cut[0], cut[1], STDIN_SOURCE, consumed)
    cut = cutter.finish()
    if cut is not None:
        yield Block(cut[0], cut[1], STDIN_SOURCE, consumed)


class FollowedFile:
    """One path followed by name, like ``tail -F``.

    * growth: new whole lines are handed out as they are written;
    * rename + recreate (logrotate's default): the rest of the old file is read, then the
      new file from its start;
    * truncation in place (logrotate's copytruncate): reading starts again at the top.
    ``resume`` is where the previous run stopped; it is used only if the file at the path is
    still the same file (device and inode) and still that long.
    """

    def __init__(self, path: str, resume: IngestOffset | None = None,
                 note: Callable[[str], None] = lambda message: None, *, allow_swapped_link: bool = False) -> None:
        self.path = path
        # A symlink is resolved once, here: if it later points elsewhere (a key file swapped in for the
        # log), that file is refused with a warning instead of ingested, unless allowed.
        self._target = os.path.realpath(path)
        self._allow_swapped_link = allow_swapped_link
        self._swap_noted = False
        self.name = source_name(path)
        self._resume = resume
        self._note = note
        self._handle: BinaryIO | None = None
        self._identity: tuple[int, int] = (0, 0)
        self._cutter = _LineCutter()
        self._waiting_noted = False
        self._fp: tuple[int, str] | None = None  # (length, sha1 hex) of the file's first bytes read

    def position(self) -> IngestOffset:
        return IngestOffset(self.name, self._identity[0], self._identity[1], self._cutter.offset,
                            self._cutter.line_no, self._fingerprint())

    def _fingerprint(self) -> str | None:
        """``<n>:<sha1>`` of the first n bytes read (n up to FINGERPRINT_BYTES), or None before any."""
        length = min(FINGERPRINT_BYTES, self._cutter.offset)
        if length <= 0 or self._handle is None:
            return None
        if self._fp is None or self._fp[0] != length:
            self._fp = (length, _first_bytes_hash(self._handle, length))
        return f"{self._fp[0]}:{self._fp[1]}"

    def poll(self) -> Block | None:
        """The whole lines written since the last poll, or None."""
        if self._handle is None and not self._open():
            return None
        assert self._handle is not None
        if self._fp is not None and _first_bytes_hash(self._handle, self._fp[0]) != self._fp[1]:
            # Same file (inode), other first bytes: truncated and written again faster than we polled
            # (copytruncate), or rewritten in place. What is there now is new: read it from the top.
            self._note(f"{self.path}: truncated or replaced (its first bytes changed); reading it from the start")
            self._handle.seek(0)
            self._cutter, self._fp = _LineCutter(), None
        data = self._handle.read(BLOCK_SIZE)
        if data:
            return self._block(self._cutter.feed(data))
        return self._check_rotation()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _open(self) -> bool:
        target = os.path.realpath(self.path)
        if target != self._target and not self._allow_swapped_link:
            if not self._swap_noted:
                self._note(f"warning: {self.path} now points to {target}, not {self._target} as at the start: "
                           "not followed")
                self._swap_noted = True
            return False
        try:
            handle = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept open while following
        except FileNotFoundError:
            if not self._waiting_noted:
                self._note(f"{self.path}: not there yet; waiting for it")
                self._waiting_noted = True
            return False
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot open ({exc.strerror or exc})") from None
        if handle.read(2) == GZIP_MAGIC:
            handle.close()
            raise SourceError(f"{self.path}: cannot follow a compressed file (drop --follow to read it once)")
        stat = os.fstat(handle.fileno())
        self._handle, self._identity = handle, (stat.st_dev, stat.st_ino)
        resume, self._resume = self._resume, None
        if resume is not None and (resume.device, resume.inode) == self._identity and stat.st_size >= resume.offset \
                and _same_start(handle, resume.fingerprint):
            handle.seek(resume.offset)
            self._cutter = _LineCutter(resume.line_no, resume.offset)
        else:
            if resume is not None and resume.offset > 0:
                self._note(f"{self.path}: not the file read last time (rotated or truncated since); "
                           "reading it from the start")
            handle.seek(0)
            self._cutter = _LineCutter()
        self._fp = None
        return True

    def _check_rotation(self) -> Block | None:
        assert self._handle is not None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None  # renamed away, the new file not created yet: keep the old one
        if (stat.st_dev, stat.st_ino) != self._identity:
            # Rotated: the old file was read to its end just above, so a last line without
            # a newline is as complete as it will get. Hand it out, then switch files.
            tail = self._block(self._cutter.finish())
            self.close()
            self._open()
            return tail
        if stat.st_size < self._handle.tell():
            self._note(f"{self.path}: truncated; reading it again from the start")
            self._handle.seek(0)
            self._cutter, self._fp = _LineCutter(), None
        return None

    def _block(self, cut: tuple[bytes, int] | None) -> Block | None:
        if cut is None:
            return None
        return Block(cut[0], cut[1], self.name, self._cutter.offset, self.position())


FINGERPRINT_BYTES = 1024


def _first_bytes_hash(handle: BinaryIO, length: int) -> str:
    import hashlib

    return hashlib.sha1(os.pread(handle.fileno(), length, 0)).hexdigest()


def _same_start(handle: BinaryIO, fingerprint: str | None) -> bool:
    """Whether the file still starts with the bytes fingerprinted when its offset was stored (an offset
    stored before fingerprints existed is trusted, as it was)."""
    if not fingerprint:
        return True
    length, _, digest = fingerprint.partition(":")
    return length.isdigit() and _first_bytes_hash(handle, int(length)) == digest


def follow(files: list[FollowedFile], stop: threading.Event, *, on_error: Callable[[SourceError], None],
           min_wait_s: float = 0.05, max_wait_s: float = 1.0) -> Iterator[Block | None]:
    """Round-robin over followed files until ``stop`` is set (or none is left: a file that
    cannot be read is reported to ``on_error`` and dropped). Yields ``None`` each time all of
    them are quiet, then sleeps; the sleep doubles up to ``max_wait_s`` while they stay quiet."""
    wait = min_wait_s
    files = list(files)
    try:
        while files and not stop.is_set():
            quiet = True
            for followed in list(files):
                while not stop.is_set():  # drain this file before the next, block by block
                    try:
                        block = followed.poll()
                    except SourceError as exc:
                        on_error(exc)
                        followed.close()
                        files.remove(followed)
                        break
                    if block is None:
                        break
                    quiet = False
                    yield block
            if quiet:
                yield None
                stop.wait(wait)
                wait = min(wait * 2, max_wait_s)
            else:
                wait = min_wait_s
    finally:
        for followed in files:
            followed.close()
