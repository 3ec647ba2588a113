"""``modeldeck waive MODEL AREA --version V --reason R --expires 30d``: waive one area of one version."""

from __future__ import annotations

import click

from app.cli.main import CliContext, pass_cli
from app.cli.readiness_change import run_change


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> int:
    from app.timeutil import parse_duration_ms

    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.argument("model")
@click.argument("area")
@click.option("--version", "version", default=None, help="The version waived (default: the active one).")
@click.option("--reason", required=True, help="Why the area may go unmet (kept in the audit trail).")
@click.option("--expires", "expires_in_ms", required=True, callback=_duration,
              help="How long the waiver holds, e.g. 30d (at most governance.max_waiver_days).")
@pass_cli
def waive(cli: CliContext, model: str, area: str, version: str | None, reason: str, expires_in_ms: int) -> None:
    """Waive AREA of VERSION of MODEL with a reason and an expiry; it counts as done until it expires or is
    reopened, and only for that version. Audited; refused under read-only."""
    from app.checklist import evaluate as checklist
    from app.timeutil import TimeFormat, format_ms

    def change(store) -> str:  # type: ignore[no-untyped-def]
        item = checklist.waive(store, model, area, reason, expires_in_ms=expires_in_ms, version=version,
                               settings=cli.settings)
        return (f"{model} {item.version}: {area} waived by {item.updated_by} until "
                f"{format_ms(item.expires_at, TimeFormat.DATE)}: {item.note}")

    run_change(cli, change)
