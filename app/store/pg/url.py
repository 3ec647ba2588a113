"""A PostgreSQL store's address: ``postgresql://user@host:port/dbname[?password_env=VAR&sslmode=...]``.

The password never travels in the URL (a URL ends up in config files, shell history, logs and the
console's title): libpq reads ``PGPASSWORD`` or ``~/.pgpass`` itself, and ``password_env=VAR`` names
another environment variable to read it from. A URL that carries a password is refused, and what is
shown anywhere is ``display()``, which has none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from app.store.connection import StoreError

SCHEMES = ("postgresql://", "postgres://")


def is_pg_url(value: object) -> bool:
    """True for a postgresql:// address, also after ``pathlib.Path`` collapsed its '//' (``--db`` and the
    config's ``db`` are read as paths)."""
    text = str(value)
    return text.startswith(SCHEMES) or text.startswith(("postgresql:/", "postgres:/"))


def _restore(text: str) -> str:
    for scheme in ("postgresql:", "postgres:"):
        if text.startswith(scheme) and not text.startswith(scheme + "//"):
            return scheme + "//" + text[len(scheme):].lstrip("/")
    return text


@dataclass(frozen=True)
class PgUrl:
    """A parsed address; ``connect_kwargs()`` is what psycopg gets (the password only from the environment)."""

    user: str | None
    host: str | None
    port: int | None
    dbname: str
    options: tuple[tuple[str, str], ...]  # libpq options (sslmode ...), without password_env
    password_env: str | None = None

    @classmethod
    def parse(cls, value: str | Path) -> "PgUrl":
        text = _restore(str(value))
        parts = urlsplit(text)
        if parts.password is not None:
            raise StoreError("a postgresql:// store address must not contain a password: use PGPASSWORD, "
                             "~/.pgpass or ?password_env=VARIABLE")
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise StoreError(f"{_safe(text)}: name the database (postgresql://user@host/DBNAME)")
        options = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        if any(k == "password" for k, _ in options):
            raise StoreError("a postgresql:// store address must not contain a password: use PGPASSWORD, "
                             "~/.pgpass or ?password_env=VARIABLE")
        password_env = next((v for k, v in options if k == "password_env"), None)
        try:
            port = parts.port
        except ValueError:
            raise StoreError(f"{_safe(text)}: the port is not a number") from None
        return cls(user=unquote(parts.username) if parts.username else None, host=parts.hostname, port=port,
                   dbname=dbname, options=tuple((k, v) for k, v in options if k != "password_env"),
                   password_env=password_env)

    def display(self) -> str:
        """The address as shown to people: never a password (there is none to show)."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        query = dict(self.options)
        if self.password_env:
            query["password_env"] = self.password_env
        return f"postgresql://{user}{self.host or ''}{port}/{self.dbname}" + (f"?{urlencode(query)}" if query else "")

    def connect_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"dbname": self.dbname, "connect_timeout": 10,
                                     "application_name": "modeldeck"}
        if self.user:
            kwargs["user"] = self.user
        if self.host:
            kwargs["host"] = self.host
        if self.port:
            kwargs["port"] = self.port
        kwargs.update(dict(self.options))
        if self.password_env:
            password = os.environ.get(self.password_env)
            if password is None:
                raise StoreError(f"{self.display()}: the variable {self.password_env} (password_env) is not set")
            kwargs["password"] = password
        return kwargs

    def __str__(self) -> str:
        return self.display()


def _safe(text: str) -> str:
    """An address for an error message, with anything between '//' and '@' that has a ':' removed."""
    parts = urlsplit(text)
    if parts.password is None:
        return text
    return text.replace(f":{parts.password}@", "@")
