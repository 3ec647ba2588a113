"""``modeldeck rollback`` and ``modeldeck disable`` from a shell, against the demo endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.store import Store


@pytest.fixture
def config(tmp_path: Path, demo) -> Path:
    path = tmp_path / "modeldeck.toml"
    path.write_text(f"""
[models.churn.endpoint]
kind = "http"
url = "{demo.model_url('churn')}"

[models.fraud]
read_only = true
[models.fraud.endpoint]
kind = "http"
url = "{demo.model_url('fraud')}"
""")
    return path


def _run(store_path: Path, config: Path, *args: str, input: str | None = None, read_only: bool = False):
    flags = ["--db", str(store_path), "--config", str(config)] + (["--read-only"] if read_only else [])
    return CliRunner().invoke(main, [*flags, *args], input=input, catch_exceptions=False)


def _outcomes(store_path: Path, model: str) -> list[str | None]:
    with Store.open(store_path) as store:
        return [e.outcome for e in reversed(store.audit.entries(model))]


def test_rollback_with_yes_exits_0_after_a_verified_switch(seeded_store_path, config, demo):
    result = _run(seeded_store_path, config, "rollback", "churn", "--to", "v2", "--reason", "regression", "--yes")
    assert result.exit_code == 0, result.output
    assert "active    v3" in result.output and "target    v2 [archived]" in result.output
    assert "rollback churn to v2: succeeded" in result.output and "read back: v2 serving" in result.output
    assert demo.state.models["churn"].active == "v2"
    assert _outcomes(seeded_store_path, "churn") == ["intent", "succeeded"]


def test_typed_name_must_match_or_nothing_happens(seeded_store_path, config, demo):
    wrong = _run(seeded_store_path, config, "rollback", "churn", "--to", "v2", "--reason", "r", input="chrun\n")
    assert wrong.exit_code == 1 and "does not match; nothing was done" in wrong.output
    assert demo.state.models["churn"].active == "v3"
    assert _outcomes(seeded_store_path, "churn") == []
    right = _run(seeded_store_path, config, "rollback", "churn", "--to", "v2", "--reason", "r", input="churn\n")
    assert right.exit_code == 0, right.output
    assert demo.state.models["churn"].active == "v2"


def test_no_terminal_and_no_yes_does_nothing(seeded_store_path, config, demo):
    result = _run(seeded_store_path, config, "rollback", "churn", "--to", "v2", "--reason", "r", input="")
    assert result.exit_code != 0
    assert demo.state.models["churn"].active == "v3"


def test_read_only_model_and_global_flag_exit_1_and_are_audited(seeded_store_path, config, demo):
    per_model = _run(seeded_store_path, config, "rollback", "fraud", "--to", "v1", "--reason", "r", "--yes")
    assert per_model.exit_code == 1 and "refused" in per_model.output and "read-only" in per_model.output
    everywhere = _run(seeded_store_path, config, "rollback", "churn", "--to", "v2", "--reason", "r", "--yes",
                      read_only=True)
    assert everywhere.exit_code == 1 and "refused" in everywhere.output
    assert _outcomes(seeded_store_path, "fraud") == ["refused"]
    assert _outcomes(seeded_store_path, "churn") == ["refused"]
    assert demo.state.models["fraud"].active == "v2" and demo.state.models["churn"].active == "v3"


def test_failed_switch_exits_1(seeded_store_path, config):
    result = _run(seeded_store_path, config, "rollback", "churn", "--to", "v42", "--reason", "r", "--yes")
    assert result.exit_code == 1 and "failed" in result.output and "HTTP 404" in result.output


def test_unknown_model_is_a_one_line_error_naming_the_known_ones(seeded_store_path, config):
    # Names resolve before anything is configured or acted on (the one resolver, app/catalogue.py).
    result = CliRunner().invoke(main, ["--db", str(seeded_store_path), "--config", str(config), "rollback",
                                       "ghost", "--to", "v1", "--reason", "r", "--yes"])
    assert result.exit_code == 2 and result.output == "modeldeck: error: unknown model 'ghost' (known: churn, fraud)\n"


def test_disable_exits_0_when_nothing_serves_any_more(seeded_store_path, config, demo):
    result = _run(seeded_store_path, config, "disable", "churn", "--reason", "bad outputs", input="churn\n")
    assert result.exit_code == 0, result.output
    assert "disable churn: succeeded" in result.output and "read back: nothing serving" in result.output
    assert demo.state.models["churn"].disabled
