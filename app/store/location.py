"""Where a store is: a small typed value the console hands its screens, opened by the views that read it.

Opening through a ``StoreLocation`` never creates a file: the console must say a store is missing (a
deleted file, a typo in ``:store``), not leave an empty one behind. A ``postgresql://`` location is a
server's: it "exists" (the server says, when opened, whether it holds a modeldeck schema) and is named by
its address without a password (there never is one in it: app/store/pg/url.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.store import Store

@dataclass(frozen=True)
class StoreLocation:
    """The store file the console reads; ``open()`` refuses a missing file instead of creating it."""

    path: Path

    @property
    def is_server(self) -> bool:
        from app.store.pg.url import is_pg_url

        return is_pg_url(self.path)

    @property
    def name(self) -> str:
        return str(self) if self.is_server else self.path.name

    def exists(self) -> bool:
        return self.is_server or self.path.is_file()

    def open(self, *, read_only: bool = False) -> "Store":
        """The store, migrated when opened read-write; a missing or bad file raises ``StoreError``."""
        from app.store import Store

        return Store.open(self.path, read_only=read_only, create=False)

    def __str__(self) -> str:
        if self.is_server:
            from app.store.pg.url import PgUrl

            return PgUrl.parse(str(self.path)).display()
        return str(self.path)
