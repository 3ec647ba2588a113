"""``modeldeck drill MODEL [--to FALLBACK] [--yes]``: switch to the fallback version and back, audited and timed."""

from __future__ import annotations

import asyncio
import sys

import click

from app.cli.confirm import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, confirm_by_name, show_plan
from app.cli.main import CliContext, pass_cli
from app.text import terminal_line


@click.command()
@click.argument("model")
@click.option("--to", "fallback", default=None,
              help="The fallback version (default: the one that served most recently before the active one).")
@click.option("--yes", is_flag=True, help="Do not ask for the typed model name (scripts, scheduled drills).")
@click.option("--timeout", "verify_timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds each step waits for the read-back to show the change.")
@pass_cli
def drill(cli: CliContext, model: str, fallback: str | None, yes: bool, verify_timeout_s: float) -> None:
    """Switch MODEL's endpoint to the fallback version and back, each step verified and timed; the readiness
    Rollback area reads the last timed switch. Exit 0 only when both steps succeeded."""
    from app.checklist.drill import drill as run_drill
    from app.rollback.actions import endpoint_for, plan_rollback

    model = cli.resolve_model(model)
    endpoint_for(cli.settings, model)  # a model with nothing to act on is a config error (exit 2)
    with cli.open_store() as store:
        plan = asyncio.run(plan_rollback(store, cli.settings, model))
        show_plan(plan, target=fallback or (plan.default_target.version if plan.default_target else None))
        if not plan.read_only and not yes and not confirm_by_name(model, "drill (it switches live traffic twice)"):
            raise SystemExit(EXIT_FAILED)
        outcome = asyncio.run(run_drill(store, cli.settings, model, fallback=fallback,
                                        verify_timeout_s=verify_timeout_s))
    for line in outcome.lines():
        click.echo(terminal_line(line))
    sys.exit(EXIT_OK if outcome.ok else EXIT_UNKNOWN if outcome.status == "unknown" else EXIT_FAILED)
