"""What an operator installs: the wheel holds every package and the data files, and runs outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_FILES = ("demo-gates.toml", "demo-monitoring.toml", "http-protocol.md", "modeldeck.example.toml",
              "prediction.schema.json", "modeldeck-watch.service")


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_every_package_folder_is_listed_for_the_wheel():
    # The list is explicit (data/ is mapped to app.data), so a new package folder must be added to it.
    on_disk = {".".join(init.parent.relative_to(ROOT).parts)
               for top in ("app", "screens", "widgets") for init in (ROOT / top).rglob("__init__.py")}
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    assert on_disk | {"app.data"} == listed


def test_the_data_files_are_found_in_a_checkout():
    from app.config.datafiles import data_file

    for name in DATA_FILES:
        assert data_file(name).read_bytes() == (ROOT / "data" / name).read_bytes()


def _copy_source(to: Path) -> Path:
    # Build from a copy: an in-tree build leaves build/ behind, and a demo store in data/ must not matter.
    ignore = shutil.ignore_patterns(".git", ".venv", ".servers", "build", "*.egg-info", "__pycache__",
                                    ".cache", "*.db", "*.db-wal", "*.db-shm", ".pytest_cache")
    return Path(shutil.copytree(ROOT, to, ignore=ignore, symlinks=True))


@pytest.mark.slow
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path):
    source = _copy_source(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path / "dist")],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("modeldeck-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in DATA_FILES:
        assert f"app/data/{name}" in names
    assert "app/console/app.tcss" in names
    assert any(name.endswith("/licenses/LICENSE") for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # Dependencies come from the pip cache when it is warm: a fresh venv, nothing from the checkout.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                   check=True, capture_output=True, timeout=600)

    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MODELDECK_", "PYTHON"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)

    modeldeck = str(venv / "bin" / "modeldeck")
    shown = run(modeldeck, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "demo" in shown.stdout and "rollback" in shown.stdout

    built = run(modeldeck, "demo", "--no-tui", "--rows", "20000", "--db", str(tmp_path / "demo.db"))
    assert built.returncode == 0, built.stderr
    assert "fraud-scorer" in built.stdout
    assert (tmp_path / "demo.db").is_file()

    # The demo's gates are read from the installed package, not from a checkout next to it.
    found = run(str(venv / "bin" / "python"), "-c",
                "from app.demo.gates import DEMO_GATES_FILE, demo_settings; "
                "print(DEMO_GATES_FILE); print(sorted(demo_settings()))")
    assert found.returncode == 0, found.stderr
    where, models = found.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve()) and "churn-predictor" in models and "fraud-scorer" in models
