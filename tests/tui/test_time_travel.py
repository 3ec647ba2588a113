"""Incident time travel (issue 16 item 6): `modeldeck --at TIME` and `:at TIME` show the fleet and its
alerts as they stood then, from what the store holds (the log's window before then, alert history,
the audit's version switches, drift windows closed by then), under a "viewing" banner, read-only;
`[` and `]` step by the refresh interval. A real store file; the console's clock is fixed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli.main import main
from app.config.settings import Settings, UIConfig
from app.console.app import ModeldeckApp
from app.models import Alert, DriftPoint
from app.store import Store
from tests.tui.conftest import settle, settle_screen
from tests.tui.fixed_store import FIXED_NOW, HOUR, build_fixed_store
from textual.widgets import Static
from widgets.alert_list import AlertList

INCIDENT = FIXED_NOW - 6 * HOUR


def _store(tmp_path: Path) -> Path:
    """The fixed store plus an incident six hours ago: v3 was rolled back to v2 at INCIDENT (and promoted
    again later), an error-rate alert fired 10 minutes before it and resolved an hour after, and the
    hour before it drifted."""
    db = build_fixed_store(tmp_path / "travel.db")
    with Store.open(db) as store, store.write():
        store.alerts.add(Alert(rule="error_rate", model="fraud-scorer", severity="critical", owner="risk-ml",
                               value=0.3, threshold=0.05, state="resolved", fired_at=INCIDENT - 10 * 60_000,
                               resolved_at=INCIDENT + HOUR, acked_by="ana@bastion", acked_at=INCIDENT + 30 * 60_000))
        store.audit.append("rollback", "fraud-scorer", detail={"from": "v3", "to": "v2", "reason": "INC-1"},
                           outcome="succeeded", actor="ana@bastion", ts=INCIDENT)
        store.audit.append("promote", "fraud-scorer", detail={"from": "v2", "to": "v3", "reason": "fixed"},
                           outcome="succeeded", actor="bo@bastion", ts=INCIDENT + 2 * HOUR)
        store.drift.put_many([DriftPoint(model="fraud-scorer", version="v3", feature="merchant",
                                         window_start=INCIDENT - 2 * HOUR, window_end=INCIDENT - HOUR,
                                         n_reference=5000, n_current=800, method="jensenshannon", value=0.4,
                                         threshold=0.1, drifted=True)])
    return db


def _app(db: Path, at: int | None) -> ModeldeckApp:
    return ModeldeckApp(db, Settings(ui=UIConfig(refresh_s=600)), clock=lambda: FIXED_NOW, at_ms=at)


def _row(app: ModeldeckApp, name: str):  # type: ignore[no-untyped-def]
    return next(r for r in app.screen.rows if r.name == name)


async def test_the_fleet_as_it_stood_during_the_incident(tmp_path: Path) -> None:
    db = _store(tmp_path)
    app = _app(db, INCIDENT + 5 * 60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        title = str(app.screen.query_one("#title", Static).render())
        assert "viewing 11-24 06:05Z · read-only" in title, title
        fraud = _row(app, "fraud-scorer")
        assert fraud.active_version == "v2"  # the rollback had happened; today's champion is v3
        assert fraud.critical_unacked == 1 and fraud.alerts_firing == 1  # acked only later
        assert fraud.drift_feature == "merchant"  # the last window closed by then, not today's `amount`
        alerts = app.screen.query_one(AlertList)
        assert [(a.rule, a.state, a.acked_by) for a in alerts.alerts] == [("error_rate", "firing", None)]
        # A rollback from the past is refused at the action layer (read-only settings), never sent.
        assert app.context.read_only and app.context.settings.read_only
        # `[` steps back one refresh interval; `:at now` is live again.
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert app.context.at_ms == INCIDENT + 5 * 60_000 - 600_000
        assert "viewing 11-24 05:55Z" in str(app.screen.query_one("#title", Static).render())
        assert app.run_command_line(":at now") is None
        await settle(pilot)
        assert app.context.at_ms is None and not app.context.read_only
        assert "viewing" not in str(app.screen.query_one("#title", Static).render())
        fraud = _row(app, "fraud-scorer")
        assert fraud.active_version == "v3" and fraud.drift_feature == "amount"
        firing = [a.rule for a in app.screen.query_one(AlertList).alerts if a.state == "firing"]
        assert firing == ["p95_latency"]  # today's alert; the incident's is resolved


async def test_at_on_the_command_line_and_its_errors(tmp_path: Path) -> None:
    db = _store(tmp_path)
    app = _app(db, None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.run_command_line(":at 2026-11-24T06:05Z") is None
        await settle(pilot)
        assert app.context.at_ms == INCIDENT + 5 * 60_000 and _row(app, "fraud-scorer").active_version == "v2"
        assert "future" in (app.run_command_line(":at 2099-01-01T00:00Z") or "")
        assert "cannot read the time" in (app.run_command_line(":at yesterdayish") or "")


def test_at_option_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "--at", "soonish"])
    assert result.exit_code == 2 and "--at: not a time" in result.output
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "--at", "2099-01-01T00:00Z"])
    assert result.exit_code == 2 and "future" in result.output


async def test_the_model_screen_as_it_stood(tmp_path: Path) -> None:
    from screens.model import ModelScreen

    db = _store(tmp_path)
    with Store.open(db) as store:
        before_all, before_items = store.audit.entries(None, limit=50), store.checklist.items("fraud-scorer")
    app = _app(db, INCIDENT + 5 * 60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_model("fraud-scorer")
        await settle(pilot)
        await settle_screen(pilot)
        screen = app.screen
        assert isinstance(screen, ModelScreen)
        screen._draw_title()
        title = str(screen.query_one("#title", Static).render())
        assert "served v2" in title and "viewing 11-24 06:05Z" in title, title
        # The audit as it stood: the rollback is the latest entry; the later promotion is not there yet.
        assert [e.action for e in screen.entries][:1] == ["rollback"], screen.entries
        assert all(e.ts <= INCIDENT + 5 * 60_000 for e in screen.entries)


def test_the_past_audit_is_read_up_to_then_not_from_the_newest_entries(tmp_path: Path) -> None:
    """More than a screenful of later entries (a busy week after the incident) must not hide the entries
    of the time travelled to: they are read with ts <= at in the store, not filtered from the newest 200."""
    from app.store.location import StoreLocation
    from app.views.model import AUDIT_ROWS, activity

    db = _store(tmp_path)
    with Store.open(db) as store, store.write():
        for i in range(AUDIT_ROWS + 50):
            store.audit.append("checklist.sign_off", "fraud-scorer", detail={"role": "owner", "n": i},
                               outcome="succeeded", actor="bo@bastion", ts=INCIDENT + 3 * HOUR + i)
    entries = activity(StoreLocation(db), "fraud-scorer", INCIDENT + 5 * 60_000)
    assert entries and entries[0].action == "rollback" and entries[0].actor == "ana@bastion"
    assert all(e.ts <= INCIDENT + 5 * 60_000 for e in entries)
    assert len(activity(StoreLocation(db), "fraud-scorer")) == AUDIT_ROWS  # now: the newest, as before


def _store_content(db: Path) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    """Every row of every table of the store file (read with sqlite3 directly: what is on disk, not what
    a store function chooses to return)."""
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%fts%'")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}


async def test_walking_every_screen_in_the_past_writes_nothing(tmp_path: Path) -> None:
    """Time travel never writes: the fleet, every tab of the model screen, drift, logs and the action
    dialogs opened under --at, and [ ] steps, leave every table of the store file as it was (the audit
    and the checklist included: evaluating readiness at the travelled time once stored an override)."""
    from screens.drift import DriftScreen
    from screens.model import ModelScreen

    db = _store(tmp_path)
    before = _store_content(db)
    assert before["audit"] and before["checklist"]
    app = _app(db, INCIDENT + 5 * 60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("[")
        await settle(pilot)
        await pilot.press("]")
        await settle(pilot)
        app.open_model("fraud-scorer")
        await settle_screen(pilot, lambda: isinstance(app.screen, ModelScreen))
        for tab in "123456":
            await pilot.press(tab)
            await settle_screen(pilot)
        for key in ("d", "l", "R", "X"):  # drift, logs, rollback, disable: each opened, then esc back
            await pilot.press(key)
            await settle_screen(pilot, lambda: not isinstance(app.screen, ModelScreen))
            if isinstance(app.screen, DriftScreen):
                app.screen.action_refresh()  # a second look: still nothing computed
                await settle_screen(pilot)
            await pilot.press("escape")
            await settle_screen(pilot, lambda: isinstance(app.screen, ModelScreen))
        await pilot.press("ctrl+r")
        await settle_screen(pilot)
    after = _store_content(db)
    changed = [t for t in before if before[t] != after.get(t)]
    assert not changed, {t: (len(before[t]), len(after.get(t, []))) for t in changed}


async def test_endpoint_health_as_the_poller_recorded_it_then(tmp_path: Path) -> None:
    """Issue 16 item 6: the fleet in the past shows each endpoint's recorded health (down during the
    incident, with the check's age and the last good answer), not "unknown"; a record too old is stale."""
    from app.models import HealthState
    from app.store.metrics import HEALTH_CODES, HEALTH_SAMPLE

    db = _store(tmp_path)
    with Store.open(db) as store:
        store.metrics.add_many([("fraud-scorer", INCIDENT - 20 * 60_000, HEALTH_SAMPLE, HEALTH_CODES["up"]),
                                ("fraud-scorer", INCIDENT - 12 * 60_000, HEALTH_SAMPLE, HEALTH_CODES["down"]),
                                ("fraud-scorer", INCIDENT + 4 * 60_000, HEALTH_SAMPLE, HEALTH_CODES["down"]),
                                ("churn-predictor", INCIDENT - HOUR, HEALTH_SAMPLE, HEALTH_CODES["up"])])
    app = _app(db, INCIDENT + 5 * 60_000)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        fraud = _row(app, "fraud-scorer")
        assert fraud.health is HealthState.down and fraud.health_age_ms == 60_000 and not fraud.health_stale
        assert fraud.last_ok_at == INCIDENT - 20 * 60_000
        churn = _row(app, "churn-predictor")
        assert churn.health is HealthState.up and churn.health_stale  # an hour-old record vouches for nothing
        # Down outranks everything: the first row, highlighted, and its status line says since when.
        status = str(app.screen.query_one("#status", Static).render())
        assert "fraud-scorer down · 1m ago" in status and "last good 25m ago" in status, status


def test_readiness_as_it_stood_comes_from_the_audit_not_todays_verdicts() -> None:
    """Issue 16 item 6 (b): an area waived after the time travelled to shows what the audit says it was
    then; one not changed since stands as stored; one changed without an audit trail says so (pending)."""
    from app.models import AuditEntry, CheckItem, CheckStatus
    from app.views.model import items_then

    at = INCIDENT
    items = [CheckItem(model="m", area="monitoring", status=CheckStatus.waived, updated_at=at + HOUR,
                       updated_by="bo", version="v3", evidence="waived: INC-2"),
             CheckItem(model="m", area="docs", status=CheckStatus.passed, updated_at=at - HOUR, version="v3"),
             CheckItem(model="m", area="fairness", status=CheckStatus.passed, updated_at=at + HOUR, version="v3"),
             CheckItem(model="m", area="rollback", status=CheckStatus.failed, updated_at=at + 2 * HOUR, version="v3")]
    entries = [  # newest first, as the store returns them
        AuditEntry(id=3, ts=at + HOUR, actor="bo", action="checklist.waive", model="m", outcome="waived",
                   detail={"area": "monitoring", "previous": "fail"}),
        AuditEntry(id=2, ts=at - 2 * HOUR, actor="ana", action="checklist.pass", model="m", outcome="pass",
                   detail={"area": "rollback", "previous": "pending"}),
        AuditEntry(id=1, ts=at - 3 * HOUR, actor="ana", action="checklist.sign_off", model="m", outcome="signed",
                   detail={"role": "owner"})]
    then = {item.area: item for item in items_then(items, entries, at)}
    assert then["monitoring"].status is CheckStatus.failed and "before checklist.waive by bo" in then["monitoring"].evidence
    assert then["docs"].status is CheckStatus.passed  # unchanged since
    assert then["rollback"].status is CheckStatus.passed and then["rollback"].updated_by == "ana"
    assert then["fairness"].status is CheckStatus.pending and "not recorded" in then["fairness"].evidence



def test_readiness_as_it_stood_from_the_status_history(tmp_path: Path) -> None:
    """Every change of an area's status is kept: viewing the past shows the verdict of then on the
    Readiness tab and in the fleet's Rdy count, not today's, and not a `pending` for want of an audit entry."""
    from app.models import CheckItem, CheckStatus
    from app.views.fleet import fleet_rows
    from app.views.model import checklist_then

    db = _store(tmp_path)
    then = INCIDENT + 5 * 60_000
    settings = Settings(ui=UIConfig(refresh_s=600))
    with Store.open(db) as store, store.write():
        # Logging (pending since 7 hours ago) passed just before the incident; it failed (automatically, no
        # audit entry) an hour after it.
        for status, at, evidence in ((CheckStatus.passed, INCIDENT - 30 * 60_000, "request ids on 100%"),
                                     (CheckStatus.failed, INCIDENT + HOUR, "features on 12%")):
            store.checklist.put(CheckItem(model="fraud-scorer", version="v3", area="logging", status=status,
                                          evidence=evidence, auto=True, owner="risk-ml", updated_by="modeldeck",
                                          updated_at=at))
    with Store.open(db, read_only=True) as store:
        past = {item.area: item for item in checklist_then(store, "fraud-scorer", then)}
        now = {item.area: item for item in store.checklist.items("fraud-scorer")}
        passed_then = next(r for r in fleet_rows(store, settings, then, at=True) if r.name == "fraud-scorer")
    assert now["logging"].status is CheckStatus.failed
    assert past["logging"].status is CheckStatus.passed and past["logging"].evidence == "request ids on 100%"
    # An area put at build time after `then`, with no history before it and no audit entry: said, pending.
    assert past["model_card"].status is CheckStatus.pending and "not recorded" in past["model_card"].evidence
    # An area unchanged since (updated 8 hours before now): as stored.
    assert past["signoff"] == now["signoff"]
    assert passed_then.readiness_passed == sum(item.status in (CheckStatus.passed, CheckStatus.waived)
                                               for item in past.values())
    assert passed_then.readiness_passed >= 1  # logging's pass counts then
