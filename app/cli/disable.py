"""``modeldeck disable MODEL --reason TEXT [--yes]``: stop serving a model, where the system allows it.

Exit status: 0 only on a verified success; 1 failed or refused; 3 unknown.
"""

from __future__ import annotations

import asyncio
import time

import click

from app.cli.main import CliContext, pass_cli
from app.cli.confirm import EXIT_FAILED, confirm_by_name, finish, show_plan


@click.command()
@click.argument("model")
@click.option("--reason", required=True, help="Why: written to the audit trail.")
@click.option("--yes", is_flag=True, help="Do not ask for the typed model name (scripts).")
@click.option("--timeout", "verify_timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the read-back to show nothing serving.")
@pass_cli
def disable(cli: CliContext, model: str, reason: str, yes: bool, verify_timeout_s: float) -> None:
    """Stop serving MODEL (unload / disable on its endpoint), verified by reading it back."""
    from app.rollback.actions import disable as run_disable
    from app.rollback.actions import endpoint_for, plan_rollback

    model = cli.resolve_model(model)
    endpoint_for(cli.settings, model)
    with cli.open_store() as store:
        plan = asyncio.run(plan_rollback(store, cli.settings, model))
        show_plan(plan, target=plan.current or "")
        if not plan.read_only and not yes and not confirm_by_name(model, "disable it"):
            raise SystemExit(EXIT_FAILED)
        outcome = asyncio.run(run_disable(store, cli.settings, model, reason, verify_timeout_s=verify_timeout_s,
                                          started=time.monotonic()))
    finish(outcome)
