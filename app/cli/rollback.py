"""``modeldeck rollback MODEL --to VERSION --reason TEXT [--yes]``: the confirmed rollback from a shell.

Exit status: 0 only on a verified success; 1 failed or refused; 3 unknown (look at the endpoint).
"""

from __future__ import annotations

import asyncio
import time

import click

from app.cli.main import CliContext, pass_cli
from app.cli.confirm import EXIT_FAILED, confirm_by_name, finish, show_plan


@click.command()
@click.argument("model")
@click.option("--to", "version", required=True, help="The version to make active.")
@click.option("--reason", required=True, help="Why: written to the audit trail.")
@click.option("--yes", is_flag=True, help="Do not ask for the typed model name (scripts).")
@click.option("--timeout", "verify_timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the read-back to show the change.")
@pass_cli
def rollback(cli: CliContext, model: str, version: str, reason: str, yes: bool, verify_timeout_s: float) -> None:
    """Make VERSION the active version of MODEL, verified by reading it back."""
    from app.rollback.actions import endpoint_for, plan_rollback, rollback as run_rollback

    model = cli.resolve_model(model)
    endpoint_for(cli.settings, model)  # a model with nothing to act on is a config error (exit 2)
    with cli.open_store() as store:
        plan = asyncio.run(plan_rollback(store, cli.settings, model))
        show_plan(plan, target=version)
        if not plan.read_only and not yes and not confirm_by_name(model, f"roll it back to {version}"):
            raise SystemExit(EXIT_FAILED)
        outcome = asyncio.run(run_rollback(store, cli.settings, model, version, reason,
                                           verify_timeout_s=verify_timeout_s, started=time.monotonic()))
    finish(outcome)
