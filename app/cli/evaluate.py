"""``modeldeck evaluate MODEL --version V FILE``: held-out metrics of a version, stored with the file's hash."""

from __future__ import annotations

from pathlib import Path

import click

from app.cli.main import CliContext, pass_cli
from app.cli.readiness_change import run_change


@click.command()
@click.argument("model")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", required=True, help="The version the file's scores come from.")
@click.option("--score-column", default="score", show_default=True,
              help="Score (classifiers: probability of the positive class) or prediction (regressors).")
@click.option("--label-column", default="label", show_default=True, help="The true label.")
@pass_cli
def evaluate(cli: CliContext, model: str, file: Path, version: str, score_column: str, label_column: str) -> None:
    """Compute VERSION's held-out metrics from FILE (CSV, JSON Lines, Parquet with pyarrow): accuracy, AUC
    and log loss for a classifier, MAE and RMSE for a regressor. Stored on the version with the file's
    SHA-256 and who ran it; audited; refused under read-only."""
    from app.checklist.heldout import evaluate_file

    def change(store) -> str:  # type: ignore[no-untyped-def]
        record = evaluate_file(store, model, version, file, score_column=score_column, label_column=label_column,
                               settings=cli.settings)
        figures = ", ".join(f"{k} {record[k]:.4g}" for k in ("accuracy", "auc", "log_loss", "mae", "rmse")
                            if k in record)
        return (f"{model} {version}: {figures} on {record['n']:,} held-out rows of {record['file']} "
                f"(sha256 {record['sha256'][:12]}), by {record['run_by']}")

    run_change(cli, change)
