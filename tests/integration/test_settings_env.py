"""MODELDECK_ environment variables override the config file key by key, flags override both, and a
variable that cannot be read is one line naming it (the environment is read by app.config.settings)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config.settings import ConfigError, load_settings

CONFIG = """
db = "/from/file.db"
[ui]
refresh_s = 9
keymap = {"fleet.open" = "o"}
[search]
indexed_features = ["amount"]
[models.fraud]
owner = "ops"
drift_thresholds = {amount = 0.2}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "modeldeck.toml"
    path.write_text(CONFIG)
    return path


def test_the_environment_changes_one_key_of_a_table_and_flags_win(config: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELDECK_UI__REFRESH_S", "2")
    monkeypatch.setenv("modeldeck_read_only", "true")  # names in any case
    monkeypatch.setenv("MODELDECK_MODELS__FRAUD__READ_ONLY", "1")
    monkeypatch.setenv("MODELDECK_MODELS__FRAUD__DRIFT_THRESHOLDS", '{"colour": 0.3}')  # a table is JSON
    monkeypatch.setenv("MODELDECK_SEARCH", '{"indexed_features": ["score_band"]}')
    monkeypatch.setenv("MODELDECK_DB", "/from/env.db")
    monkeypatch.setenv("MODELDECK_ACTOR", "oncall@bastion")  # not a setting: left to who reads it
    settings = load_settings(config)
    assert settings.ui.refresh_s == 2.0 and settings.ui.keymap == {"fleet.open": "o"}
    assert settings.read_only is True
    fraud = settings.models["fraud"]
    assert fraud.owner == "ops" and fraud.read_only is True
    assert fraud.drift_thresholds == {"amount": 0.2, "colour": 0.3}
    assert settings.search.indexed_features == ["score_band"]
    assert settings.db == Path("/from/env.db") and settings.source == config
    flagged = load_settings(config, db=Path("/from/flag.db"), read_only=False)
    assert flagged.db == Path("/from/flag.db") and flagged.read_only is False


def test_without_the_environment_the_file_decides(config: Path):
    settings = load_settings(config)
    assert settings.ui.refresh_s == 9.0 and settings.db == Path("/from/file.db") and not settings.read_only


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MODELDECK_SEARCH__INDEXED_FEATURES", "amount", "environment: MODELDECK_SEARCH__INDEXED_FEATURES: not valid JSON"),
    ("MODELDECK_UI", "{refresh_s: 2}", "environment: MODELDECK_UI: not valid JSON"),
    ("MODELDECK_UI__REFRESH", "2", "ui.refresh: unknown key"),
    ("MODELDECK_UI__REFRESH_S", "soon", "ui.refresh_s: Input should be a valid number"),
])
def test_a_variable_that_cannot_be_read_is_one_line_naming_it(config: Path, monkeypatch: pytest.MonkeyPatch,
                                                               name: str, value: str, message: str):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_without_a_config_file_or_setting_variables_the_flags_and_defaults_are_the_validated_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Store-only commands skip validation when only --db / --read-only are given: same settings either way.
    from app.config.settings import Settings

    monkeypatch.chdir(tmp_path)  # no ./modeldeck.toml
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    for name in [n for n in os.environ if n.upper().startswith("MODELDECK_")]:
        monkeypatch.delenv(name)
    settings = load_settings(None, db=tmp_path / "a.db", read_only=True)
    validated = Settings.model_validate({"db": str(tmp_path / "a.db"), "read_only": True})
    assert settings.model_dump() == validated.model_dump()
    assert settings.db == tmp_path / "a.db" and settings.ui.refresh_s == 5.0
    settings.ui.keymap["fleet.open"] = "o"  # a default section is the loaded settings' own
    assert load_settings(None).ui.keymap == {}
    monkeypatch.setenv("MODELDECK_UI__REFRESH_S", "nope")  # text from the environment is still validated
    with pytest.raises(ConfigError, match="refresh_s"):
        load_settings(None)
