"""``modeldeck serve [--host H] [--port N] [--allow-actions]``: the console in a browser (textual-serve).

Each browser tab runs its own console process on the server, over a websocket. Nobody reaches it
without the token printed at start: the first request carries it (``?token=``), which sets an HttpOnly,
SameSite=Strict cookie; the websocket needs that cookie and an Origin of this server (so another site
open in the same browser cannot drive the console). Read-only unless ``--allow-actions``: the console
process runs with ``--read-only``, which the action layer enforces (a rollback is refused and audited).
"""

from __future__ import annotations

import hmac
import secrets
import shlex
import sys
from typing import TYPE_CHECKING, Any

import click

from app.cli.main import CliContext, fail, pass_cli

if TYPE_CHECKING:
    from aiohttp import web

COOKIE = "modeldeck_token"


def console_command(cli: CliContext, *, allow_actions: bool) -> str:
    """The shell command textual-serve runs per browser tab: this Python, this store and config."""
    argv = [sys.executable, "-c", "from app.cli.main import main; main()"]
    source = cli.source
    if getattr(source, "config_path", None) is not None:
        argv += ["--config", str(source.config_path)]
    argv += ["--db", cli.store_name]
    if not allow_actions:
        argv.append("--read-only")
    return shlex.join(argv)


def token_guard(token: str, public_url: str) -> Any:
    """An aiohttp middleware: the page needs the token (query, then cookie), the websocket the cookie and
    our own Origin. Static files (the terminal's JavaScript and fonts) are public."""
    from aiohttp import web

    def has_token(request: web.Request) -> bool:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)
        if request.path == "/ws" and request.headers.get("Origin", public_url) != public_url:
            raise web.HTTPForbidden(text="modeldeck serve: wrong origin\n")
        if not has_token(request):
            raise web.HTTPForbidden(text="modeldeck serve: open the URL with the token printed at start\n")
        response = await handler(request)
        if request.query.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        return response

    return guard


def make_server(command: str, host: str, port: int, token: str) -> Any:
    from textual_serve.server import Server

    class GuardedServer(Server):
        async def _make_app(self) -> "web.Application":
            app = await super()._make_app()
            app.middlewares.append(token_guard(token, self.public_url))
            return app

        def initialize_logging(self) -> None:  # textual-serve's banner would print the URL without the token
            import logging

            logging.basicConfig(level=logging.WARNING)

    return GuardedServer(command, host=host, port=port, title="modeldeck")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--allow-actions", is_flag=True, help="Let the browser console roll back, disable and promote "
              "(each still confirmed and audited). Without it the served console is read-only.")
@pass_cli
def serve(cli: CliContext, host: str, port: int, allow_actions: bool) -> None:
    """Serve the console to a browser (textual-serve), behind a token printed here."""
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        fail("modeldeck serve needs textual-serve: pip install textual-serve")
    if not cli.store_exists():
        fail(f"no store at {cli.store_name}: ingest logs or run modeldeck demo first")
    token = secrets.token_urlsafe(24)
    server = make_server(console_command(cli, allow_actions=allow_actions), host, port, token)
    mode = "actions allowed (confirmed and audited)" if allow_actions else "read-only (--allow-actions to act)"
    click.echo(f"modeldeck serve: {server.public_url}/?token={token}  {mode}; ctrl+c stops", err=False)
    sys.stdout.flush()
    server.serve()
