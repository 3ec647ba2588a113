"""``modeldeck db init``: prepare a PostgreSQL store for a team (schema, writer and reader roles).
``modeldeck db compact OUT``: a coded copy of an SQLite store of names (issue 18 item 5)."""

from __future__ import annotations

import os

import click

from pathlib import Path

from app.cli.main import CliContext, fail, pass_cli


@click.group()
def db() -> None:
    """The store itself: prepare a shared PostgreSQL store (--db postgresql://user@host/dbname), or compact
    an SQLite one."""


@db.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def compact(cli: CliContext, out: Path) -> None:
    """Write OUT: a copy of the SQLite store whose rows hold each JSON key once per store (about a fifth
    smaller). For a store that held rows before this modeldeck (new stores are compact already).

    The store itself is only read: consoles, ingest and watch keep working while the copy is made (OUT.part,
    recoded a chunk at a time; run again to resume a stopped run). Then stop what has the store open, move
    OUT over it, and run `modeldeck ingest` on the same sources again for what arrived meanwhile.
    """
    import sys

    from app.store import Store
    from app.store.compact import AlreadyCoded, compact as compact_store
    from app.store.pg.url import is_pg_url

    if is_pg_url(cli.db_path):
        fail("db compact is for an SQLite store (PostgreSQL compresses its jsonb itself)")
    from app.cli.migrate_store import _bar

    bar = _bar()
    shown: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if bar is not None:
            bar.update(stage, done, total)
        elif stage != "recode" or done * 10 // max(total, 1) != shown.get(stage):  # a line per tenth
            shown[stage] = done * 10 // max(total, 1)
            click.echo(f"{stage} {done:,}/{total:,}" if stage == "recode" else f"{stage}...", file=sys.stderr)

    with Store.open(cli.db_path, read_only=True) as store:
        try:
            result = compact_store(store.conn, out, progress=progress)  # type: ignore[attr-defined]
        except AlreadyCoded as exc:
            fail(str(exc))
        except FileExistsError as exc:
            fail(str(exc))
        finally:
            if bar is not None:
                bar.close()
    click.echo(f"{out}: {result.rows:,} predictions, keys coded{' (resumed)' if result.resumed else ''}; "
               f"{cli.db_path} unchanged")


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
