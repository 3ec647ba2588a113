"""Global options before or after the command (issue 13): app.cli.main.hoist_global_options."""

from __future__ import annotations

import pytest

from app.cli.main import hoist_global_options

OWN = {"search": {"--db"}, "demo": {"--db"}}


def declared(command: str) -> set[str]:
    return OWN.get(command, set())


@pytest.mark.parametrize(("given", "parsed"), [
    (["ingest", "f.jsonl", "--db", "s.db"], ["--db", "s.db", "ingest", "f.jsonl"]),
    (["check", "m", "--db=s.db", "--read-only", "--json"], ["--db=s.db", "--read-only", "check", "m", "--json"]),
    (["--config", "c.toml", "check", "m", "--db", "s.db"], ["--config", "c.toml", "--db", "s.db", "check", "m"]),
    (["--db", "s.db", "check", "m"], ["--db", "s.db", "check", "m"]),
    (["search", "model:x", "--db", "s.db"], ["search", "model:x", "--db", "s.db"]),  # search's own --db
    (["demo", "--db", "d.db", "--read-only"], ["--read-only", "demo", "--db", "d.db"]),
    (["search", "--", "--db", "x"], ["search", "--", "--db", "x"]),  # nothing after -- moves
    (["--read-only"], ["--read-only"]),
])
def test_hoists_only_the_groups_options(given: list[str], parsed: list[str]) -> None:
    assert hoist_global_options(given, declared) == parsed
