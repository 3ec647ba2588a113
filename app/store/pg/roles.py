"""The writer and reader roles of a PostgreSQL store (``modeldeck db init``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.store.pg.schema import READER_GRANTS, REVOKE_PUBLIC, WRITER_GRANTS, split_statements

if TYPE_CHECKING:
    from app.store.pg.store import PgStore


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def init_roles(store: "PgStore", *, writer: str, reader: str, passwords: dict[str, str]) -> None:
    """Create the roles when missing (LOGIN; a password only when given), then set their grants."""
    from psycopg import sql

    with store.write():
        schema = _ident(store.one("SELECT current_schema()")[0])  # type: ignore[index]
        for role in (writer, reader):
            exists = store.one("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if not exists:
                store.run(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            if role in passwords:
                store.run(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                                      sql.Literal(passwords[role])))
        store.run(REVOKE_PUBLIC.replace("@SCHEMA@", schema))
        for grants, role in ((WRITER_GRANTS, writer), (READER_GRANTS, reader)):
            for statement in split_statements(grants):
                store.run(statement.replace("@SCHEMA@", schema).replace("@ROLE@", _ident(role)))
