"""Issue 13: every command resolves a model (and a version) name the same way (app.catalogue):
exact, else a unique prefix said on stderr, else one line naming the closest names and exit 2.

A store built only by ``modeldeck ingest`` (no config); the real CLI through click's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from app.timeutil import now_ms
from tests.integration.test_logged_fleet import write_log

# Every command that names a model, with the arguments that make it run that far.
COMMANDS: dict[str, list[str]] = {
    "check": ["--no-probe"],
    "report": ["--no-probe"],
    "drift": [],
    "gate": ["--candidate", "v2"],
    "rollback": ["--to", "v1", "--reason", "test", "--yes"],
    "disable": ["--reason", "test", "--yes"],
    "promote": ["--candidate", "v2", "--reason", "test", "--yes"],
    "baseline": ["--version", "v1", "--from-logs"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("names")
    now = now_ms()
    log = folder / "logs.jsonl"
    write_log(log, [("loan-pricing", v, now - 3_600_000 + i * 1000) for v in ("v1", "v2") for i in range(40)]
              + [("fraud-scorer", "v7", now - 60_000 + i) for i in range(5)])
    db = folder / "own.db"
    result = CliRunner().invoke(main, ["--db", str(db), "ingest", str(log)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db


def run(db: Path, command: str, model: str, *args: str):  # -> click.testing.Result
    return CliRunner().invoke(main, ["--db", str(db), command, model, *args], catch_exceptions=False)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_typo_is_one_line_naming_the_closest_and_exit_2(store: Path, command: str) -> None:
    result = run(store, command, "lona-pricing", *COMMANDS[command])
    assert result.exit_code == 2
    assert result.stderr == "modeldeck: error: unknown model 'lona-pricing'; did you mean loan-pricing?\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_unique_prefix_is_completed_and_said(store: Path, command: str) -> None:
    result = run(store, command, "loan", *COMMANDS[command])
    assert result.stderr.splitlines()[0] == "loan -> loan-pricing"
    assert "unknown model" not in result.stderr


@pytest.mark.parametrize("command", ["check", "gate", "drift"])
def test_nothing_close_lists_the_known_models(store: Path, command: str) -> None:
    result = run(store, command, "zzz", *COMMANDS[command])
    assert result.exit_code == 2
    assert result.stderr == "modeldeck: error: unknown model 'zzz' (known: fraud-scorer, loan-pricing)\n"


def test_gate_refuses_an_unknown_version_rather_than_failing_its_gates(store: Path) -> None:
    result = run(store, "gate", "loan-pricing", "--candidate", "v9")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("modeldeck: error: unknown version 'v9' of loan-pricing; did you mean v")
    champion = run(store, "gate", "loan-pricing", "--candidate", "v2", "--champion", "v0")
    assert champion.exit_code == 2 and "unknown version 'v0' of loan-pricing" in champion.stderr


def test_promote_refuses_an_unknown_candidate(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "modeldeck.toml"
    config.write_text('[models.loan-pricing.endpoint]\nkind = "http"\nurl = "http://127.0.0.1:9"\n')
    result = CliRunner().invoke(main, ["--db", str(store), "--config", str(config), "promote", "loan-pricing",
                                       "--candidate", "v9", "--reason", "x", "--yes"], catch_exceptions=False)
    assert result.exit_code == 2 and "unknown version 'v9' of loan-pricing" in result.stderr


def test_an_ambiguous_prefix_names_the_candidates(store: Path, tmp_path: Path) -> None:
    config = tmp_path / "modeldeck.toml"
    config.write_text('[models.loan-scoring]\nowner = "team"\n')  # configured, not yet logged: a name too
    result = CliRunner().invoke(main, ["--db", str(store), "--config", str(config), "check", "loan"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == ("modeldeck: error: model 'loan' is a prefix of 2: loan-pricing, loan-scoring; "
                             "say which\n")
