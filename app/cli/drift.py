"""``modeldeck drift MODEL``: compute the missing drift windows, then print them (or ``--json``)."""

from __future__ import annotations

import sys
from itertools import groupby

import click

from app.cli.main import CliContext, pass_cli


def _time(option: str, text: str | None) -> int | None:
    from app.timeutil import parse_time_ref

    if text is None:
        return None
    try:
        return parse_time_ref(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _clean(text: str) -> str:
    # Feature names come from training files and logs: never let one move the cursor or recolour the terminal.
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _number(value: float | None, digits: int = 4) -> str:
    from app.drift.verdicts import format_stat

    return format_stat(value, digits)  # "<0.0001", never a cut "7.5e-0" that reads as 7.5


@click.command("drift")
@click.argument("model")
@click.option("--since", help="Start: a duration back from now (7d) or an ISO time (default: the first log row).")
@click.option("--until", help="End: a duration back from now or an ISO time (default: now).")
@click.option("--window", default="1h", show_default=True, help="Window size, aligned to UTC (1h, 1d = days).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of per-feature, per-window results.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the latest window shows dataset drift.")
@click.option("--summary/--windows", "summary", default=None,
              help="One line per feature (verdict, value, drifting since when) or every window's lines "
                   "(default: the summary on a terminal, the windows when piped).")
@pass_cli
def drift(cli: CliContext, model: str, since: str | None, until: str | None, window: str, as_json: bool,
          fail_on_drift: bool, summary: bool | None) -> None:
    """Drift of MODEL's features and predictions per window against the baseline of the serving version.

    Windows not computed yet are computed first (closed windows only); thresholds come from
    [models.MODEL.drift_thresholds] in the config. A window with fewer current rows than
    [models.MODEL] drift_min_rows (default 100) is shown as too few rows: not judged, no alert.
    Alert rules of the model are evaluated afterwards.
    """
    import orjson

    from app.alerts.monitor import refresh_model
    from app.drift.verdicts import dataset_drift, display_name, drift_ratio, psi_level, window_rows
    from app.drift.windows import latest_runs, min_rows_for, pending_windows, stored_points, verdict_window
    from app.timeutil import TimeFormat, format_ms, ms_to_iso, now_ms, parse_duration_ms

    try:
        window_ms = parse_duration_ms(window)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None
    start, end = _time("--since", since), _time("--until", until)
    with cli.open_store() as store:
        model = cli.resolve_model(model, store)
        min_rows = min_rows_for(cli.settings, model)
        if not store.baselines.versions_with_baselines(model):
            click.echo(f"modeldeck: error: no baseline for {_clean(model)}: create one with "
                       f"`modeldeck baseline {_clean(model)} --version V FILE`", err=True)
            sys.exit(2)
        pending = len(pending_windows(store, model, window_ms=window_ms, since=start, until=end))
        if pending > 24:  # weeks of history on a first run take a while: say so rather than look stuck
            click.echo(f"computing {pending} drift windows of {_clean(model)} (once; later runs add only new ones)…",
                       err=True)
        outcome = refresh_model(store, cli.settings, model, now=now_ms(), window_ms=window_ms, since=start,
                                until=end)
        if outcome.busy_with:
            click.echo(f"modeldeck: {outcome.busy_with} is computing drift for {_clean(model)}; "
                       "showing what is stored", err=True)
        if outcome.read_only:
            click.echo(f"modeldeck: {_clean(cli.store_name)} is read-only here: no new windows, no alert evaluation; "
                       "showing what is stored", err=True)
        transitions = outcome.transitions
        summarise = not as_json and (summary if summary is not None else sys.stdout.isatty())
        runs = latest_runs(store, model, min_rows, window_ms=window_ms, since=start, until=end) if summarise else {}
        if runs:
            # The summary needs the newest judged window and each feature's run, not every stored window:
            # months of windows (15,000 points) were most of a no-op run.
            points = [run.latest for run in runs.values()]
        else:
            points = stored_points(store, model, window_ms=window_ms, since=start, until=end)

    if as_json:
        window_n = {s: window_rows(g) for s, g in groupby(points, key=lambda p: p.window_start)}
        # enough_rows false: the window had fewer current rows than drift_min_rows and is not judged.
        rows = [{**p.model_dump(), "window_start": ms_to_iso(p.window_start), "window_end": ms_to_iso(p.window_end),
                 "enough_rows": window_n[p.window_start] >= min_rows} for p in points]
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
    elif not points:
        click.echo(f"no drift windows for {_clean(model)} in that range (windows are computed once closed)")
    elif summarise:
        _print_summary(points, min_rows, runs)
        click.echo(f"{outcome.windows} new window(s) computed", err=True)
    else:
        # 79 columns: one line a feature in an 80-column terminal.
        header = f"{'FEATURE':<20} {'METHOD':<13} {'VALUE':>8} {'THRESH':>6} {'DRIFT':<5} {'PSI':>7} " \
                 f"{'N_REF':>7} {'N_CUR':>6}"
        for (window_start, version), group in groupby(points, key=lambda p: (p.window_start, p.version)):
            # Most drifted first, the prediction sorted among the features by its own drift.
            results = sorted(group, key=lambda p: (not p.drifted, -drift_ratio(p.method, p.value, p.threshold),
                                                   p.feature))
            summary = dataset_drift(results)
            n_current = window_rows(results)
            judged = n_current >= min_rows
            if judged:
                verdict = f"{summary.n_drifted}/{summary.n_features} drifted -> {'DRIFT' if summary.drifted else 'ok'}"
            else:  # a handful of rows "drifts" on every statistic: not a verdict
                verdict = f"too few rows ({n_current} < {min_rows}): not judged"
            click.echo(f"{format_ms(window_start, TimeFormat.MINUTE)} UTC  version {_clean(version or '-')}  n={n_current}  "
                       f"dataset: {verdict}")
            click.echo(header)
            for p in results:
                name = display_name(_clean(p.feature))[:20]
                # PSI at or above 0.1 is marked: * moderate, ** major (the industry levels).
                mark = {"moderate": "*", "major": "**"}.get(psi_level(p.psi), "") if judged else ""
                state = ("yes" if p.drifted else "no") if judged else "-"
                click.echo(f"{name:<20} {p.method:<13} {_number(p.value):>8} "
                           f"{_number(p.threshold, 4):>6} {state:<5} "
                           f"{_number(p.psi, 3) + mark:>7} {p.n_reference:>7} {p.n_current:>6}")
            click.echo("")
        click.echo(f"{outcome.windows} new window(s) computed", err=True)
    for transition in transitions:
        click.echo(f"alert {transition}", err=True)
    if fail_on_drift and points:
        # The latest window with enough rows decides, as on the drift screen and the fleet.
        if dataset_drift(verdict_window(points, min_rows)).drifted:
            sys.exit(1)


def _print_summary(points, min_rows: int, runs=None) -> None:  # points: list[DriftPoint]; runs: FeatureRun
    """One line per feature: the latest judged window's verdict and value, and since when it drifts."""
    from app.drift.verdicts import display_name, drift_ratio
    from app.drift.windows import drifting_since
    from app.timeutil import TimeFormat, format_ms

    runs = runs or drifting_since(points, min_rows)
    if not runs:
        click.echo(f"no window with at least {min_rows} rows in that range: nothing judged")
        return
    latest = max(run.latest.window_start for run in runs.values())
    click.echo(f"latest judged window {format_ms(latest, TimeFormat.MINUTE)} UTC")
    click.echo(f"{'FEATURE':<20} {'VERDICT':<7} {'METHOD':<13} {'VALUE':>8} {'THRESH':>6}  SINCE")
    ordered = sorted(runs.values(), key=lambda r: (r.since is None, -drift_ratio(r.latest.method, r.latest.value,
                                                                                  r.latest.threshold), r.latest.feature))
    for run in ordered:
        p = run.latest
        since = "-" if run.since is None else \
            f"{format_ms(run.since, TimeFormat.MINUTE)} ({run.windows} window{'s' if run.windows != 1 else ''})"
        click.echo(f"{display_name(_clean(p.feature))[:20]:<20} {'DRIFT' if run.since is not None else 'ok':<7} "
                   f"{p.method:<13} {_number(p.value):>8} {_number(p.threshold, 4):>6}  {since}")
