"""The rollback modal: slow to do by accident, fast to do on purpose.

It shows the model, the version serving now and the candidate targets (stage, created, offline
metrics, when each last served), asks for a reason, starts with Cancel focused, and enables the
action only once the operator has typed the model's name (the modal itself is
``screens.confirmed_action.ConfirmedActionScreen``, shared with promotion). The work is ``app/rollback/actions.py``
(read-only refusal, lock, audit, one call, verification), run in a thread worker with its own
store connection and event loop: the console keeps drawing while the endpoint answers, and the
outcome (succeeded / failed / unknown / refused, with the error, the elapsed time and the
read-back) is shown here before the operator closes the modal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Static

from app.console.errors import one_line
from app.text import clean, safe_text
from app.timeutil import TimeFormat, age_text, format_ms
from app.views.metrics_format import metrics_text
from screens.confirmed_action import ConfirmedActionScreen, escape_bindings
from widgets.nav_table import NavTable

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.rollback.actions import Plan, Target
    from app.store.location import StoreLocation
    from app.views.actions import Work


# The box is at most 100 cells wide: with this much room inside it, the Created date has a column too.
_CREATED_FROM_WIDTH = 90


def default_target(plan: "Plan") -> "Target | None":
    """Where the cursor starts (the choice is app/rollback/history.py's); the operator moves it freely."""
    return plan.default_target


def _day(ms: int) -> str:
    return format_ms(ms, TimeFormat.MONTH_DAY)


def served_text(target: "Target", now: int) -> Text:
    """When the version last served as the active one: never-served versions stand out in words."""
    if target.active:
        return Text("now")
    if target.last_active_at is not None:
        return Text(f"{age_text(max(0, now - target.last_active_at))} ago")
    if target.last_served_at is not None:  # answered only as a challenger or shadow
        return Text("shadow only", style="bold yellow")
    return Text("never served", style="bold yellow")


def stage_cell(target: "Target") -> Text:
    """The stage, except that a version a rollback moved traffic away from says so instead (in red:
    the line under the table gives its registry stage and the date)."""
    if target.active:
        text = Text("ACTIVE", style="cyan")
    elif target.rolled_back_from_at is not None:
        text = Text("rolled back", style="bold red")
    else:
        text = Text(target.stage or "?")
    if target.on_endpoint is False:
        text.append(" (not on endpoint)")
    return text


class RollbackScreen(ConfirmedActionScreen):
    """Built as ``RollbackScreen(model)``; dismisses with the outcome (None when cancelled)."""

    DEFAULT_CSS = """
    RollbackScreen #rollback-box { border: round $error; }
    RollbackScreen #rb-targets { height: auto; max-height: 7; overflow-x: hidden; }
    RollbackScreen #rb-go { width: 30; }
    """

    BINDINGS = [*escape_bindings("rollback"),
                # From the reason and name boxes, up/down still choose the version (no tabbing back).
                Binding("up", "target(-1)", "Version up", show=False, id="rollback.target_up"),
                Binding("down", "target(1)", "Version down", show=False, id="rollback.target_down")]
    START_IN_REASON = True  # the operator opened this on purpose: typing the reason is the next step
    ENTER_ACTS = True  # reason, enter, model name, enter: the typed name is the confirmation

    PREFIX = "rb"
    CRUMB = "rollback"
    BOX_ID = "rollback-box"
    REASON_PLACEHOLDER = "e.g. v3 misclassifies since 09:40"
    GO_VARIANT = "error"
    WORKER_GROUP = "rollback-act"
    WORKER_DESCRIPTION = "roll back"

    class Planned(Message):
        def __init__(self, plan: "Plan | None", error: str = "") -> None:
            super().__init__()
            self.plan = plan
            self.error = error

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.plan: Plan | None = None
        self._targets: list[Target] = []
        self._summary_text = Text()
        self._laid_out_for = 0  # the box's inner width the table was laid out for

    def compose_head(self) -> ComposeResult:
        yield Static(self.titled(Text.assemble(("Roll back ", "bold"), safe_text(self.model, width=40, style="bold"))),
                     id="rb-title")
        yield Static(Text("reading the endpoint and the store…", style="dim"), id="rb-summary")
        yield NavTable(id="rb-targets")
        yield Static(id="rb-target-note")

    def go_label(self) -> str:
        return "Roll back"

    def mounted(self) -> None:
        context = self.console_context
        self.load_plan(context.store, context.settings)

    # -- reading the plan --------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rollback-plan", exit_on_error=False, description="plan the rollback")
    def load_plan(self, location: "StoreLocation", settings: "Settings") -> None:
        from app.views.actions import rollback_plan

        try:
            plan = rollback_plan(location, settings, self.model)
        except Exception as exc:  # a config or store problem: one line in the modal, nothing to act on
            self.post_message(self.Planned(None, one_line(exc)))
            return
        self.post_message(self.Planned(plan))

    def on_rollback_screen_planned(self, message: Planned) -> None:
        summary = self.query_one("#rb-summary", Static)
        if message.plan is None:
            summary.update(Text.assemble(("cannot roll back: ", "bold red"), safe_text(message.error)))
            return
        plan = self.plan = message.plan
        text = Text.assemble(("endpoint ", "dim"), safe_text(f"{plan.endpoint_kind} {plan.endpoint_url}", width=70),
                             "\n", ("serving  ", "dim"))
        if plan.remote_error:
            text.append("unknown: ", style="yellow")
            text.append_text(safe_text(plan.remote_error, width=80))
        else:
            text.append_text(safe_text(plan.current or "nothing", width=20, style="bold"))
        if plan.read_only:
            text.append("\nread-only: ", style="bold red")
            text.append_text(safe_text(plan.read_only))
        elif not plan.can_activate:
            text.append(f"\n{plan.endpoint_kind}: this endpoint cannot switch versions", style="bold red")
        if self.outcome is not None:
            # Read again after the outcome: this is the endpoint now, not what the modal opened on.
            text.append("\n(read again after the rollback: ", style="dim")
            text.append(self.outcome.status, style="bold")
            text.append(")", style="dim")
        summary.update(text)
        self._summary_text = text
        # The active version first (marked), then the candidates as the store lists them (newest first).
        self._targets = sorted(plan.targets, key=lambda t: not t.active)
        chosen = default_target(plan)
        self._fill_table()
        table = self.query_one("#rb-targets", NavTable)
        if self.outcome is not None:
            table.move_cursor(row=0, animate=False)  # the version serving now
        elif chosen is not None:
            table.move_cursor(row=self._targets.index(chosen), animate=False)
        self.update_action()
        self._describe_target()

    def _fill_table(self) -> None:
        """The versions, laid out for the box's width: the offline metrics get every cell the other
        columns do not need (at 80 columns there is no room for the Created date: the line under the
        table gives it for the highlighted version)."""
        table = self.query_one("#rb-targets", NavTable)
        inner = self.query_one("#rollback-box").size.width  # inside its border and padding
        with_created = inner >= _CREATED_FROM_WIDTH
        now = self.console_context.now_ms()
        rows = []
        for target in self._targets:
            cells = [safe_text(target.version, width=14, style="bold" if target.active else ""), stage_cell(target)]
            if with_created:
                cells.append(Text(format_ms(target.created_at or None, TimeFormat.DATE)))
            cells.append(served_text(target, now))
            rows.append(cells)
        headers = ["Version", "Stage", *(["Created"] if with_created else []), "Last served"]
        # Each column is as wide as its widest cell or header, plus one cell of padding either side.
        used = sum(max([len(h)] + [r[i].cell_len for r in rows]) + 2 for i, h in enumerate(headers))
        metrics_width = max(12, inner - used - 2)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(*headers, "Offline metrics")
        for target, cells in zip(self._targets, rows):
            table.add_row(*cells, safe_text(metrics_text(target.metrics), width=metrics_width), key=target.version)
        if 0 <= cursor < len(rows):
            table.move_cursor(row=cursor, animate=False)
        self._laid_out_for = inner

    def on_resize(self) -> None:
        if self._targets and self.query_one("#rollback-box").size.width != self._laid_out_for:
            self._fill_table()

    def _describe_target(self) -> None:
        """One sentence on the highlighted version: what the table's short cells mean."""
        note = self.query_one("#rb-target-note", Static)
        target = self.target
        if target is None or self.plan is None:
            note.update("")
            return
        text = safe_text(target.version, width=16, style="bold")
        details = [clean(target.stage)] if target.stage and not target.active else []
        if target.created_at:
            details.append(f"created {format_ms(target.created_at, TimeFormat.DATE)}")
        if details:
            text.append(f" ({', '.join(details)})", style="dim")
        if target.active:
            text.append(" is serving now")
        elif target.last_active_at is not None:
            text.append(f" last served {format_ms(target.last_active_at, TimeFormat.MINUTE)} UTC")
        elif target.last_served_at is not None:
            text.append(" never served: only challenger/shadow answers in the log", style="bold yellow")
        else:
            text.append(" never served (nothing in the log or the audit trail)", style="bold yellow")
        if target.rolled_back_from_at is not None:
            text.append(f"; a rollback moved traffic away from it on {_day(target.rolled_back_from_at)}",
                        style="bold red")
        note.update(text)

    def action_target(self, step: int) -> None:
        if self.running or self.outcome is not None:
            return
        table = self.query_one("#rb-targets", NavTable)
        if self._targets:
            table.move_cursor(row=max(0, min(len(self._targets) - 1, table.cursor_row + step)), animate=False)

    # -- the confirmation ----------------------------------------------------------------------
    @property
    def target(self) -> "Target | None":
        table = self.query_one("#rb-targets", NavTable)
        if 0 <= table.cursor_row < len(self._targets):
            return self._targets[table.cursor_row]
        return None

    def blocker(self) -> str | None:
        plan, target = self.plan, self.target
        if self.running or self.outcome is not None:
            return "done" if self.outcome is not None else "running"
        if plan is None:
            return "no plan"
        if plan.read_only:
            return "read-only"
        if not plan.can_activate:
            return "cannot switch"
        if target is None or target.active:
            return "choose a version that is not active"
        if not self.value("reason"):
            return "give a reason"
        if not self.confirmed():
            return "type the model name"
        return None

    def update_action(self) -> None:
        button = self.query_one("#rb-go", Button)
        target = self.target
        button.label = Text(f"Roll back to {clean(target.version)[:16]}" if target and not target.active else "Roll back")
        button.disabled = self.blocker() is not None
        self.show_blocker()

    def after_enter(self, box: Input) -> None:
        if box.id == "rb-reason":
            self.query_one("#rb-confirm", Input).focus()
        else:
            super().after_enter(box)  # the typed name: acts once enabled (ENTER_ACTS)

    @on(DataTable.RowHighlighted, "#rb-targets")
    def _target_moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.update_action()
        self._describe_target()

    @on(DataTable.RowSelected, "#rb-targets")
    def _target_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.query_one("#rb-reason", Input).focus()

    # -- acting ------------------------------------------------------------------------------
    def on_confirmed_action_screen_finished(self, message: ConfirmedActionScreen.Finished) -> None:
        # Textual also calls the base class's handler (it walks the MRO), after this one: so the
        # re-read is scheduled for after it has shown the outcome.
        outcome = message.outcome
        if (outcome is None and not message.attempted) or (outcome is not None and outcome.status == "refused"):
            return  # nothing was attempted: what the modal shows is still true
        self.call_later(self._read_again)

    def _read_again(self) -> None:
        # The header and the ACTIVE row describe the endpoint before the action: say so, then read again.
        summary = self.query_one("#rb-summary", Static)
        before = Text("before the rollback (reading the endpoint again…)\n", style="bold")
        before.append_text(self._summary_text)
        summary.update(before)
        context = self.console_context
        self.load_plan(context.store, context.settings)

    def freeze(self) -> None:
        super().freeze()
        self.query_one("#rb-targets", NavTable).disabled = True

    def prepare_work(self) -> "tuple[Text, Work] | None":
        target = self.target
        if target is None:
            return None
        version, reason = target.version, self.value("reason")

        from app.views.actions import rollback_work

        run = rollback_work(self.model, version, reason)

        pending = Text.assemble(("rolling back to ", "yellow"), safe_text(version, style="bold"),
                                ("… (waiting for the read-back)", "yellow"))
        return pending, run
