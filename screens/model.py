"""One model: Overview (versions, 24 h traffic), Readiness (the eight areas), Model card, Activity."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Markdown, Sparkline, Static, TabbedContent, TabPane

from app.checklist.areas import READINESS_AREAS
from app.console import routes
from app.console.errors import one_line
from app.models import AuditEntry, CheckItem, CheckStatus, Version
from app.text import clean, safe_text
from app.timeutil import TimeFormat, age_text, format_ms, ms_to_iso
from app.views.audit_text import audit_summary
from app.views.metrics_format import metrics_text
from app.views.model import Overview
from app.views.quality import quality_view
from screens.alert_host import HostsAlerts
from screens.base import OwnBackground
from screens.prompt import Prompt, PromptField
from widgets.severity import BAD, GOOD, WARN
from widgets.alert_list import AlertList
from widgets.compare_panel import ComparePanel
from widgets.quality_panel import QualityPanel
from widgets.endpoint_status import EndpointStatus
from widgets.key_bar import KeyBar
from widgets.nav_table import NavTable
from widgets.text_update import update_text

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.models import Health
    from app.store.location import StoreLocation

TABS = ("overview", "readiness", "card", "activity", "compare", "quality")

# fail is reverse video, pending bold: the word and the attribute read without colour (widgets/severity.py).
_STATUS_STYLE = {CheckStatus.passed: GOOD, CheckStatus.failed: BAD, CheckStatus.pending: WARN,
                 CheckStatus.waived: "cyan"}


def _short_date(ms: int | None) -> str:
    return format_ms(ms, TimeFormat.MINUTE)


def serving_note(live: Any | None, disabled: bool) -> str | None:
    """What to add after "active VERSION" when that version is not what the endpoint serves now.

    The latest poll (``app.endpoints.poller.PollResult``) is the endpoint's own word and wins: an
    endpoint re-enabled with another tool serves again whatever the audit says. When it reports
    nothing active and is down, the audit tells a disable done here ("disabled") from an endpoint
    that stopped answering ("endpoint down", where what runs there is unknown). Before the first
    poll the audit alone is all there is.
    """
    if live is None:
        return "disabled" if disabled else None
    if live.active_version is None and live.health.state.value == "down":
        return "disabled" if disabled else "endpoint down"
    return None


def card_markdown(model: str, version: Version | None) -> str:
    """The stored card as one Markdown document; control characters made visible."""
    if version is None or not version.card:
        return f"# {clean(model)}\n\nNo model card stored for this model."
    lines = [f"# {clean(model)} {clean(version.version)}", ""]
    for section, body in version.card.items():
        lines += [f"## {clean(section).replace('_', ' ').capitalize()}", ""]
        if isinstance(body, (dict, list)):
            body = "```\n" + orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n```"
        lines += [clean(body, keep_newlines=True), ""]
    return "\n".join(lines)


def _view_bindings() -> list[Binding]:
    return [Binding(view.key, f"view('{view.id}')", view.title, id=f"model.{view.id}")
            for view in routes.model_views()]


class ModelScreen(OwnBackground, HostsAlerts, Screen):
    # Nothing focused while the screen is first painted: the versions table, focused once its tab is
    # mounted, is the first focus. Textual's own pick (the tab bar), then the table, restyled the
    # screen twice and laid it out again.
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("1", "tab('overview')", "Overview", id="model.tab_overview", show=False),
        Binding("2", "tab('readiness')", "Readiness", id="model.tab_readiness", show=False),
        Binding("3", "tab('card')", "Card", id="model.tab_card", show=False),
        Binding("4", "tab('activity')", "Activity", id="model.tab_activity", show=False),
        Binding("5", "tab('compare')", "Compare", id="model.tab_compare", show=False),
        Binding("6", "tab('quality')", "Quality", id="model.tab_quality", show=False),
        Binding("s", "sign_off", "Sign off", id="model.sign_off"),
        Binding("w", "waive", "Waive", id="model.waive"),
        Binding("o", "reopen", "Reopen", id="model.reopen"),
        Binding("ctrl+r", "refresh", "Refresh", id="model.refresh", show=False),
        Binding("A", "acknowledge", "Ack alerts", id="model.acknowledge"),
        *_view_bindings(),
    ]

    class OverviewLoaded(Message):
        def __init__(self, overview: Overview) -> None:
            super().__init__()
            self.overview = overview

    class ReadinessLoaded(Message):
        def __init__(self, items: list[CheckItem], evaluated: bool, changed: str | None = None) -> None:
            super().__init__()
            self.items = items
            self.evaluated = evaluated
            self.changed = changed

    class NotificationsLoaded(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    class ActivityLoaded(Message):
        def __init__(self, entries: list[AuditEntry]) -> None:
            super().__init__()
            self.entries = entries

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.items: list[CheckItem] = []
        self.entries: list[AuditEntry] = []
        # Each tab is composed on its first showing; Overview right after the screen's first paint. All six
        # at once made 77 widgets to compose, style and lay out on the UI thread in one go; the screen's
        # first paint is 25 now, and the Overview's 9 are styled, laid out and painted in a frame of
        # their own (issue 18: no frame of the UI loop over 100 ms at 10M rows).
        # What the readers bring for a tab not built yet waits here and is drawn when it is.
        self._built: set[str] = set()
        self._building: set[str] = set()  # tabs whose widgets are being mounted
        self._first_shown = False  # the first frame is painted and its tab built (see _first_showing)
        self._card_text: str | None = None
        self._notification_lines: list[str] | None = None
        self._activity_loaded = False

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        context = self.console_context
        config = context.settings.models.get(self.model)
        yield EndpointStatus(lambda: context.live.get(self.model), context.now_ms,
                             configured=bool(config and (config.endpoint or config.registry)), id="endpoint-status")
        yield Static(Text("Req/m p95 Err%: reading…", style="dim"), id="figures", classes="status-line")
        yield AlertList(show_model=False, refresh_s=context.settings.ui.refresh_s, empty_text="no alerts",
                        show_runbook=True, id="model-alerts")
        with TabbedContent(id="tabs", initial="overview"):
            yield TabPane("1 Overview", id="overview")
            yield TabPane("2 Readiness", id="readiness")
            yield TabPane("3 Card", id="card")
            yield TabPane("4 Activity", id="activity")
            yield TabPane("5 Compare", id="compare")  # champion vs challenger, gates (issue 7)
            yield TabPane("6 Quality", id="quality")  # production quality from late labels (issue 17)
        # Made now, mounted with its tab: help lists its keys before the tab is first shown.
        self._compare_panel = ComparePanel(id="compare-panel")
        yield Static(id="status", classes="status-line")
        yield KeyBar()

    def _pane_contents(self, pane: str) -> list[Widget]:
        """The widgets of a tab (see ``_built``)."""
        if pane == "overview":
            versions = NavTable(id="versions")
            versions.add_columns("Version", "Stage", "Created", "Offline metrics")
            sync_age = Static(id="sync-age", classes="spark-label")  # shown only for a synced model
            sync_age.display = False
            return [VerticalScroll(sync_age, versions,
                                   Static(id="traffic-label", classes="spark-label"), Sparkline(id="traffic-spark"),
                                   Static(id="latency-label", classes="spark-label"), Sparkline(id="latency-spark"),
                                   Static(id="errors-label", classes="spark-label"), Sparkline(id="errors-spark"),
                                   id="overview-body")]
        if pane == "readiness":
            return [Vertical(NavTable(id="checklist"), Static(id="check-detail", classes="detail"))]
        if pane == "card":
            return [VerticalScroll(Markdown(self._card_text, id="card-markdown", open_links=False), id="card-body")]
        if pane == "activity":
            return [Vertical(NavTable(id="activity-table"), Static(id="activity-detail", classes="detail"),
                             Static(id="notifications", classes="detail"))]
        if pane == "compare":
            return [self._compare_panel]
        if pane == "quality":
            context = self.console_context
            config = context.settings.models.get(self.model)
            success = config.success if config is not None else None
            return [QualityPanel(lambda: quality_view(context.store, self.model, context.now_ms(), success=success),
                                 id="quality-panel")]
        return []

    async def _build_pane(self, pane: str) -> None:
        """Compose a tab on its first showing, then draw what its readers brought meanwhile."""
        if pane in self._built or pane in self._building or pane not in TABS:
            return
        self._building.add(pane)
        await self.query_one(f"#{pane}", TabPane).mount_all(self._pane_contents(pane))
        # Built only once mounted: a reader's result arriving while the mount is under way must not look
        # for the tab's widgets yet (it crashed the console: NoMatches '#notifications'); it is drawn below.
        self._building.discard(pane)
        self._built.add(pane)
        if pane == "overview":
            if getattr(self, "_overview", None) is not None:
                self._show_overview_body()
        elif pane == "readiness" and self.items:
            self._show_checklist()
        elif pane == "activity":
            if self._activity_loaded:
                self._show_activity()
            if self._notification_lines is not None:
                self._show_notifications()

    def on_mount(self) -> None:
        update_text(self.query_one("#title", Static), Text.assemble(("modeldeck", "bold"), "  model  ",
                                                                   safe_text(self.model, width=60, style="bold")))
        update_text(self.query_one("#status", Static), Text("reading…", style="dim"))
        # The Overview tab, then the five readers, once the screen is painted: threads busy in Python
        # beside the first layout and paint (the longest step on the UI thread) take the GIL in turns with
        # it and made it several times longer on a loaded machine.
        self.call_after_refresh(self._first_showing)
        self.set_interval(1.0, self._draw_title)

    async def _first_showing(self) -> None:
        # A turn of the event loop between the first frame and the tab's: keys and timers are answered
        # between the two, and neither frame holds the loop as long as both did.
        await asyncio.sleep(0)
        self._first_shown = True
        await self._show_tab(self.query_one(TabbedContent).active)  # Overview, or the tab a key chose
        self.action_refresh()

    def on_screen_resume(self) -> None:
        # Back from a modal (disable, roll back, promote): the champion and the audit have changed.
        if getattr(self, "_overview", None) is not None:
            context = self.console_context
            self.load_overview(context.store, context.now_ms())

    def alert_scope(self) -> tuple[str | None, int]:
        return self.model, 3  # this model's firing alerts and its last three resolved ones

    # -- reading -------------------------------------------------------------------------
    def action_refresh(self) -> None:
        context = self.console_context
        now = context.now_ms()
        self.load_overview(context.store, now)
        past = context.at_ms is not None  # no poll reads the past: the log's figures before that time
        self.load_figures(context.store, context.settings, now, None if past else context.health.get(self.model),
                          None if past else context.live.get(self.model))
        self.load_readiness(context.store, context.settings, now, context.health.get(self.model))
        self.load_activity(context.store)
        self.load_notifications(context.store)

    @work(thread=True, exclusive=True, group="model-overview", exit_on_error=False, description="read the model")
    def load_overview(self, location: StoreLocation, now: int) -> None:
        from app.views.model import overview

        at = self.console_context.at_ms is not None
        self.post_message(self.OverviewLoaded(overview(location, self.model, now, at=at)))

    @work(thread=True, exclusive=True, group="model-figures", exit_on_error=False, description="read the figures")
    def load_figures(self, location: StoreLocation, settings: Settings, now: int, health: Health | None,
                     live: object | None) -> None:
        from app.views.model import figures

        row = figures(location, settings, self.model, now, health, live, at=self.console_context.at_ms is not None)
        if row is not None:
            self.app.call_from_thread(self._show_figures, row)

    def _show_figures(self, row: object) -> None:
        from widgets.fleet_table import figures_line

        update_text(self.query_one("#figures", Static), figures_line(row))  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="model-readiness", exit_on_error=False,
          description="evaluate the readiness checklist")
    def load_readiness(self, location: StoreLocation, settings: Settings, now: int, health: Health | None) -> None:
        from app.views.model import readiness

        past = self.console_context.at_ms is not None
        self.post_message(self.ReadinessLoaded(readiness(location, settings, self.model, now, health, at=past),
                                               not past))

    @work(thread=True, exclusive=True, group="model-activity", exit_on_error=False, description="read the audit")
    def load_activity(self, location: StoreLocation) -> None:
        from app.views.model import activity

        self.post_message(self.ActivityLoaded(activity(location, self.model, self.console_context.at_ms)))

    @work(thread=True, exclusive=True, group="model-notifications", exit_on_error=False,
          description="read the alert notifications")
    def load_notifications(self, location: StoreLocation) -> None:
        from app.views.model import notifications

        self.post_message(self.NotificationsLoaded(notifications(location, self.model)))

    def on_model_screen_notifications_loaded(self, message: NotificationsLoaded) -> None:
        self._notification_lines = message.lines
        if "activity" in self._built:
            self._show_notifications()

    def _show_notifications(self) -> None:
        """Activity tab, below the audit: what `modeldeck watch` told the owners (issue 15)."""
        lines = self._notification_lines or []
        text = Text("Notifications (modeldeck watch): ", style="bold")
        if not lines:
            text.append("none sent", style="dim")
        for line in lines:
            text.append("\n")
            text.append(clean(line))  # cleaned, and plain Text (never markup); long errors wrap
        self.query_one("#notifications", Static).update(text)

    # -- showing -------------------------------------------------------------------------
    def on_model_screen_overview_loaded(self, message: OverviewLoaded) -> None:
        overview = message.overview
        info = overview.info
        active = next((v for v in overview.versions if v.stage.value == "champion"), None)
        self._overview = overview
        self._draw_title()
        if info is None and not overview.versions:
            update_text(self.query_one("#status", Static),
                        Text(f"no model named {clean(self.model)!r} in this store", style="red"))
        else:
            description = info.description if info else ""
            update_text(self.query_one("#status", Static), safe_text(description or " ", width=200, style="dim"))

        if "overview" in self._built:
            self._show_overview_body()
        # Card: the active version's, else the newest one's.
        shown = active or (overview.versions[0] if overview.versions else None)
        card_text = card_markdown(self.model, shown)
        if card_text != self._card_text:  # a refresh with the same card leaves it (and its scroll) be
            self._card_text = card_text
            if "card" in self._built:
                self.query_one("#card-markdown", Markdown).update(card_text)

    def _show_overview_body(self) -> None:
        """The Overview tab: sync age, versions, 24 h traffic."""
        from app.views.model import sync_line

        overview: Overview = self._overview

        synced = sync_line(overview.syncs, self.console_context.now_ms())
        sync_age = self.query_one("#sync-age", Static)
        sync_age.display = bool(synced)
        # A failed sync is bold: the versions below are only as fresh as its last success.
        update_text(sync_age, safe_text(synced, width=max(20, self.size.width * 2),
                                        style="bold" if any(s.error for s in overview.syncs) else "dim"))

        table = self.query_one("#versions", NavTable)
        table.clear()
        # Below 100 columns Created is a date alone, so the metrics ("mae 491 rmse 776 p95 94.3ms
        # 300rps") get the room; version (12), stage (10), created and padding take the rest.
        wide = self.size.width >= 100
        width = max(16, self.size.width - (48 if wide else 42))
        for version in overview.versions:
            created = format_ms(version.created_at, TimeFormat.MINUTE if wide else TimeFormat.DATE)
            table.add_row(safe_text(version.version, width=12), Text(version.stage.value), Text(created),
                          safe_text(metrics_text(version.metrics), width=width), key=version.version)

        traffic = overview.traffic
        requests = [float(b.requests) for b in traffic]
        latency = [b.mean_latency_ms or 0.0 for b in traffic]
        errors = [float(b.errors) for b in traffic]
        self.query_one("#traffic-spark", Sparkline).data = requests
        self.query_one("#latency-spark", Sparkline).data = latency
        self.query_one("#errors-spark", Sparkline).data = errors
        seen_latency = [b.mean_latency_ms for b in traffic if b.mean_latency_ms is not None]
        update_text(self.query_one("#traffic-label", Static), Text(
            f"Traffic, last 24 h (per 30 min): {int(sum(requests))} requests, peak {int(max(requests, default=0))}"))
        update_text(self.query_one("#latency-label", Static), Text(
            "Mean latency: " + (f"{min(seen_latency):.0f}–{max(seen_latency):.0f} ms" if seen_latency else "—")))
        update_text(self.query_one("#errors-label", Static), Text(
            f"Errors: {int(sum(errors))}, peak {int(max(errors, default=0))} per 30 min"))

    def _draw_title(self) -> None:
        """The title: model, active version (and whether it serves now), owner. Drawn again every
        second with the endpoint line: the poll that says the endpoint went down is that recent."""
        overview: Overview | None = getattr(self, "_overview", None)
        if overview is None:
            return
        active = next((v for v in overview.versions if v.stage.value == "champion"), None)
        trail = self.console_app.trail(self)
        if trail[1:]:
            # Came from somewhere other than the fleet: the breadcrumb says where esc goes back to.
            title = Text.assemble(safe_text(" › ".join(trail[-2:]) + " › ", width=30, style="dim"),
                                  safe_text(self.model, width=40, style="bold"))
        else:
            title = Text.assemble(("modeldeck", "bold"), "  model  ", safe_text(self.model, width=40, style="bold"))
        if self.console_context.at_ms is not None:
            from screens.fleet import time_travel_banner

            title.append_text(time_travel_banner(self.console_context.at_ms))
        if overview.served_then is not None:
            title.append("  served ")
            title.append_text(safe_text(overview.served_then, width=16, style="bold"))
        elif active is not None:
            title.append("  active ")
            title.append_text(safe_text(active.version, width=16, style="bold"))
            note = serving_note(self.console_context.live.get(self.model), overview.disabled)
            if note:
                title.append(f" ({note})", style="bold red")
        if overview.info is not None and overview.info.owner:
            title.append("  owner ")
            title.append_text(safe_text(overview.info.owner, width=24))
        if title != getattr(self, "_title_drawn", None):  # no repaint when nothing changed
            self._title_drawn = title
            update_text(self.query_one("#title", Static), title)

    def on_model_screen_readiness_loaded(self, message: ReadinessLoaded) -> None:
        by_area = {item.area: item for item in message.items}
        items = [by_area.get(area) or CheckItem(model=self.model, area=area) for area in READINESS_AREAS]
        items += [item for item in message.items if item.area not in READINESS_AREAS]
        self.items = items
        self._show_checklist()
        self.refresh_bindings()
        if message.changed:
            self.notify(f"{message.changed}: recorded in the audit trail", markup=False)

    def on_model_screen_activity_loaded(self, message: ActivityLoaded) -> None:
        self.entries = message.entries
        self._activity_loaded = True
        if "activity" in self._built:
            self._show_activity()

    def _show_activity(self) -> None:
        table = self.query_one("#activity-table", NavTable)
        table.clear(columns=True)
        entries = self.entries
        wide = self.size.width >= 100

        def fit(values: list[str], least: int, most: int) -> int:
            return max(least, min(most, max((len(v) for v in values), default=least)))

        # Actor, action and outcome as wide as their longest text (outcome whole: "acknowledged"); the
        # detail, a one-line summary (the whole JSON is in the pane below), gets what is left.
        # Narrow: the actor's name without its host ("mchen" for mchen@ops-bastion-2; whole below).
        actors = [e.actor if wide else e.actor.partition("@")[0] or e.actor for e in entries]
        actor_width = fit(actors, 5, 12)
        action_width = fit([e.action for e in entries], 6, 18)  # "checklist.sign_off" whole
        outcome_width = fit([e.outcome or "—" for e in entries], 7, 12)
        when_width = 16 if wide else 11  # "12-01 14:05" below 100 columns
        # Five columns of 2 cells padding, and 2 for the scrollbar.
        detail_width = max(12, self.size.width - 12 - when_width - actor_width - action_width - outcome_width)
        table.add_column("When", width=when_width)
        table.add_column("Actor", width=actor_width)
        table.add_column("Action", width=action_width)
        table.add_column("Outcome", width=outcome_width)
        table.add_column("Detail", width=detail_width)
        for entry, actor in zip(entries, actors):
            table.add_row(
                Text(format_ms(entry.ts, TimeFormat.MINUTE if wide else TimeFormat.DAY_MINUTE)),
                safe_text(actor, width=actor_width),
                safe_text(entry.action, width=action_width),
                safe_text(entry.outcome or "—", width=outcome_width),
                safe_text(audit_summary(entry.detail), width=detail_width),
                key=str(entry.id),
            )
        if not entries:
            self.query_one("#activity-detail", Static).update(Text("No audit entries for this model yet.",
                                                                   style="dim"))

    def _show_checklist(self) -> None:
        """The eight areas as rows; below 100 columns Owner and By move to the detail pane so the
        evidence keeps room to be read."""
        if "readiness" not in self._built:
            return  # drawn when the tab is first shown
        now = self.console_context.now_ms()
        table = self.query_one("#checklist", NavTable)
        wide = self.size.width >= 100
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*(("Area", "Status", "Evidence", "Owner", "By", "When") if wide else
                            ("Area", "Status", "Evidence", "When")))
        self._checklist_layout = (self.size.width, wide)
        # Fixed columns take 62 cells with padding when wide (40 when narrow); a scrollbar may take 2 more.
        evidence_width = max(10, self.size.width - (66 if wide else 44))
        for item in self.items:
            cells = [
                Text(READINESS_AREAS.get(item.area, clean(item.area))[:22]),
                Text(item.status.value, style=_STATUS_STYLE[item.status]),
                safe_text(item.evidence or "—", width=evidence_width),
            ]
            if wide:
                cells += [safe_text(item.owner or "—", width=8), safe_text(item.updated_by or "—", width=12)]
            cells.append(Text(age_text(now - item.updated_at) if item.updated_at else "—", justify="right"))
            table.add_row(*cells, key=item.area)
        if 0 <= cursor < len(self.items):
            table.move_cursor(row=cursor, animate=False)
        self._show_check_detail()

    def on_resize(self) -> None:
        if self.items and getattr(self, "_checklist_layout", None) != (self.size.width, self.size.width >= 100):
            self._show_checklist()

    def _show_check_detail(self) -> None:
        table = self.query_one("#checklist", NavTable)
        if not self.items or not 0 <= table.cursor_row < len(self.items):
            return
        item = self.items[table.cursor_row]
        text = Text.assemble((READINESS_AREAS.get(item.area, item.area), "bold"), "  ",
                             (item.status.value, _STATUS_STYLE[item.status]))
        text.append("  (automatic)" if item.auto else "  (manual)", style="dim")
        text.append("\n")
        text.append_text(safe_text(item.evidence or "no evidence recorded", keep_newlines=True))
        if item.note:
            text.append("\nnote: ", style="dim")
            text.append_text(safe_text(item.note, keep_newlines=True))
        text.append("\n")
        text.append_text(safe_text(f"owner {item.owner or '—'}", style="dim"))
        if item.updated_by or item.updated_at:
            text.append_text(safe_text(f" · {item.updated_by or '—'} at {_short_date(item.updated_at)}",
                                       style="dim"))
        if not item.auto and item.expires_at is not None:
            expired = item.expires_at <= self.console_context.now_ms()
            text.append(f" · {'expired' if expired else 'expires'} {_short_date(item.expires_at)}",
                        style="red" if expired else "dim")
        self.query_one("#check-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#checklist")
    def _check_highlighted(self) -> None:
        self._show_check_detail()

    @on(DataTable.RowHighlighted, "#activity-table")
    def _activity_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not 0 <= event.cursor_row < len(self.entries):
            return
        entry = self.entries[event.cursor_row]
        text = Text.assemble((f"#{entry.id} ", "dim"), (ms_to_iso(entry.ts), ""), "  ")
        text.append_text(safe_text(entry.actor))
        text.append("  ")
        text.append_text(safe_text(entry.action, style="bold"))
        if entry.outcome:
            text.append(" → ")
            text.append_text(safe_text(entry.outcome))
        if entry.detail:
            text.append("\n")
            text.append_text(safe_text(orjson.dumps(entry.detail, option=orjson.OPT_INDENT_2).decode(),
                                       keep_newlines=True))
        self.query_one("#activity-detail", Static).update(text)

    # -- keys ----------------------------------------------------------------------------
    async def action_tab(self, tab: str) -> None:
        await self._build_pane(tab)
        self.query_one(TabbedContent).active = tab

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self._first_shown:  # the first activation (as the screen mounts) is built by _first_showing
            await self._show_tab(event.pane.id or "")

    async def _show_tab(self, pane: str) -> None:
        await self._build_pane(pane)  # a click on the tab's title comes here first
        target = {"overview": "#versions", "readiness": "#checklist", "card": "#card-body",
                  "activity": "#activity-table", "compare": "#compare-panel",
                  "quality": "#quality-panel"}.get(pane)
        if target:
            self.query_one(target).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Checklist keys exist on the Readiness tab only (hidden elsewhere, so help stays honest).
        if action in ("sign_off", "waive", "reopen"):
            try:
                return self.query_one(TabbedContent).active == "readiness"
            except NoMatches:  # before compose
                return False
        return True

    def other_part_keys(self) -> list[tuple[str, list[Binding]]]:
        """For help (``?``): the keys of the tabs that are not shown, as the keymap has them."""
        try:
            active = self.query_one(TabbedContent).active
        except NoMatches:
            return []
        panel = self._compare_panel
        # _bindings: the bindings with the keymap applied (the class lists have the default keys).
        own = [b for found in self._bindings.key_to_bindings.values() for b in found]
        sections = []
        if active != "readiness":
            sections.append(("On the Readiness tab (2)",
                             [b for b in own if b.action in ("sign_off", "waive", "reopen")]))
        if active != "compare":
            sections.append(("On the Compare tab (5)",
                             [b for found in panel._bindings.key_to_bindings.values() for b in found if b.show]))
        return sections

    def _current_item(self) -> CheckItem | None:
        if "readiness" not in self._built:
            return None
        table = self.query_one("#checklist", NavTable)
        if 0 <= table.cursor_row < len(self.items):
            return self.items[table.cursor_row]
        return None

    def action_sign_off(self) -> None:
        from app.checklist.rules import SIGNOFF_ROLES

        fields = [PromptField("Role", choices=SIGNOFF_ROLES), PromptField("Note", required=False)]
        self.app.push_screen(Prompt(f"Sign off {clean(self.model)}", fields=fields),
                             lambda values: values and self._act("sign_off", None, values[0], values[1] or None))

    def action_waive(self) -> None:
        item = self._current_item()
        if item is None:
            return
        if item.status is CheckStatus.passed:
            # A waiver on a passing area would pin it as done and hide a later failure of its check.
            self.notify(f"{READINESS_AREAS.get(item.area, item.area)} passes: nothing to waive", markup=False)
            return
        title = f"Waive {READINESS_AREAS.get(item.area, item.area)} of {clean(item.version) or 'this model'}"
        fields = [PromptField("Reason", placeholder="kept in the audit trail"),
                  PromptField("Expires in", placeholder="e.g. 30d", value="30d")]
        self.app.push_screen(Prompt(title, fields=fields),
                             lambda values: values and self._act("waive", item.area, values[0], values[1]))

    def action_reopen(self) -> None:
        item = self._current_item()
        if item is not None:
            self._act("reopen", item.area, None, None)

    def _act(self, kind: str, area: str | None, text: str | None, note: str | None) -> None:
        context = self.console_context
        self.apply_change(context.store, context.settings, context.now_ms(), context.health.get(self.model),
                          kind, area, text, note)

    @work(thread=True, exclusive=False, group="model-change", exit_on_error=False, description="change the checklist")
    def apply_change(self, location: StoreLocation, settings: Settings, now: int, health: Health | None, kind: str,
                     area: str | None, text: str | None, note: str | None) -> None:
        from app.views.model import ChangeRefused, change_checklist

        try:
            change = change_checklist(location, settings, self.model, now, health, kind, area, text, note)
        except ChangeRefused as exc:
            # Told every time (the generic worker-error toast is rate-limited): nothing was recorded.
            self.app.call_from_thread(self.notify, clean(f"{kind.replace('_', ' ')} not recorded: {exc}"),
                                      severity="error", markup=False)
            return
        self.post_message(self.ReadinessLoaded(change.items, True, changed=kind.replace("_", " ")))
        self.post_message(self.ActivityLoaded(change.entries))

    def action_acknowledge(self) -> None:
        self.query_one(AlertList).acknowledge(self.model)

    def on_compare_panel_promote_requested(self, message: ComparePanel.PromoteRequested) -> None:
        from screens.promote import PromoteScreen

        self.app.push_screen(PromoteScreen(message.view))

    def on_compare_panel_reload_requested(self, message: ComparePanel.ReloadRequested) -> None:
        message.stop()
        context = self.console_context
        self.load_comparison(self.query_one(ComparePanel), context.store, context.settings, context.now_ms())

    @work(thread=True, exclusive=True, group="compare-panel", exit_on_error=False, description="compare versions")
    def load_comparison(self, panel: ComparePanel, location: StoreLocation, settings: Settings, now: int) -> None:
        from app.views.compare import compare_view

        try:
            view = compare_view(location, settings, self.model, now)
        except Exception as exc:  # a broken store or config: said in the tab, the console stays alive
            panel.post_message(ComparePanel.Loaded(None, one_line(exc)))
            return
        panel.post_message(ComparePanel.Loaded(view))

    def on_compare_panel_disagreements_requested(self, message: ComparePanel.DisagreementsRequested) -> None:
        message.stop()
        self.console_app.open_query_view("search", message.query)

    def action_view(self, view_id: str) -> None:
        self.console_app.open_model_view(view_id, self.model)
