"""The Logs screen's query history, kept across sessions, one file per store in the user's state
directory (platformdirs: ``~/.local/state/modeldeck/search-history/`` on Linux).

One query a line, oldest first; a store is named by a hash of its absolute path, so two stores never
share a history and a path never appears in a file name. Plain file I/O, no Textual: the screen calls
these from a worker. Errors (a read-only home, a full disk) are the caller's to ignore: history is a
convenience, never a reason to fail a search.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

KEEP = 200  # entries kept per store (the query bar keeps as many)
ENV = "MODELDECK_STATE_DIR"  # overrides the state directory (tests, a shared jump host)


def history_path(store: Path) -> Path:
    base = os.environ.get(ENV)
    if base:
        root = Path(base)
    else:
        from platformdirs import user_state_path

        root = user_state_path("modeldeck")
    from app.store.location import StoreLocation

    location = StoreLocation(Path(store))
    # A PostgreSQL store is its address (resolving it as a path would tie its history to the working directory).
    name = str(location) if location.is_server else str(Path(store).resolve())
    digest = hashlib.sha1(name.encode()).hexdigest()[:16]
    return root / "search-history" / f"{digest}.txt"


def load(store: Path) -> list[str]:
    """The store's queries, oldest first (at most KEEP); nothing when there is no history yet."""
    try:
        text = history_path(store).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line.strip()][-KEEP:]


def save(store: Path, queries: list[str]) -> None:
    """Keep the newest KEEP ``queries`` (newlines inside one would split it: they become spaces)."""
    path = history_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [" ".join(q.split()) for q in queries if q.strip()][-KEEP:]
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    temporary.replace(path)  # whole or not at all: two consoles never leave half a file


def add(store: Path, query: str) -> None:
    """Append one run query to what is on disk now (an earlier copy of it moves to the end), so two
    consoles on one store keep both their queries instead of the last to save replacing the other's."""
    line = " ".join(query.split())
    if not line:
        return
    save(store, [q for q in load(store) if q != line] + [line])
