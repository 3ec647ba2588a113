"""``modeldeck gate MODEL --candidate V [--json]``: the promotion gates, for CI.

Exit status: 0 when every configured rule holds; 1 when any fails; 2 when the gates cannot
be evaluated (no gates configured, no champion, unknown store).
"""

from __future__ import annotations

import sys

import click

from app.cli.main import CliContext, pass_cli

EXIT_PASS, EXIT_FAIL = 0, 1


def render(verdict) -> list[str]:  # verdict: app.compare.gates.Verdict
    from app.timeutil import ms_to_iso

    c = verdict.comparison
    lines = [
        f"gate {verdict.model}: {verdict.candidate} vs champion {verdict.champion}",
        f"window {verdict.window}: {ms_to_iso(c.since)} .. {ms_to_iso(c.until)}; {c.paired:,} paired requests"
        + (f" ({c.share_paired * 100:.1f}% of the champion's)" if c.share_paired is not None else "")
        + f", joined on {c.join_key}",
    ]
    width = max((len(rule.name) for rule in verdict.rules), default=0)
    for rule in verdict.rules:
        mark = "PASS" if rule.passed else "FAIL"
        lines.append(f"  {mark}  {rule.name:<{width}}  {rule.measured}  (needs {rule.required})")
    lines.append(verdict.summary())
    return lines


@click.command()
@click.argument("model")
@click.option("--candidate", required=True, help="The challenger or shadow version to judge.")
@click.option("--champion", default=None, help="Compare with this version (default: the store's champion).")
@click.option("--window", default=None, help="Traffic to judge, e.g. 7d (default: the gates' or compare window).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@pass_cli
def gate(cli: CliContext, model: str, candidate: str, champion: str | None, window: str | None,
         as_json: bool) -> None:
    """Evaluate MODEL's promotion gates for CANDIDATE on the logged traffic (exit 0 only if all hold)."""
    from app.compare.gates import evaluate

    if window is not None:
        from app.timeutil import parse_duration_ms

        try:
            parse_duration_ms(window)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--window") from None
    with cli.open_store() as store:
        model = cli.resolve_model(model, store)
        candidate = cli.resolve_version(store, model, candidate)
        if champion is not None:
            champion = cli.resolve_version(store, model, champion)
        verdict = evaluate(store, cli.settings, model, candidate, champion=champion, window=window)
    if as_json:
        click.echo(verdict.model_dump_json(indent=2, exclude={"comparison": {"timeline"}}))
    else:
        for line in render(verdict):
            click.echo(line)
    sys.exit(EXIT_PASS if verdict.passed else EXIT_FAIL)
