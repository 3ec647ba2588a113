"""Issue 13: the demo is a user's setup. Its endpoint and gates are written as a config beside its store,
so ``check`` (a headless command) sees the same endpoint the demo console does. Real store, the real demo
endpoint on 127.0.0.1, the real CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main
from app.demo.endpoint import demo_config_path, write_demo_config


def test_the_demo_config_makes_check_see_the_demo_endpoint(demo, seeded_store_path: Path) -> None:
    config = write_demo_config(seeded_store_path, demo)
    assert config == demo_config_path(seeded_store_path) and config.parent == seeded_store_path.parent
    parsed = tomllib.loads(config.read_text())
    assert parsed["db"] == str(seeded_store_path.resolve())
    assert parsed["models"]["fraud"]["endpoint"]["url"] == demo.model_url("fraud")
    # The very gates file the demo console uses is in it.
    assert parsed["models"]["fraud-scorer"]["gates"]["min_paired"] == 1000
    result = CliRunner().invoke(main, ["--config", str(config), "check", "fraud", "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    serving = next(i for i in json.loads(result.stdout)["items"] if i["area"] == "serving")
    assert serving["status"] == "pass" and demo.model_url("fraud") in serving["evidence"]
