"""Shared by ``modeldeck rollback`` and ``modeldeck disable``: show the plan, ask for the typed name, report."""

from __future__ import annotations

import sys

import click

from app.text import terminal_line
from app.timeutil import TimeFormat, age_text, format_ms, ms_to_iso, now_ms

EXIT_OK, EXIT_FAILED, EXIT_UNKNOWN = 0, 1, 3


def _echo(line: str) -> None:
    # Version names, URLs and errors come from the endpoint: one literal line each (app/text.py).
    click.echo(terminal_line(line))


def show_plan(plan, *, target: str | None) -> None:  # plan: app.rollback.actions.Plan
    _echo(f"model     {plan.model}")
    _echo(f"endpoint  {plan.endpoint_kind} {plan.endpoint_url}")
    current = plan.current if plan.remote_error is None else f"unknown ({plan.remote_error})"
    _echo(f"active    {current or 'nothing serving'}")
    for t in plan.targets:
        if target is not None and t.version != target:
            continue
        created = ms_to_iso(t.created_at) if t.created_at else "?"
        # Served as the active version (app/rollback/history.py): shadow answers do not count.
        if t.last_active_at is not None:
            served = f"last served {age_text(max(0, now_ms() - t.last_active_at))} ago"
        elif t.last_served_at is not None:
            served = "never served (only challenger/shadow answers in the log)"
        else:
            served = "never served (in the log or the audit trail)"
        if t.rolled_back_from_at is not None:
            served += f", rolled back from on {format_ms(t.rolled_back_from_at, TimeFormat.DATE)}"
        metrics = ", ".join(f"{k}={v}" for k, v in sorted(t.metrics.items())[:4])
        where = {True: "", False: " NOT ON ENDPOINT", None: ""}[t.on_endpoint]
        _echo(f"target    {t.version} [{t.stage or 'unknown stage'}] created {created}, {served}"
                   f"{'; ' + metrics if metrics else ''}{where}")
    if target is not None and not any(t.version == target for t in plan.targets):
        _echo(f"target    {target}: not known to the store or the endpoint")
    if plan.read_only:
        _echo(f"read-only {plan.read_only}")


def confirm_by_name(model: str, what: str) -> bool:
    typed = click.prompt(f"Type the model name to {what}", default="", show_default=False, err=True)
    if typed.strip() != model:
        click.echo("modeldeck: the typed name does not match; nothing was done", err=True)
        return False
    return True


def finish(outcome) -> None:  # outcome: app.rollback.actions.Outcome
    _echo(outcome.describe())
    sys.exit(EXIT_OK if outcome.ok else EXIT_UNKNOWN if outcome.status == "unknown" else EXIT_FAILED)
