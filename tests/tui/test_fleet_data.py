"""app.views.fleet and app.text: the data behind the fleet screen and the text-safety rule."""

from __future__ import annotations

from pathlib import Path

from app.config.settings import EndpointConfig, ModelConfig, Settings
from app.views.fleet import FleetRow, fleet_rows
from app.models import Alert, Health, HealthState
from app.store import Store
from tests.tui.fixed_store import EVIL, EVIL_MODEL, FIXED_NOW, HOUR
from app.text import clean, safe_text, truncate


def test_fleet_rows_read_the_last_15_minutes_and_sort_worst_first(fixed_db: Path) -> None:
    with Store.open(fixed_db) as store:
        rows = fleet_rows(store, Settings(), FIXED_NOW)
    by_name = {row.name: row for row in rows}
    fraud = by_name["fraud-scorer"]
    assert rows[0].name == "fraud-scorer"  # a firing alert and a drifted feature
    assert fraud.active_version == "v3"
    # The checklist as evaluated now (what the Readiness tab shows), not the 5 the store last recorded:
    # only the model card holds (production p95 is over the benchmark, no alert rules, no retention policy).
    assert fraud.alerts_firing == 1 and fraud.readiness_passed == 1
    assert fraud.drift_feature == "amount" and fraud.drifted_features == 1 and fraud.drift_features == 2
    assert fraud.health is HealthState.unknown and fraud.health_age_ms is None
    # Every 10th of its 400 rows lies in the last 15 minutes.
    assert fraud.requests == 40 and abs(fraud.requests_per_min - 40 / 15) < 1e-9
    assert fraud.p95_latency_ms is not None and 18 <= fraud.p95_latency_ms <= 36
    # Nothing drifts: no feature named (the cell reads "ok"), one feature judged.
    churn = by_name["churn-predictor"]
    assert churn.drift_feature is None and churn.drifted_features == 0 and churn.drift_features == 1
    assert by_name[EVIL_MODEL].drift_features == 0


def test_an_outage_outranks_everything_and_health_age_comes_from_the_check(fixed_db: Path) -> None:
    health = {"churn-predictor": Health(state=HealthState.down, checked_at=FIXED_NOW - 90_000)}
    with Store.open(fixed_db) as store:
        store.alerts.add(Alert(rule="errors", model=EVIL_MODEL, fired_at=FIXED_NOW - 1000))
        rows = fleet_rows(store, Settings(), FIXED_NOW, health)
    assert [row.name for row in rows][0] == "churn-predictor"
    assert rows[0].health is HealthState.down and rows[0].health_age_ms == 90_000


def test_configured_models_without_logs_are_listed(fixed_db: Path) -> None:
    settings = Settings(models={"ranker": ModelConfig(endpoint=EndpointConfig(kind="http", url="http://127.0.0.1:1"))})
    with Store.open(fixed_db) as store:
        rows = fleet_rows(store, settings, FIXED_NOW)
    ranker = next(row for row in rows if row.name == "ranker")
    assert ranker.requests == 0 and ranker.error_rate is None and ranker.active_version is None


def test_severity_ties_sort_by_name() -> None:
    rows = sorted([FleetRow(name="b"), FleetRow(name="a")], key=lambda row: row.sort_key)
    assert [row.name for row in rows] == ["a", "b"]


def test_clean_makes_controls_visible_and_keeps_markup_literal() -> None:
    assert clean(EVIL) == "[bold red]boom[/]\\x1b[31m\\x07"
    assert clean("a\r\nb\tc") == "a\\x0d\\x0ab\\x09c"
    assert clean("a\r\nb\tc", keep_newlines=True) == "a\nb\tc"
    assert clean("x\u202ey") == "x\\u202ey"  # bidi override cannot reorder the line
    assert clean(None) == ""
    text = safe_text(EVIL)
    assert text.plain == clean(EVIL) and not text.spans


def test_truncate_counts_terminal_cells() -> None:
    assert truncate("fraud-scorer", 8) == "fraud-s…"
    assert truncate("short", 8) == "short"
    assert truncate("日本語テキスト", 6) == "日本…"
    assert safe_text("x" * 50, width=10).plain == "x" * 9 + "…"


def test_worst_drift_compares_p_values_and_distances_by_how_far_past_their_threshold() -> None:
    from app.drift.stats import CHI_SQUARED, KS, WASSERSTEIN
    from app.views.fleet import _worst_drift
    from app.models import DriftPoint

    def point(feature: str, method: str, value: float, threshold: float, drifted: bool) -> DriftPoint:
        return DriftPoint(model="m", version="v1", feature=feature, window_start=0, window_end=1, n_reference=10,
                          n_current=10, method=method, value=value, threshold=threshold, drifted=drifted)

    points = [point("amount", WASSERSTEIN, 0.15, 0.1, True),  # 1.5x its threshold
              point("country", CHI_SQUARED, 0.001, 0.05, True),  # p 50x below its threshold: the worst
              point("age", KS, 0.5, 0.05, False)]
    assert _worst_drift(points) == ("country", 0.001, CHI_SQUARED, 2)
    assert _worst_drift(points[:1] + points[2:]) == ("amount", 0.15, WASSERSTEIN, 1)


def test_fleet_drift_is_the_drift_screens_verdict_never_a_window_with_too_few_rows(fixed_db: Path) -> None:
    """A newer hourly window with 3 rows where everything "drifts" (the log just ended) is not judged: the
    fleet keeps the last window with enough rows. Features are counted as the drift screen counts them
    (the prediction is not one of them) and the prediction's drift is said on its own."""
    from widgets.fleet_table import drift_cell
    from widgets.severity import BAD

    from app.models import DriftPoint

    def point(feature: str, start: int, n: int, drifted: bool, value: float) -> DriftPoint:
        return DriftPoint(model="churn-predictor", version="2026.11", feature=feature, window_start=start,
                          window_end=start + HOUR, n_reference=5000, n_current=n, method="wasserstein",
                          value=value, threshold=0.1, drifted=drifted)

    with Store.open(fixed_db) as store:
        store.drift.put_many([point("__prediction__", FIXED_NOW - 2 * HOUR, 300, True, 0.121),
                              point("tenure", FIXED_NOW - HOUR, 3, True, 6.9),
                              point("__prediction__", FIXED_NOW - HOUR, 3, True, 7.0)])
        rows = {row.name: row for row in fleet_rows(store, Settings(), FIXED_NOW)}
        churn = rows["churn-predictor"]
        assert churn.drift_feature is None and churn.drifted_features == 0 and churn.drift_features == 1
        assert churn.prediction_drifted and drift_cell(churn, 10) == ("prediction", BAD)
        # The same read again says the same (nothing in it depends on the order rows come back in).
        assert fleet_rows(store, Settings(), FIXED_NOW) == fleet_rows(store, Settings(), FIXED_NOW)
        # With the bar lowered to 3 rows the newest window counts, and its worst feature is named.
        lowered = Settings(models={"churn-predictor": ModelConfig(drift_min_rows=3)})
        churn = {row.name: row for row in fleet_rows(store, lowered, FIXED_NOW)}["churn-predictor"]
        assert churn.drift_feature == "tenure" and churn.drift_value == 6.9 and churn.drifted_features == 1
        assert churn.prediction_drifted and drift_cell(churn, 20)[0] == "tenure +pred ·1h"  # drifting for 1h: its run started then


def test_a_live_sample_of_a_handful_of_requests_keeps_the_logs_figures_and_the_order(fixed_db: Path) -> None:
    """Just after a model is re-enabled its endpoint has seen one request, which failed slowly: that is not
    an error rate of 100 % nor a p95 of 975 ms. The row keeps the log's 15-minute figures (and its place in
    the fleet) until the endpoint's window holds MIN_LIVE_REQUESTS requests."""
    from app.endpoints.poller import PollResult
    from app.endpoints.protocol import EndpointMetrics
    from app.views.fleet import MIN_LIVE_REQUESTS
    from widgets.fleet_table import cells

    def poll(requests: float, error_rate: float) -> dict:
        metrics = EndpointMetrics(request_rate=requests / 60, error_rate=error_rate, latency_ms={"p95": 975.0},
                                  window_requests=requests)
        return {"churn-predictor": PollResult(model="churn-predictor", kind="http",
                                              health=Health(state=HealthState.up), metrics=metrics)}

    with Store.open(fixed_db) as store:
        logged = fleet_rows(store, Settings(), FIXED_NOW)
        one = fleet_rows(store, Settings(), FIXED_NOW, live=poll(1, 1.0))
        enough = fleet_rows(store, Settings(), FIXED_NOW, live=poll(MIN_LIVE_REQUESTS, 0.5))
    log_row = next(r for r in logged if r.name == "churn-predictor")
    row = next(r for r in one if r.name == "churn-predictor")
    assert [r.name for r in one] == [r.name for r in logged]  # one request does not reorder the fleet
    assert not row.live_metrics and row.live_requests == 1 and row.severity == log_row.severity
    shown = [cell.plain for cell in cells(row, 14)]
    assert shown[4:6] == [cell.plain for cell in cells(log_row, 14)][4:6]  # p95 and Err% from the log
    assert "100.0" not in shown and "975" not in shown
    assert row.live_rate and shown[3] == "1.0"  # the rate is the endpoint's: one request in its minute
    # Enough requests: the endpoint's figures, and the error rate sorts the model first.
    row = next(r for r in enough if r.name == "churn-predictor")
    assert row.live_metrics and row.error_rate == 0.5 and row.p95_latency_ms == 975.0
    assert row.severity > log_row.severity
    assert [r.name for r in enough] != [r.name for r in logged]


def test_the_status_line_says_where_the_traffic_figures_come_from_in_the_width_it_has() -> None:
    from widgets.fleet_table import status_summary

    read = " · read 12:05:45Z"
    assert status_summary("4 models", 0, 0, 4, read, 118) == (
        "4 models · Req/m p95 Err% from the prediction log, last 15 min · worst first · read 12:05:45Z")
    # The demo's usual case: every endpoint gives a rate, none enough requests for p95 and Err%.
    assert status_summary("4 models", 4, 0, 4, read, 78) == (
        "4 models · Req/m: endpoints (1 min) · p95 Err%: log (15 min) · read 12:05:45Z")
    assert status_summary("4 models", 4, 0, 4, read, 200).startswith(
        "4 models · Req/m: endpoints (1 min) · p95 Err%: log (15 min), too few requests for endpoint figures")
    assert status_summary("4 models", 2, 2, 4, read, 78) == (
        "4 models · Req/m p95 Err%: endpoint (1 min) for 2, log (15 min) for 2")
    for live_rate, live in ((4, 4), (4, 2), (3, 0), (3, 1)):
        assert len(status_summary("4 models", live_rate, live, 4, read, 78)) <= 78


def test_the_fleet_ranks_by_what_hurts(fixed_db: Path) -> None:
    """Documented order: down or critical unacknowledged, then error rate over its rule, then firing warnings,
    then acknowledged, then healthy. An acknowledged warning no longer outranks a model failing 76 % of calls."""
    from app.views.fleet import hurt_tier

    rows = [
        FleetRow(name="acked", alerts_firing=1, acked=1),
        FleetRow(name="healthy", drifted_features=3),  # drift alone, no rule firing: healthy tier, top of it
        FleetRow(name="warning", alerts_firing=1, warnings_unacked=1),
        FleetRow(name="failing", error_rate=0.76, requests=400),
        FleetRow(name="paged", alerts_firing=1, critical_unacked=1),
        FleetRow(name="down", health=HealthState.down),
        FleetRow(name="strict", error_rate=0.02, error_rate_limit=0.01, requests=300),  # its own rule's bar: 1 %
        # One failure among three requests of a quiet quarter hour: noise, not a model failing a third of calls.
        FleetRow(name="quiet", error_rate=1 / 3, requests=3),
        FleetRow(name="quiet-live", error_rate=0.5, requests=500, live_metrics=True, live_requests=4),
        FleetRow(name="strict-bar", error_rate=0.5, requests=30, error_rate_min_requests=50),  # the rule's own bar
    ]
    ranked = sorted(rows, key=lambda row: row.sort_key)
    assert [r.name for r in ranked][:5] == ["down", "paged", "failing", "strict", "warning"]
    assert [hurt_tier(r) for r in ranked] == [0, 0, 1, 1, 2, 3, 4, 4, 4, 4]
    assert {r.name for r in ranked[-4:]} == {"healthy", "quiet", "quiet-live", "strict-bar"}


def test_fleet_rows_count_acknowledged_and_critical_alerts_apart(fixed_db: Path) -> None:
    from app.alerts.rules import acknowledge
    from app.views.fleet import hurt_tier

    with Store.open(fixed_db) as store:
        critical = store.alerts.add(Alert(rule="errors", model="churn-predictor", severity="critical",
                                          fired_at=FIXED_NOW - 1000))
        rows = {r.name: r for r in fleet_rows(store, Settings(), FIXED_NOW)}
        assert rows["churn-predictor"].critical_unacked == 1
        assert hurt_tier(rows["churn-predictor"]) == 0
        acknowledge(store, critical, "alice@host", now=FIXED_NOW)
        rows = {r.name: r for r in fleet_rows(store, Settings(), FIXED_NOW)}
    assert (rows["churn-predictor"].critical_unacked, rows["churn-predictor"].acked) == (0, 1)
    assert hurt_tier(rows["churn-predictor"]) == 3
