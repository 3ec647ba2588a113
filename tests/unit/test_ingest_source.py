"""Reading inputs: whole lines only, gzip by content, and following a real file like tail -F."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from app.ingest.source import FollowedFile, SourceError, read_file
from app.store.offsets import IngestOffset


def lines_of(blocks) -> list[tuple[int, bytes]]:
    """(line number, line) for every line handed out."""
    out = []
    for block in blocks:
        if block is None:
            continue
        data = block.data[:-1] if block.data.endswith(b"\n") else block.data
        for offset, text in enumerate(data.split(b"\n")):
            out.append((block.first_line_no + offset, text))
    return out


def test_a_file_is_cut_into_whole_lines_across_small_reads(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"first\nsecond line\n\nfourth")
    assert lines_of(read_file(str(path), block_size=4)) == [(1, b"first"), (2, b"second line"), (3, b""),
                                                            (4, b"fourth")]


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path):
    path = tmp_path / "log.jsonl"  # no .gz suffix
    path.write_bytes(gzip.compress(b"a\nb\n"))
    assert lines_of(read_file(str(path))) == [(1, b"a"), (2, b"b")]


def test_a_truncated_gzip_file_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\n" * 10_000)[:-20])
    with pytest.raises(SourceError, match="cut.jsonl.gz: not a readable gzip file"):
        list(read_file(str(path)))


@pytest.mark.parametrize(("make", "message"), [(lambda p: None, "no such file"), (os.mkdir, "is a directory")])
def test_unreadable_paths_are_one_line_errors(tmp_path: Path, make, message: str):
    path = tmp_path / "missing.jsonl"
    make(path)
    with pytest.raises(SourceError, match=message):
        list(read_file(str(path)))


class TestFollowedFile:
    def test_a_partial_last_line_waits_for_its_newline(self, tmp_path: Path):
        path = tmp_path / "live.jsonl"
        path.write_bytes(b"one\ntw")
        followed = FollowedFile(str(path))
        assert lines_of([followed.poll()]) == [(1, b"one")]
        assert followed.poll() is None
        with path.open("ab") as handle:
            handle.write(b"o\nthree\n")
        assert lines_of([followed.poll()]) == [(2, b"two"), (3, b"three")]
        assert followed.position().offset == path.stat().st_size
        followed.close()

    def test_rename_and_recreate_reads_the_rest_of_the_old_file_then_the_new(self, tmp_path: Path):
        path = tmp_path / "live.jsonl"
        path.write_bytes(b"one\n")
        followed = FollowedFile(str(path))
        assert lines_of([followed.poll()]) == [(1, b"one")]
        with path.open("ab") as handle:
            handle.write(b"two\nunfinished")
        path.rename(tmp_path / "live.jsonl.1")
        assert lines_of([followed.poll()]) == [(2, b"two")]
        assert followed.poll() is None  # renamed away, nothing new yet: keep waiting
        path.write_bytes(b"new one\n")
        assert lines_of([followed.poll()]) == [(3, b"unfinished")]  # the old file's last line, complete now
        assert lines_of([followed.poll()]) == [(1, b"new one")]
        followed.close()

    def test_copytruncate_starts_again_from_the_top(self, tmp_path: Path):
        path = tmp_path / "live.jsonl"
        path.write_bytes(b"one\ntwo\n")
        followed = FollowedFile(str(path))
        assert len(lines_of([followed.poll()])) == 2
        with path.open("r+b") as handle:
            handle.truncate(0)
        assert followed.poll() is None
        with path.open("ab") as handle:
            handle.write(b"after\n")
        assert lines_of([followed.poll()]) == [(1, b"after")]
        followed.close()

    def test_resumes_from_a_stored_offset_of_the_same_file(self, tmp_path: Path):
        path = tmp_path / "live.jsonl"
        path.write_bytes(b"one\ntwo\nthree\n")
        stat = path.stat()
        resume = IngestOffset(str(path), stat.st_dev, stat.st_ino, offset=8, line_no=2)
        followed = FollowedFile(str(path), resume)
        assert lines_of([followed.poll()]) == [(3, b"three")]
        followed.close()

    def test_a_stored_offset_of_another_file_is_not_used(self, tmp_path: Path):
        path = tmp_path / "live.jsonl"
        path.write_bytes(b"one\ntwo\nthree\n")
        stat = path.stat()
        notes: list[str] = []
        resume = IngestOffset(str(path), stat.st_dev, stat.st_ino + 1, offset=8, line_no=2)
        followed = FollowedFile(str(path), resume, note=notes.append)
        assert [n for n, _ in lines_of([followed.poll()])] == [1, 2, 3]
        assert "reading it from the start" in notes[0]
        followed.close()

    def test_a_gzip_file_cannot_be_followed(self, tmp_path: Path):
        path = tmp_path / "old.jsonl.gz"
        path.write_bytes(gzip.compress(b"a\n"))
        with pytest.raises(SourceError, match="cannot follow a compressed file"):
            FollowedFile(str(path)).poll()
