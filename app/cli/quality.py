"""``modeldeck quality MODEL``: production quality from late labels per window, with 95% intervals,
calibration (ECE and a reliability chart) and business outcomes correlated with the score."""

from __future__ import annotations

import re
from dataclasses import asdict

import click

from app.cli.main import CliContext, fail, pass_cli
from app.text import terminal_line


def estimate_text(e, digits: int = 3) -> str:  # e: app.quality.stats.Estimate | None
    if e is None:
        return "—"
    if e.low is None or e.high is None:
        return f"{e.value:.{digits}f}"
    return f"{e.value:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


def reliability_chart(report, width: int = 72, height: int = 14) -> str:  # report: QualityReport
    """The reliability diagram as text: observed positive rate per score bin against the bin's mean score
    (the diagonal of perfect calibration)."""
    from app.views.quality import reliability_spec
    from widgets.plot_chart import render_chart

    spec = reliability_spec(report)
    # Plain text: the series are told apart by their glyphs and the legend line, so no colour codes go to a
    # pipe or a file.
    return re.sub(r"\x1b\[[0-9;]*m", "", render_chart(spec, width, height))


@click.command()
@click.argument("model")
@click.option("--version", "version", default=None, help="Only this version's answers (default: all).")
@click.option("--since", default="14d", show_default=True, help="How far back (labels arrive late).")
@click.option("--window", default="1d", show_default=True, help="One line per window of this length.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-chart", is_flag=True, help="Leave out the reliability chart.")
@click.option("--check", "check_criteria", is_flag=True,
              help="Exit 1 unless every declared success criterion ([models.NAME.success]) is met (CI).")
@pass_cli
def quality(cli: CliContext, model: str, version: str | None, since: str, window: str, as_json: bool,
            no_chart: bool, check_criteria: bool) -> None:
    """MODEL's quality in production from labels that arrived: accuracy, AUC, log loss (classifiers) or
    MAE, RMSE (regressors) per window with 95% intervals; ECE and a reliability chart; the correlation of
    the score with each business outcome ("kind": "outcome" records)."""
    import orjson

    from app.quality.production import quality_report
    from app.timeutil import TimeFormat, format_ms, now_ms, parse_duration_ms

    try:
        since_ms, window_ms = parse_duration_ms(since), parse_duration_ms(window)
    except ValueError as exc:
        fail(str(exc))
    if window_ms <= 0 or since_ms <= 0:
        fail("--since and --window must be longer than 0")
    if since_ms // window_ms > 1000:
        fail(f"--window {window} over --since {since} is more than 1,000 windows")
    with cli.open_to_read() as store:
        model = cli.resolve_model(model, store)
        if version is not None:
            version = cli.resolve_version(store, model, version)
        until = now_ms()
        report = quality_report(store, model, until - since_ms, until, window_ms, version=version)
        criteria = None
        model_config = cli.settings.models.get(model)
        if model_config is not None and model_config.success is not None:
            from app.quality.success import judge

            success = model_config.success
            span = parse_duration_ms(success.window)
            judged = report if span == since_ms else quality_report(store, model, until - span, until, span,
                                                                    version=version)
            criteria = judge(store, success, model, judged)
    if as_json:
        payload = asdict(report)
        payload["success"] = None if criteria is None else [asdict(c) for c in criteria]
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        _exit_for(criteria, check_criteria)
        return
    names = report.metric_names
    outcome_names = sorted({name for w in report.windows for name in w.outcomes})
    click.echo(terminal_line(f"{model}{' ' + version if version else ''}: {report.task}, "
                             f"{report.overall.labelled:,} labelled answers since "
                             f"{format_ms(report.since, TimeFormat.MINUTE)} UTC; 95% intervals"))
    header = f"{'window':<12} {'labelled':>8}  " + "  ".join(f"{n:<22}" for n in names)
    header += "".join(f"  r({name})" for name in outcome_names)
    click.echo(terminal_line(header))
    for w in report.windows:
        line = f"{format_ms(w.start, TimeFormat.DAY_MINUTE):<12} {w.labelled:>8}  "
        line += "  ".join(f"{estimate_text(w.metrics.get(n)):<22}" for n in names)
        line += "".join(f"  {estimate_text(w.outcomes.get(name), 2)} n={w.outcome_pairs.get(name, 0)}"
                        for name in outcome_names)
        click.echo(terminal_line(line))
    overall = report.overall
    click.echo(terminal_line(f"{'all':<12} {overall.labelled:>8}  " +
                             "  ".join(f"{estimate_text(overall.metrics.get(n)):<22}" for n in names)))
    for name, r in sorted(overall.outcomes.items()):
        click.echo(terminal_line(f"outcome {name}: r(score, value) = {estimate_text(r, 2)} over "
                                 f"{overall.outcome_pairs.get(name, 0):,} answers"))
    if not overall.labelled:
        click.echo("no labelled answers in the range: labels arrive as later records with the same request_id",
                   err=True)
    if report.ece is not None:
        click.echo(f"calibration: ECE {report.ece:.4f} over {sum(b.n for b in report.reliability):,} scored answers")
        if not no_chart:
            click.echo(reliability_chart(report))
    if criteria is None:
        if check_criteria:
            fail(f"no success criteria declared for {model} ([models.{model}.success])")
        return
    click.echo(terminal_line(f"success criteria ({model_config.success.window}):"))  # type: ignore[union-attr]
    for c in criteria:
        word = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[c.met]
        click.echo(terminal_line(f"  {word:<12} {c.name} {c.required}: {c.measured}"))
    _exit_for(criteria, check_criteria)


def _exit_for(criteria, check_criteria: bool) -> None:  # criteria: list[Criterion] | None
    if check_criteria and criteria is not None and not all(c.met for c in criteria):
        raise SystemExit(1)
