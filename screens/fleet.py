"""The home screen: every model, worst first, refreshed live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from app.console.errors import worker_failure
from app.text import clean, safe_text
from app.timeutil import TimeFormat, format_ms
from screens.alert_host import HostsAlerts
from widgets.alert_list import AlertList
from widgets.fleet_table import FleetTable, column_widths, status_summary
from widgets.key_bar import KeyBar
from widgets.safe_input import SafeInput

if TYPE_CHECKING:
    from textual.widgets import Input

    from app.config.settings import Settings
    from app.models import Health
    from app.store.location import StoreLocation
    from app.views.fleet import FleetRow

def time_travel_banner(at_ms: int) -> Text:
    """The banner of a console showing the past: reverse video, so it reads without colour too."""
    return Text.assemble("  ", (f" viewing {format_ms(at_ms, TimeFormat.DAY_MINUTE)}Z · read-only ", "bold reverse"),
                         (" [ ] step", "dim"))


EMPTY_TEXT = ("No models in this store yet.\n"
              "Load prediction logs with `modeldeck ingest FILE`, or try `modeldeck demo`.")


class FleetScreen(HostsAlerts, Screen):
    """One row per model: health, traffic, latency, errors, drift, readiness and alerts."""

    # enter (open) is bound on the FleetTable itself: see widgets/fleet_table.py.
    BINDINGS = [
        # `/` is the console's log search everywhere (app.search_logs): the row filter is `f`.
        Binding("f", "filter", "Filter", id="fleet.filter"),
        Binding("ctrl+r", "refresh", "Refresh", id="fleet.refresh", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="fleet.clear_filter"),
        Binding("A", "acknowledge", "Ack", id="fleet.acknowledge"),
        Binding("R", "rollback", "Rollback", id="fleet.rollback"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[FleetRow], read_at: int, read: int) -> None:
            super().__init__()
            self.rows = rows
            self.read_at = read_at
            self.read = read  # which read this is (they are numbered as started)

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FleetRow] = []
        self.filter_text = ""
        self._timer: Timer | None = None
        self._loaded_once = False
        self._reads_started = 0
        self._read_shown = 0
        self.read_at: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        with Vertical(id="fleet-body"):
            yield FleetTable(id="fleet-table")
            yield Static(EMPTY_TEXT, id="fleet-empty", markup=False)
        yield Static(id="status", classes="status-line")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#fleet-empty").display = False
        self._show_title()
        self.query_one("#status", Static).update(Text("reading the store…", style="dim"))
        self.query_one(FleetTable).focus()
        console = self.console_app
        self.call_after_refresh(console.mark_painted, "shell")
        # Read after the first paint (and once the console has read its settings): the reader's
        # imports would otherwise compete with the paint for the GIL.
        self.call_after_refresh(console.when_ready, self._start)

    def _start(self) -> None:
        self.mount(AlertList(show_model=True, refresh_s=self.console_context.settings.ui.refresh_s,
                             id="fleet-alerts"), before="#status")
        self.action_refresh()

    def _show_title(self) -> None:
        context = self.console_context
        store_name = context.store.name if context.ready else ""  # unknown until the settings are read
        title = Text.assemble(("modeldeck", "bold"), "  fleet  ", safe_text(store_name, style="dim"))
        if context.demo:
            title.append("  (demo)", style="dim")
        if context.at_ms is not None:
            title.append_text(time_travel_banner(context.at_ms))
        self.query_one("#title", Static).update(title)

    # -- reading ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        context = self.console_context
        self._show_title()
        self._reads_started += 1
        self.load(context.store, context.settings, context.now_ms(), dict(context.health), dict(context.live),
                  read=self._reads_started, at=context.at_ms is not None)

    @work(thread=True, exclusive=True, group="fleet", exit_on_error=False, description="read the fleet")
    def load(self, location: StoreLocation, settings: Settings, now: int, health: dict[str, Health],
             live: dict | None = None, *, read: int = 0, at: bool = False) -> None:
        from app.views.fleet import read_fleet

        self.post_message(self.Loaded(read_fleet(location, settings, now, health, live, at=at), now, read))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "fleet" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        failure = worker_failure(event)
        if failure is not None:
            # The summary slot, so moving the cursor does not hide it: it stays until a read works.
            self._summary = Text(f"cannot read the store: {failure}", style="red")
            self._show_status()
            # The status line says it; a toast on every refresh would pile up.
            event.stop()
        # The next read is scheduled when this one is over: reads never overlap on a slow store.
        if not self.is_current:
            return
        self._timer = self.set_timer(self.console_context.settings.ui.refresh_s, self.action_refresh)

    def on_fleet_screen_loaded(self, message: Loaded) -> None:
        # A superseded read (exclusive cancels the worker, not its thread) may finish after a newer one,
        # e.g. of the store switched away from: it must not overwrite what the newer read showed.
        if message.read < self._read_shown:
            return
        self._read_shown = message.read
        self.rows = message.rows
        self.read_at = message.read_at
        self._loaded_once = True
        self.console_context.model_names = sorted(row.name for row in message.rows)
        self._render_rows()
        self.call_after_refresh(self.console_app.mark_painted, "rows")

    # -- showing ---------------------------------------------------------------------------
    def _visible_rows(self) -> list[FleetRow]:
        text = self.filter_text.strip().lower()
        if not text:
            return self.rows
        invert = text.startswith("!")
        needle = text.lstrip("!")
        return [row for row in self.rows if (needle in row.name.lower()) != invert]

    def _render_rows(self) -> None:
        table = self.query_one(FleetTable)
        visible = self._visible_rows()
        from widgets.fleet_table import fitted_widths

        # Fitted to every row, not only the visible ones: filtering must not make the columns jump.
        table.show(visible, *fitted_widths(self.size.width, self.rows))
        self.query_one("#fleet-empty").display = self._loaded_once and not self.rows
        status = f"{len(self.rows)} models"
        if self.filter_text:
            status = f"{len(visible)} of {len(self.rows)} models match {clean(self.filter_text)!r}"
        # The time of the last read tells the operator the screen is live (it refreshes on its own).
        read = f" · read {format_ms(self.read_at, TimeFormat.CLOCK_SECONDS)}Z" if self.read_at is not None else ""
        # Figures from endpoints' /metrics rather than the log (app/views/fleet.py says when).
        live_rate = sum(1 for row in self.rows if row.live_rate)
        live = sum(1 for row in self.rows if row.live_metrics)
        self._summary = Text(status_summary(status, live_rate, live, len(self.rows), read,
                                            max(20, self.size.width - 2)), style="dim")
        self._show_status()

    def _show_status(self) -> None:
        self.query_one("#status", Static).update(self._endpoint_line() or getattr(self, "_summary", ""))

    def _endpoint_line(self) -> Text | None:
        """The highlighted model's endpoint problem, with its age and the last good answer (or None)."""
        from app.timeutil import age_text

        name = self.query_one(FleetTable).current_model
        row = next((r for r in self.rows if r.name == name), None)
        if row is not None and row.health.value not in ("down", "degraded") and not row.health_stale \
                and row.review_overdue:
            return self._review_line(row)
        if row is None or (row.health.value not in ("down", "degraded") and not row.health_stale):
            return None
        from widgets.fleet_table import health_text

        line = Text.assemble(safe_text(row.name, width=24, style="bold"), " ",
                             (health_text(row), "bold" if row.health.value == "down" else ""))
        if row.health_reason:
            line.append(": ")
            line.append_text(safe_text(row.health_reason, width=max(20, self.size.width - 50)))
        if row.last_ok_at is not None:
            line.append(f" · last good {age_text(self.console_context.now_ms() - row.last_ok_at)} ago")
        return line

    def _review_line(self, row: FleetRow) -> Text:
        """Why the highlighted model's Rdy ends in "!": its monthly health review is overdue."""
        from app.timeutil import age_text

        line = Text.assemble(safe_text(row.name, width=24, style="bold"), (" health review overdue", "yellow"))
        if row.last_review_at is None:
            line.append(": never reviewed")
        else:
            line.append(f": last {age_text(self.console_context.now_ms() - row.last_review_at)} ago by ")
            line.append_text(safe_text(row.last_review_by or "?", width=24))
        line.append(" · modeldeck review", style="dim")
        return line

    @on(DataTable.RowHighlighted, "#fleet-table")
    def _row_highlighted(self) -> None:
        if self.rows:
            self._show_status()

    def on_resize(self) -> None:
        if self.rows:
            self._render_rows()

    # -- keys ------------------------------------------------------------------------------
    def action_acknowledge(self) -> None:
        for alerts in self.query(AlertList):  # mounted once the settings are read
            alerts.acknowledge(self.query_one(FleetTable).current_model)

    def action_rollback(self) -> None:
        """The highlighted model's rollback modal, straight from the fleet (incident path: R, reason,
        enter, name, enter)."""
        name = self.query_one(FleetTable).current_model
        if name is not None:
            self.console_app.open_model_view("rollback", name)

    def action_open(self) -> None:
        name = self.query_one(FleetTable).current_model
        if name is not None:
            self.console_app.open_model(name)

    @on(DataTable.RowSelected, "#fleet-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def _filter_box(self) -> Input | None:
        return next(iter(self.query("#fleet-filter")), None)  # type: ignore[return-value]

    def action_filter(self) -> None:
        # Mounted on first use: one widget less to build before the first paint.
        box = self._filter_box()
        if box is None:
            from textual.widgets import Input

            box = SafeInput(placeholder="filter models (! inverts)  enter: keep  esc: clear", id="fleet-filter")
            self.mount(box, before="#status")
        box.display = True
        box.focus()
        self.refresh_bindings()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "fleet-filter":
            self.filter_text = event.value
            self._render_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "fleet-filter":
            return
        event.input.display = bool(self.filter_text)
        self.query_one(FleetTable).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("refresh", "acknowledge", "rollback") and not self.console_context.ready:
            return False  # nothing read yet: the console is still reading its settings
        # esc clears a filter only while one is shown; otherwise it is the app's (back).
        if action == "clear_filter":
            box = self._filter_box()
            return box is not None and bool(box.display)
        return True

    def action_clear_filter(self) -> None:
        box = self._filter_box()
        if box is not None and box.display:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self._render_rows()
            self.query_one(FleetTable).focus()
            self.refresh_bindings()

    def on_screen_suspend(self) -> None:
        # Nobody looks at the fleet while a model is open: stop reading it until we are back.
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        if self._loaded_once:
            self.action_refresh()
