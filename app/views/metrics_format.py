"""Offline metrics in a few cells: ``acc 0.953 auc 0.912 p95 19.6ms 2600rps``.

One formatter for every place that shows a version's metrics in a table cell (the model
screen's Overview, the rollback modal), so they read the same everywhere.
"""

from __future__ import annotations

from typing import Any

# Short names for the usual metrics; any other key is shown as it is stored.
SHORT_NAMES = {"accuracy": "acc", "precision": "prec", "recall": "rec", "f1_score": "f1", "roc_auc": "auc"}


def short_number(value: object) -> str:
    """Three significant digits, never an exponent: 0.953, 19.6, 1080, 12.5k."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 10_000:
        return f"{value / 1000:.3g}k"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:.0f}"  # 1080, never 1.08e+03
    return f"{value:.3g}"


def metrics_text(metrics: dict[str, Any]) -> str:
    """What tells versions apart, in as few cells as reads well ("—" when there is nothing).

    Sample sizes (``*_rows``) and nested values are left out: they describe the evaluation,
    not the version."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, (dict, list)) or key.endswith("_rows"):
            continue
        if key.endswith("_latency_ms"):
            parts.append(f"{key[:-len('_latency_ms')]} {short_number(value)}ms")
        elif key == "throughput_rps":
            parts.append(f"{short_number(value)}rps")
        else:
            parts.append(f"{SHORT_NAMES.get(key, key)} {short_number(value)}")
    return " ".join(parts) or "—"
