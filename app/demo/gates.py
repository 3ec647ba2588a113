"""The demo's champion/challenger settings: how shadow answers pair, and each model's promotion gates.

Written once, in ``data/demo-gates.toml`` (so the CLI can use the very same file with
``--config``); ``modeldeck demo`` applies it to every demo model the config does not already
set. fraud-scorer's challenger passes its gates; churn-predictor's shadow v7 fails on p95
latency (about twice the champion's) and accuracy, which the Compare tab shows.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

from app.config.datafiles import data_file
from app.config.settings import CompareConfig, GateConfig, ModelConfig

DEMO_GATES_FILE = data_file("demo-gates.toml")


@lru_cache(maxsize=1)
def demo_settings() -> dict[str, tuple[CompareConfig, GateConfig | None]]:
    """Model name -> (compare, gates) from data/demo-gates.toml (empty when it is not installed)."""
    try:
        with DEMO_GATES_FILE.open("rb") as handle:
            models = tomllib.load(handle).get("models", {})
    except OSError:
        return {}
    return {name: (CompareConfig.model_validate(values.get("compare", {})),
                   GateConfig.model_validate(values["gates"]) if "gates" in values else None)
            for name, values in models.items()}


def with_demo_gates(name: str, config: ModelConfig) -> ModelConfig:
    """``config`` with the demo's pairing and gates where the operator's config leaves them unset."""
    found = demo_settings().get(name)
    if found is None:
        return config
    compare, gates = found
    update: dict[str, object] = {}
    if "compare" not in config.model_fields_set:
        update["compare"] = compare
    if config.gates is None and gates is not None:
        update["gates"] = gates
    return config.model_copy(update=update) if update else config
