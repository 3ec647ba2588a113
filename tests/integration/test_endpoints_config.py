"""The annotated example config is valid, and a typo in an endpoint is one line naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config.settings import ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "modeldeck.example.toml"


def test_example_config_loads_with_every_kind():
    settings = load_settings(EXAMPLE)
    kinds = {cfg.kind for m in settings.models.values() for cfg in (m.endpoint, m.registry) if cfg}
    assert kinds == {"mlflow", "mlserver", "torchserve", "http"}
    assert settings.models["fraud"].registry.token_env == "MLFLOW_TRACKING_TOKEN"
    assert settings.models["resnet"].read_only


def test_typo_in_an_endpoint_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "modeldeck.toml"
    path.write_text('[models.churn.endpoint]\nkind = "http"\nurl = "http://127.0.0.1:1"\ntimout_s = 3\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value) == f"{path}: models.churn.endpoint.timout_s: unknown key"
