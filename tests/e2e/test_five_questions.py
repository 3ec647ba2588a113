"""The five incident questions of issue 16, asked of the real console in a pseudo-terminal at 80x24,
as an on-call operator would: from the fleet, counting the keys pressed after typing an id (at most 5
each). The console runs as ``modeldeck demo`` (its own serving endpoint and live traffic) and as
``modeldeck`` on a store built only from ingested logs, with an http endpoint that answers rollbacks.

The screen is read through a VT100 emulator (tests/support/terminal.py), so each answer is asserted as
the text the operator reads at 80x24, not as a widget's state. Waits are bounded (30 s each, more for drift windows computed on open)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli.main import main
from tests.support.terminal import Terminal

pytestmark = [pytest.mark.slow, pytest.mark.terminal]

KEY_BUDGET = 5
MODELDECK = [sys.executable, "-c", "from app.cli.main import main; main()"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELDECK_", "NO_COLOR"))}
    env.update(XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"), TERM="xterm-256color",
               USER="oncall", LOGNAME="oncall", MODELDECK_TOKEN="t0ken")
    return env


class Question:
    """One question's key count: ``with Question(terminal, "...") :`` resets the count and checks the
    budget at the end; the fleet is where every question starts."""

    def __init__(self, terminal: Terminal, name: str) -> None:
        self.terminal, self.name = terminal, name

    def __enter__(self) -> "Question":
        self.terminal.keys = 0
        self.started = time.monotonic()
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            # Seconds are printed (pytest -s), never asserted: this machine's load is not the operator's.
            print(f"{self.name}: {self.terminal.keys} keys, {time.monotonic() - self.started:.1f} s")
            assert self.terminal.keys <= KEY_BUDGET, f"{self.name}: {self.terminal.keys} keys"
            back_to_fleet(self.terminal)


def command(terminal: Terminal, text: str) -> None:
    """``:`` then ``text`` then enter: two keys (the text is the id the operator types)."""
    terminal.press(":")
    terminal.wait_for("▔ : ▔")  # the command line is open: what is typed now goes into it
    terminal.type(text)
    terminal.press("enter")


def back_to_fleet(terminal: Terminal) -> None:
    command(terminal, "fleet")
    terminal.wait_for(" Model ", "Rdy", absent=("▔ : ▔",))


def preselected(screen: str) -> str:
    """The version the rollback dialog's action names ("Roll back to v3.1.2")."""
    found = re.search(r"Roll back to ([^\s:]+)", screen)
    assert found, screen
    return found.group(1)


def error_rate(screen: str, row: str) -> float:
    """The Err% cell of a fleet row (right-aligned under its header)."""
    header = next(line for line in screen.splitlines() if " Model " in line)
    end = header.index("Err%") + len("Err%")
    cell = row[end - 6:end].strip()
    return float(cell) if cell not in ("", "—") else 0.0


def drift_rows(screen: str) -> list[str]:
    """The drift table's visible rows, top to bottom, by the feature they name."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["feature"] and "trend" in line)
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or "·" in line or "┌" in line:
            break  # the chart's title: the table ended
        rows.append(line.split()[0])
    return rows


def charted(screen: str, rows: list[str]) -> str | None:
    """The table row whose feature the chart under it shows (the cursor's row): its title starts
    ``<feature> · ``; "(prediction)" is charted as "prediction", long names are cut in the table."""
    lines = screen.splitlines()
    title = next((line.split(" · ")[0].strip() for line in lines if " · " in line and line.startswith(" ")
                  and not line.lstrip().startswith("fleet")), "")
    for row in rows:
        if row == f"({title})" or (row.rstrip("…") and title.startswith(row.rstrip("…"))):
            return row
    return None


def move_to_row(terminal: Terminal, screen: str, feature: str) -> None:
    """Move the drift table's cursor to ``feature``'s row the shorter way: arrows from where it is, or
    ``g`` (top) then down."""
    rows = drift_rows(screen)
    on = charted(screen, rows)
    if feature in rows and on is not None and abs(rows.index(feature) - rows.index(on)) <= 1 + rows.index(feature):
        steps = rows.index(feature) - rows.index(on)
    else:
        terminal.press("g")
        terminal.settle()  # the table scrolled back to its top row
        rows = drift_rows(terminal.text())
        assert feature in rows, terminal.text()
        steps = rows.index(feature)
    for _ in range(abs(steps)):
        terminal.press("down" if steps > 0 else "up")


def row_of(screen: str, name: str) -> str:
    for line in screen.splitlines():
        if line.strip().startswith(name.strip()) or line.startswith(name):
            return line
    raise AssertionError(f"no row for {name} in:\n{screen}")


# -- the demo ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(db), "--rows", "20000", "--no-tui"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return db


def test_five_questions_on_the_demo(demo_store: Path, tmp_path: Path) -> None:
    from app.store import Store

    with Store.open(demo_store, read_only=True) as store:
        entity, model, version, day = _a_prediction(store)
    with Terminal([*MODELDECK, "demo", "--db", str(demo_store)], env=_env(tmp_path), cwd=tmp_path) as terminal:
        fleet = terminal.wait_for(" Model ", "ticket-router", "fraud-scorer", timeout_s=60)

        # (1) Which model is unhealthy and why: worst first, its alert named under the table. No key.
        with Question(terminal, "unhealthy"):
            fleet = terminal.wait_for("WARN ticket-router feature_drift:language")
            # Worst first, and why on screen: ticket-router's alert under the table, or a model whose
            # live demo traffic has just drawn an error rate over 5 % (random errors over ~30 requests),
            # ranked above an acknowledged warning by design, its Err% cell saying so.
            first = fleet.splitlines()[2]
            assert first.split()[0] == "ticket-router" or error_rate(fleet, first) >= 5.0, fleet

        _the_customer_question(terminal, entity, model, version, day)

        # (3) Is feature `language` of ticket-router drifting, and since when.
        with Question(terminal, "drift"):
            command(terminal, "drift ticket")
            terminal.wait_for("ticket-router › drift", "language", timeout_s=90)
            terminal.press("w")  # day windows: the hourly ones of a small demo are too thin to judge
            # Day windows shown, most drifted first (not the status line: an alert's toast may cover its end
            # for 8 s, while the title and the table stay in view). `language` is among the top rows, with
            # the model's prediction drift (which of the two leads depends on the day's live traffic).
            screen = terminal.wait_for("drift 1d ·", "\n language ", timeout_s=90)
            move_to_row(terminal, screen, "language")  # its chart says since when
            screen = terminal.wait_for("language · since")
            assert "DRIFT" in row_of(screen, "language"), screen
            assert re.search(r"language · since \d\d-\d\d", screen), screen

        _rollback_and_who_changed(terminal, "credit-limit", "credit", reason="INC-4711 error spike after deploy")


def _a_prediction(store) -> tuple[str, str, str, str]:  # type: ignore[no-untyped-def]
    """A logged prediction with a customer, from the middle of the log: (entity, model, version, YYYY-MM-DD)."""
    from app.timeutil import TimeFormat, format_ms

    for row_id in range(store.predictions.latest_id() // 2, 0, -1):
        row = store.predictions.get(row_id)
        if row is not None and row["entity_id"]:
            return row["entity_id"], row["model"], row["version"], format_ms(row["ts"], TimeFormat.DATE)
    raise AssertionError("no prediction with an entity in the store")


def _the_customer_question(terminal: Terminal, entity: str, model: str, version: str, day: str) -> None:
    # (2) What was customer E predicted on day D, by which version, with features and score.
    with Question(terminal, "customer"):
        command(terminal, f"search entity:{entity} since:{day} until:{day}T23:59:59.999Z")
        terminal.wait_for(entity, f"1-", "of ")
        terminal.press("escape")  # the query bar (focused however Logs opens) -> the results
        terminal.press("enter")  # the record
        screen = terminal.wait_for("features", "score", f"record")
        # The customer's newest record that day opens: it may be another model's than the row the id was
        # taken from (a customer scored by two models), so its model line is read, then its version.
        shown = re.search(r"model\s+(\S+)\s+version (\S+)", screen)
        assert shown and entity in screen, screen
        if shown.group(1) == model:
            assert shown.group(2) == version, screen


def _rollback_and_who_changed(terminal: Terminal, model: str, prefix: str, *, reason: str) -> None:
    # (4) Roll the model back to its last good version, confirmed and verified.
    with Question(terminal, "rollback"):
        command(terminal, f"rollback {prefix}")
        screen = terminal.wait_for(f"Roll back {model}", "serving ", "Reason", "Roll back to ", "created")
        version = preselected(screen)
        target = next(line for line in screen.splitlines() if line[1:].split()[:1] == [version])
        assert "rolled back" not in target and "ACTIVE" not in target, screen
        terminal.type(reason)
        terminal.press("enter")  # from the reason to the name box
        terminal.wait_for_cursor_on(f"type {model} to confirm")
        terminal.type(model)
        terminal.press("enter")  # the typed name confirms: this acts
        # Both: the plan's header says "succeeded" as soon as the endpoint answers, a moment before the
        # status line says what was read back (under load the test once looked in between).
        screen = terminal.wait_for("succeeded", "read back", timeout_s=40)
        assert "read back" in screen, screen
        terminal.press("escape")
        terminal.wait_for(" Model ", absent=("Roll back",))
        # The fleet shows the new version once the outcome is verified: read until its row says so (the
        # dialog's closing and the row's repaint can reach the terminal in two frames on a loaded machine).
        shows_version = re.compile(rf"^ ?{re.escape(model)}\s+{re.escape(version)}\s", re.MULTILINE)
        screen = terminal.wait_until(shows_version.search, f"{model}'s row on {version}", timeout_s=10)
        assert row_of(screen, model).split()[1] == version, screen
    # (5) Who changed the model last, when and why.
    with Question(terminal, "who changed"):
        command(terminal, f"model {prefix}")
        terminal.wait_for(f"model  {model}")
        terminal.press("4")
        # Who, what and when on the newest row; its outcome on the selected entry's own line below the list
        # (the row's Outcome column may sit under an alert's toast at 80 columns for 8 s).
        screen = terminal.wait_for("Actor", "rollback → succeeded")
        lines = screen.splitlines()
        latest = lines[lines.index(next(line for line in lines if "Actor" in line)) + 1]
        assert "oncall" in latest and "rollback" in latest, screen
        selected = next(line for line in lines if re.match(r"\s*#\d+ ", line))
        assert "oncall" in selected and "rollback → succeeded" in selected, screen
        # The selected entry's detail: why. Toasts (the "credit -> ..." notice, an alert resolved by the
        # rollback) may cover it for a few seconds each.
        terminal.wait_for(reason, timeout_s=60)


# -- a store built only from logs ---------------------------------------------------------------------

DAY_MS = 86_400_000


def _record(rng, i: int, ts: int, model: str, version: str, *, drifting: bool,  # type: ignore[no-untyped-def]
            failing: bool = False) -> dict:
    region = rng.choice(["south"] * 8 + ["north"] * 2) if drifting else rng.choice(["north"] * 8 + ["south"] * 2)
    score = round(rng.random(), 4)
    return {"ts": ts, "model": model, "version": version, "request_id": f"q{i}", "entity_id": f"cust-{i % 97}",
            "features": {"region": region, "income": rng.randint(1, 9) * 1000},
            "prediction": "approve" if score > 0.5 else "refer", "score": score,
            "latency_ms": 20 + rng.random() * 10, "status": "error" if failing else "ok",
            "error": "feature store timeout" if failing else None}


def _log_records(now: int) -> list[dict]:
    """Two models over 12 days. loan-risk: v1 until 5 days ago, then v2; its `region` moves from
    north to south 3 days ago (drift); the last 20 minutes fail a third of the time. ledger-tag: calm."""
    import random

    rng = random.Random(16)
    records = []
    for i in range(4000):
        ts = now - 12 * DAY_MS + i * (12 * DAY_MS - 30 * 60_000) // 4000
        model = "loan-risk" if i % 2 == 0 else "ledger-tag"
        version = ("v2" if ts > now - 5 * DAY_MS else "v1") if model == "loan-risk" else "t1"
        records.append(_record(rng, i, ts, model, version, drifting=ts > now - 3 * DAY_MS and model == "loan-risk"))
    for i in range(4000, 4090):  # the last 15 minutes: loan-risk v2 fails one request in three
        records.append(_record(rng, i, now - 15 * 60_000 + (i - 4000) * 9_000, "loan-risk", "v2",
                               drifting=True, failing=i % 3 == 0))
    return records


@pytest.fixture
def logged_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A store built by `modeldeck ingest` and `modeldeck baseline --from-logs` only, a config naming an
    http endpoint (the demo endpoint's protocol, serving v2 with v1 on hand) and an error-rate rule."""
    import json

    from app.demo.endpoint import DemoModel, DemoState, start_demo_endpoint
    from app.timeutil import now_ms

    now = now_ms()
    log = tmp_path / "predictions.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in _log_records(now)) + "\n")
    db = tmp_path / "logged.db"
    state = DemoState({"loan-risk": DemoModel("loan-risk", [{"version": "v2", "created_at": now - 5 * DAY_MS},
                                                            {"version": "v1", "created_at": now - 30 * DAY_MS}],
                                              active="v2")})
    with start_demo_endpoint(state=state) as endpoint:
        config = tmp_path / "modeldeck.toml"
        config.write_text(f'db = "{db}"\n\n[models.loan-risk]\nowner = "lending-oncall"\n\n'
                          f'[models.loan-risk.endpoint]\nkind = "http"\nurl = "{endpoint.url}/models/loan-risk"\n\n'
                          '[[models.loan-risk.alerts]]\nmetric = "error_rate"\nthreshold = 0.05\nwindow = "15m"\n'
                          'severity = "critical"\nrunbook = "https://runbooks.example/loan#errors"\n')
        runner = CliRunner()
        for args in (["ingest", str(log)],
                     ["baseline", "loan-risk", "--version", "v2", "--from-logs", "--since", "5d", "--until", "3d"],
                     ["baseline", "loan-risk", "--version", "v1", "--from-logs", "--since", "12d", "--until", "5d"]):
            result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
            assert result.exit_code == 0, (args, result.output)
        yield config, db


def test_five_questions_on_a_store_built_from_logs(logged_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.store import Store

    config, db = logged_store
    with Store.open(db, read_only=True) as store:
        entity, model, version, day = _a_prediction(store)
    with Terminal([*MODELDECK, "--config", str(config)], env=_env(tmp_path), cwd=tmp_path) as terminal:
        terminal.wait_for(" Model ", "loan-risk", "ledger-tag", timeout_s=60)

        # (1) Which model is unhealthy and why: worst first; the firing alert names the rule.
        with Question(terminal, "unhealthy"):
            fleet = terminal.wait_for("CRIT loan-risk error_rate", timeout_s=60)
            assert fleet.splitlines()[2].split()[0] == "loan-risk", fleet

        _the_customer_question(terminal, entity, model, version, day)

        # (3) Is feature `region` of loan-risk drifting, and since when (hourly windows are enough here).
        with Question(terminal, "drift"):
            command(terminal, "drift loan")
            terminal.wait_for("loan-risk › drift 1h", "trend\n", timeout_s=90)
            terminal.press("w")
            screen = terminal.wait_for("drift 1d ·", "\n region ", timeout_s=90)  # as above: title and table
            move_to_row(terminal, screen, "region")
            screen = terminal.wait_for("region · since")
            assert "DRIFT" in row_of(screen, "region"), screen

        _rollback_and_who_changed(terminal, "loan-risk", "loan", reason="INC-77 v2 fails on feature store")
