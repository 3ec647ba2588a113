"""Search results to JSON Lines or CSV, streamed: rows are written as they are fetched.

JSONL is the ingest format (ISO timestamps, the record's own field names), so an export can be
ingested again unchanged. CSV has one column per field, features and context as JSON text; a text cell that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``) starts with a quote.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Literal

import orjson

from app.store.predictions import COLUMNS, record_from_row

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")


def jsonl_line(row: dict[str, Any]) -> bytes:
    return orjson.dumps(record_from_row(row)) + b"\n"


def csv_cells(row: dict[str, Any]) -> list[str]:
    record = record_from_row(row)
    cells = []
    for key in COLUMNS:
        value = record.get(key)
        if value is None:
            cells.append("")
        elif isinstance(value, (dict, list)):
            cells.append(orjson.dumps(value).decode())
        elif isinstance(value, str):
            cells.append(csv_safe(value))
        else:
            cells.append(str(value))  # a number is a number to a spreadsheet, even -0.5
    return cells


# A text cell starting with one of these is a formula to Excel, LibreOffice and Sheets
# (=HYPERLINK(...), +cmd|' /C calc'!A0, @SUM(...)); OWASP's advice: a leading quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A text value for a CSV cell that no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_rows(rows: Iterable[dict[str, Any]], out: IO[bytes], fmt: Format, *,
               progress: Callable[[int], None] | None = None, every: int = 1000) -> int:
    """Write ``rows`` to a binary stream in ``fmt``; returns how many. Flushes every ``every`` rows
    so a pipe reader sees output while the search is still running."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (use jsonl or csv)")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(COLUMNS)
        out.write(buffer.getvalue().encode())
    written = 0
    chunk: list[bytes] = []
    for row in rows:
        if fmt == "jsonl":
            chunk.append(jsonl_line(row))
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(csv_cells(row))
            chunk.append(buffer.getvalue().encode())
        written += 1
        if len(chunk) >= every:
            out.write(b"".join(chunk))
            out.flush()
            chunk.clear()
            if progress is not None:
                progress(written)
    if chunk:
        out.write(b"".join(chunk))
    out.flush()
    if progress is not None:
        progress(written)
    return written


def export_file(rows: Iterable[dict[str, Any]], path: Path, fmt: Format, *,
                progress: Callable[[int], None] | None = None) -> int:
    """Write to ``path`` through a temporary name, so a cancelled export leaves no half file."""
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            written = write_rows(rows, out, fmt, progress=progress)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def format_for(path: Path) -> Format:
    """The format a file name asks for (``.csv`` -> csv, anything else -> jsonl)."""
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"
