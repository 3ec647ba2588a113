"""``modeldeck signoff MODEL --version V --role ROLE [--note N]``: sign a version off under your identity."""

from __future__ import annotations

import click

from app.cli.main import CliContext, pass_cli
from app.cli.readiness_change import run_change


@click.command()
@click.argument("model")
@click.option("--version", "version", default=None, help="The version signed off (default: the active one).")
@click.option("--role", required=True,
              help="engineering, product, data, legal, fairness (bias/fairness review) or retention "
                   "(data-retention compliance).")
@click.option("--note", default=None, help="What was reviewed (a ticket, a document).")
@pass_cli
def signoff(cli: CliContext, model: str, version: str | None, role: str, note: str | None) -> None:
    """Sign off VERSION of MODEL for ROLE, as $MODELDECK_ACTOR or $USER@host; expires after
    governance.signoff_days (default 90). Audited; refused under read-only."""
    from app.checklist.evaluate import sign_off
    from app.timeutil import TimeFormat, format_ms

    def change(store) -> str:  # type: ignore[no-untyped-def]
        item = sign_off(store, model, role, note=note, version=version, settings=cli.settings)
        [signed] = [s for s in store.checklist.signoffs(model, item.version) if s.role == role.strip().lower()]
        return (f"{model} {item.version}: {signed.role} signed off by {signed.signed_by}, expires "
                f"{format_ms(signed.expires_at, TimeFormat.DATE)}; sign-off area {item.status.value}: "
                f"{item.evidence}")

    run_change(cli, change)
