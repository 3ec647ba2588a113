"""``modeldeck promote MODEL --candidate V --reason TEXT [--override TEXT] [--yes]``.

The promotion gates are evaluated first and printed; a failing gate refuses the promotion
unless ``--override`` gives a reason (audited). Then the same confirmed, locked, audited
switch as ``modeldeck rollback``. Exit status: 0 verified success; 1 refused or failed;
3 unknown (look at the endpoint).
"""

from __future__ import annotations

import asyncio
import time

import click

from app.cli.main import CliContext, pass_cli
from app.cli.confirm import EXIT_FAILED, confirm_by_name, finish, show_plan


@click.command()
@click.argument("model")
@click.option("--candidate", required=True, help="The challenger version to make active.")
@click.option("--reason", required=True, help="Why: written to the audit trail.")
@click.option("--override", default=None, help="Promote although a gate fails; this reason is audited.")
@click.option("--yes", is_flag=True, help="Do not ask for the typed model name (scripts).")
@click.option("--timeout", "verify_timeout_s", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the read-back to show the change.")
@pass_cli
def promote(cli: CliContext, model: str, candidate: str, reason: str, override: str | None, yes: bool,
            verify_timeout_s: float) -> None:
    """Make challenger CANDIDATE the active version of MODEL, if its promotion gates hold."""
    from app.cli.gate import render
    from app.rollback.promotion import judge, promote as run_promote
    from app.rollback.actions import endpoint_for, plan_rollback

    model = cli.resolve_model(model)
    endpoint_for(cli.settings, model)  # a model with nothing to act on is a config error (exit 2)
    with cli.open_store() as store:
        candidate = cli.resolve_version(store, model, candidate)
        verdict, problem = judge(store, cli.settings, model, candidate)
        for line in render(verdict) if verdict is not None else [f"gates: {problem}"]:
            click.echo(line)
        passed = verdict is not None and verdict.passed
        if not passed and override:
            click.echo(f"override  {override}")
        plan = asyncio.run(plan_rollback(store, cli.settings, model))
        show_plan(plan, target=candidate)
        if (passed or override) and not plan.read_only and not yes and \
                not confirm_by_name(model, f"promote {candidate}"):
            raise SystemExit(EXIT_FAILED)
        _, outcome = asyncio.run(run_promote(store, cli.settings, model, candidate, reason, override=override,
                                             verify_timeout_s=verify_timeout_s, started=time.monotonic(),
                                             verdict=verdict))
    finish(outcome)
