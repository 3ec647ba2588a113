"""The command line: ``modeldeck [tui|demo|ingest|search|check|...]``.

Each subcommand lives in ``app/cli/<name>.py`` and is imported only when it runs,
so ``modeldeck`` (the console) starts without paying for numpy, scipy or sqlite-utils.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from functools import cached_property
from typing import TYPE_CHECKING, Callable, NoReturn

import click

from app.config.source import ConfigError, SettingsSource
from app.store import connection as store_connection
from app.store.connection import StoreError

if TYPE_CHECKING:
    from app.config.settings import Settings

def _tui() -> click.Command:
    from app.cli.tui import tui

    return tui


def _demo() -> click.Command:
    from app.cli.demo import demo

    return demo


def _ingest() -> click.Command:
    from app.cli.ingest import ingest

    return ingest


def _search() -> click.Command:
    from app.cli.search import search

    return search


def _quarantine() -> click.Command:
    from app.cli.quarantine import quarantine

    return quarantine


def _rollback() -> click.Command:
    from app.cli.rollback import rollback

    return rollback


def _disable() -> click.Command:
    from app.cli.disable import disable

    return disable


def _drift() -> click.Command:
    from app.cli.drift import drift

    return drift


def _baseline() -> click.Command:
    from app.cli.baseline import baseline

    return baseline


def _check() -> click.Command:
    from app.cli.check import check

    return check


def _report() -> click.Command:
    from app.cli.report import report

    return report


def _gate() -> click.Command:
    from app.cli.gate import gate

    return gate


def _promote() -> click.Command:
    from app.cli.promote import promote

    return promote


def _signoff() -> click.Command:
    from app.cli.signoff import signoff

    return signoff


def _waive() -> click.Command:
    from app.cli.waive import waive

    return waive


def _reopen() -> click.Command:
    from app.cli.reopen import reopen

    return reopen


def _review() -> click.Command:
    from app.cli.review import review

    return review


def _evaluate() -> click.Command:
    from app.cli.evaluate import evaluate

    return evaluate


def _watch() -> click.Command:
    from app.cli.watch import watch

    return watch


def _card() -> click.Command:
    from app.cli.card import card

    return card


def _metrics() -> click.Command:
    from app.cli.metrics import metrics

    return metrics


def _sync() -> click.Command:
    from app.cli.sync import sync

    return sync


def _migrate_store() -> click.Command:
    from app.cli.migrate_store import migrate_store

    return migrate_store


def _db() -> click.Command:
    from app.cli.db import db

    return db


def _quality() -> click.Command:
    from app.cli.quality import quality

    return quality


def _drill() -> click.Command:
    from app.cli.drill import drill

    return drill


def _prune() -> click.Command:
    from app.cli.prune import prune

    return prune


def _serve() -> click.Command:
    from app.cli.serve import serve

    return serve


# Each command's module is imported only when that command runs: a typed loader per name, kept in the
# order an operator reaches for them.
COMMANDS: dict[str, Callable[[], click.Command]] = {
    "tui": _tui,
    "demo": _demo,
    "ingest": _ingest,
    "search": _search,
    "quarantine": _quarantine,
    "rollback": _rollback,
    "disable": _disable,
    "drift": _drift,
    "baseline": _baseline,
    "check": _check,
    "report": _report,
    "signoff": _signoff,
    "waive": _waive,
    "reopen": _reopen,
    "review": _review,
    "evaluate": _evaluate,
    "gate": _gate,
    "promote": _promote,
    "watch": _watch,
    "card": _card,
    "metrics": _metrics,
    "sync": _sync,
    "db": _db,
    "migrate-store": _migrate_store,
    "quality": _quality,
    "drill": _drill,
    "prune": _prune,
    "serve": _serve,
}


@dataclass
class CliContext:
    """What every subcommand gets: where the settings come from, and the settings once read."""

    source: SettingsSource
    db_given: bool = field(default=False)
    at_ms: int | None = field(default=None)
    """``--at``: the console shows the store as it stood then (incident time travel)."""

    @cached_property
    def settings(self) -> Settings:
        """Validated on first use (raises ``ConfigError``, which ``LazyGroup`` turns into one line)."""
        return self.source.load()

    @property
    def db_path(self) -> Path:
        from app.config.settings import resolve_db_path

        return resolve_db_path(self.settings)

    @property
    def store_name(self) -> str:
        """The store as shown to people and handed to child processes: a file's path, or a PostgreSQL address
        with its '//' (``db_path`` is a ``Path``, which collapses it) and never a password."""
        from app.store.location import StoreLocation

        return str(StoreLocation(self.db_path))

    def store_exists(self) -> bool:
        """A store file that exists, or a PostgreSQL address (its server says, when opened, whether it
        holds a store)."""
        from app.store.pg.url import is_pg_url

        return is_pg_url(self.db_path) or self.db_path.exists()

    def open_store(self, *, read_only: bool = False):  # -> app.store.Store (imported lazily)
        from app.store import Store

        return Store.open(self.db_path, read_only=read_only)

    def open_to_read(self, path: Path | None = None):  # -> app.store.Store
        """Open the store (``path``, else the configured one) for a command that only reads it. A file is opened
        read-write when it may be, so a store an older modeldeck wrote is brought up to this schema (as any
        writing command would) instead of refused; one we may not write is read as it is. Never created. A
        PostgreSQL store is read as it is: its schema is ``db init``'s."""
        from app.store import Store, StoreError
        from app.store.pg.url import is_pg_url

        path = path if path is not None else self.db_path
        if is_pg_url(path):
            return Store.open(path, read_only=True, create=False)
        if not path.exists():
            raise StoreError(f"{path}: no such store")
        try:
            return Store.open(path, create=False)
        except StoreError:
            return Store.open(path, read_only=True)  # a file we may not write: read it as it is

    def model_names(self, store: object = None) -> list[str]:
        """Every model a command may name: the store's catalogue (logged, synced, the demo's) and the config's."""
        names = set(self.settings.models)
        if store is not None:
            names |= set(store.registry.names())  # type: ignore[attr-defined]
        elif self.store_exists():
            with self.open_store() as opened:
                names |= set(opened.registry.names())
        return sorted(names)

    def resolve_model(self, given: str, store: object = None) -> str:
        """THE model name resolution of every command (app.catalogue): exact, else a unique prefix (said on
        stderr: ``fraud -> fraud-scorer``), else one line naming the closest names and exit 2."""
        from app.catalogue import UnknownName, resolve_name

        try:
            resolved = resolve_name(given, self.model_names(store), kind="model")
        except UnknownName as exc:
            fail(str(exc))
        if resolved.notice:
            click.echo(resolved.notice, err=True)
        return resolved.name

    def resolve_version(self, store: object, model: str, given: str) -> str:
        """A version of ``model`` the same way (``gate --candidate v9`` with no v9 is an error, exit 2)."""
        from app.catalogue import UnknownName, resolve_name

        try:
            resolved = resolve_name(given, store.registry.version_names(model),  # type: ignore[attr-defined]
                                    kind="version", scope=model)
        except UnknownName as exc:
            fail(str(exc))
        if resolved.notice:
            click.echo(resolved.notice, err=True)
        return resolved.name


def _tell_migrating(old: int, new: int) -> None:
    from app.store.schema import migration_work

    click.echo(f"modeldeck: upgrading the store (schema {old} -> {new}): this {migration_work(old, new)} "
               "and can take a minute", err=True)


def fail(message: str) -> "NoReturn":
    """One line on stderr, exit 2: how every command says the operator asked for something that is not there."""
    from app.text import terminal_line

    click.echo(f"modeldeck: error: {terminal_line(message)}", err=True)
    sys.exit(2)


# The group's options, accepted after the command too (`modeldeck ingest f.jsonl --db s.db`).
GLOBAL_WITH_VALUE = ("--db", "--config", "--at")
GLOBAL_FLAGS = ("--read-only",)


def hoist_global_options(args: list[str], declared: "Callable[[str], set[str]]") -> list[str]:
    """Move the group's options found after the command name in front of it, so click parses them
    as the group's. ``declared(command)`` names the options the command has itself (``search --db``):
    those stay where they are. Nothing after ``--`` moves."""
    command_at = None
    i = 0
    while i < len(args):  # the command is the first word that is neither an option nor a global's value
        arg = args[i]
        if arg in GLOBAL_WITH_VALUE:
            i += 2
            continue
        if not arg.startswith("-"):
            command_at = i
            break
        i += 1
    if command_at is None:
        return args
    own = declared(args[command_at])
    front, rest = list(args[:command_at + 1]), []
    tail = args[command_at + 1:]
    j = 0
    while j < len(tail):
        arg = tail[j]
        if arg == "--":
            rest.extend(tail[j:])
            break
        name = arg.split("=", 1)[0]
        if name in own:
            rest.append(arg)
        elif arg in GLOBAL_WITH_VALUE and j + 1 < len(tail):
            front[command_at:command_at] = [arg, tail[j + 1]]
            command_at += 2
            j += 2
            continue
        elif (name in GLOBAL_WITH_VALUE and "=" in arg) or arg in GLOBAL_FLAGS:
            front[command_at:command_at] = [arg]
            command_at += 1
        else:
            rest.append(arg)
        j += 1
    return front + rest


_SUB_ARGS = "modeldeck.subcommand_args"


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        def declared(name: str) -> set[str]:
            if name not in COMMANDS:
                return set()
            command = self.get_command(ctx, name)
            return {opt for param in getattr(command, "params", []) for opt in getattr(param, "opts", [])}

        return super().parse_args(ctx, hoist_global_options(list(args), declared))

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[no-untyped-def]
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[_SUB_ARGS] = list(rest)  # the group's callback runs before the command parses them
        return name, command, rest

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        load = COMMANDS.get(name)
        return load() if load is not None else None

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        # Operator-facing failures are one line on stderr, never a traceback.
        try:
            return super().invoke(ctx)
        except (StoreError, ConfigError) as exc:
            for line in str(exc).splitlines():
                click.echo(f"modeldeck: error: {line}", err=True)
            sys.exit(2)
        except BrokenPipeError:
            # `modeldeck search ... | head`: the reader left; stop quietly.
            sys.stderr.close()
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own ends (`--help`, a usage error): nothing below applies, nothing to import
        except Exception as exc:
            from app.guard import ReadOnlyRefused
            from app.text import terminal_line

            if not isinstance(exc, ReadOnlyRefused):
                from app.store.connection import failure

                failed = failure(exc)  # disk full, a damaged file, an I/O error: one line, not a traceback
                if failed is None:
                    raise
                click.echo(f"modeldeck: error: {terminal_line(failed)}", err=True)
                sys.exit(2)

            # A refused write (audited as refused) is an outcome, like a refused rollback: exit 1.
            click.echo(f"modeldeck: {terminal_line(exc)}", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Store file or postgresql://user@host/dbname (else MODELDECK_DB, the config's db, or "
                   "modeldeck.db in the user data dir).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Config file (else MODELDECK_CONFIG, ./modeldeck.toml, or the user config dir).")
@click.option("--read-only", is_flag=True, default=None, help="Refuse every action that changes a model.")
@click.option("--at", "at_text", default=None, metavar="TIME",
              help="Console: the store as it stood at TIME (2026-11-29T03:40Z, or 2h ago), read-only.")
@click.version_option(package_name="modeldeck")
@click.pass_context
def main(ctx: click.Context, db: Path | None, config_path: Path | None, read_only: bool | None,
         at_text: str | None) -> None:
    """modeldeck: the fleet, readiness, drift, prediction logs and rollback, in one terminal console.

    With no command, opens the console on the configured store.
    """
    at_ms = None
    if at_text is not None:
        from app.timeutil import now_ms, parse_time_ref

        try:
            at_ms = parse_time_ref(at_text)
        except ValueError as exc:
            fail(f"--at: {exc}")
        if at_ms > now_ms():
            fail("--at: that time is in the future; the store holds only the past")
        read_only = True  # viewing the past changes nothing
    # A schema upgrade of a big store rebuilds indexes (minutes at 10M rows): every command says why it waits.
    store_connection.migration_listener = _tell_migrating
    ctx.obj = cli = CliContext(SettingsSource(config_path, db=db, read_only=read_only), db_given=db is not None,
                               at_ms=at_ms)
    if ctx.invoked_subcommand is None:
        ctx.invoke(LazyGroup.get_command(main, ctx, "tui"))  # type: ignore[arg-type]
    elif ctx.invoked_subcommand != "tui" and not _asks_help(ctx.meta.get(_SUB_ARGS, [])):
        # Headless commands validate the settings up front, so a typo in the config is reported even by a
        # command that never reads it. The console reads them after its first paint (app/config/source.py).
        # `COMMAND --help` reads nothing: it skips settings validation (pydantic, most of its start-up).
        cli.settings


def _asks_help(args: list[str]) -> bool:
    """Whether the subcommand's arguments ask for its help (before any ``--``)."""
    for arg in args:
        if arg == "--":
            return False
        if arg in ("--help", "-h"):
            return True
    return False


pass_cli = click.make_pass_decorator(CliContext)
