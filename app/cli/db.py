"""``modeldeck db init``: prepare a PostgreSQL store for a team (schema, writer and reader roles)."""

from __future__ import annotations

import os

import click

from app.cli.main import CliContext, fail, pass_cli


@click.group()
def db() -> None:
    """The shared PostgreSQL store (--db postgresql://user@host/dbname)."""


@db.command()
@click.option("--writer", default="modeldeck_writer", show_default=True, metavar="ROLE",
              help="Role for ingest, watch and sync: writes the log and the catalogue, never changes the audit.")
@click.option("--reader", default="modeldeck_reader", show_default=True, metavar="ROLE",
              help="Role for consoles: reads everything; acts (rollback) only through audited functions.")
@click.option("--writer-password-env", metavar="VAR", default=None,
              help="Give the writer this environment variable's value as its password (else set it yourself).")
@click.option("--reader-password-env", metavar="VAR", default=None,
              help="Give the reader this environment variable's value as its password.")
@pass_cli
def init(cli: CliContext, writer: str, reader: str, writer_password_env: str | None,
         reader_password_env: str | None) -> None:
    """Create (or bring up to date) the modeldeck schema and its two roles; run it as the database owner.

    Safe to run again: roles that exist are kept (their password changes only when one is given) and
    their grants are set again. The config's [search] indexed_features get their expression indexes.
    """
    from app.store import Store
    from app.store.pg.url import is_pg_url

    if not is_pg_url(cli.db_path):
        fail("db init prepares a PostgreSQL store: give --db postgresql://owner@host/dbname")
    passwords = {}
    for role, var in ((writer, writer_password_env), (reader, reader_password_env)):
        if var is not None:
            if not os.environ.get(var):
                fail(f"the variable {var} (password of {role}) is not set")
            passwords[role] = os.environ[var]
    if writer == reader:
        fail("the writer and the reader must be two roles")
    with Store.open(cli.db_path) as store:
        from app.store.pg.roles import init_roles

        init_roles(store, writer=writer, reader=reader, passwords=passwords)  # type: ignore[arg-type]
        from app.store.pg.search import ensure_feature_indexes

        # Only the owner may index the log: the config's [search] indexed_features are indexed here.
        indexed = ensure_feature_indexes(store, cli.settings.search.indexed_features)  # type: ignore[arg-type]
        if indexed:
            click.echo(f"indexed features {', '.join(indexed)} for search")
        location = store.url
        version = store.schema_version()
    for role, what in ((writer, "ingest, watch, sync"), (reader, "consoles")):
        shown = location.display().replace(f"//{location.user}@", f"//{role}@") if location.user else \
            location.display().replace("//", f"//{role}@", 1)
        click.echo(f"{role:<18} {what:<20} {shown}")
    click.echo(f"schema {version} ready; passwords are never shown (PGPASSWORD, ~/.pgpass or "
               "?password_env=VAR)")
