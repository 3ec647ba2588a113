"""The files of the top-level ``data/`` folder (example config, record schema, http protocol, demo gates).

They live in ``data/`` in the repository and ship inside the wheel as ``app/data/`` (pyproject maps
one onto the other), so every reader asks here instead of counting parent folders from its own file.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def data_file(name: str) -> Traversable:
    """``name`` in the shipped data folder: inside the installed package, else the checkout's ``data/``.

    The result may name a file that does not exist (a trimmed install); callers that can do
    without it catch ``OSError`` when they open it.
    """
    shipped = resources.files("app") / "data"
    if shipped.is_dir():
        return shipped / name
    # A checkout (editable install or PYTHONPATH): app/ and data/ are siblings.
    return Path(__file__).resolve().parents[2] / "data" / name
