"""The rollback modal: slow to do by accident, fast to do on purpose.

It shows the model, the version serving now and the candidate targets (stage, created, offline
metrics, when each last served), asks for a reason, starts with Cancel focused, and enables the
action only once the operator has typed the model's name. The work itself is ``app/rollback.py``
(read-only refusal, lock, audit, one call, verification), run in a thread worker with its own
store connection and event loop: the console keeps drawing while the endpoint answers, and the
outcome (succeeded / failed / unknown / refused, with the error, the elapsed time and the
read-back) is shown here before the operator closes the modal.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from app.timeutil import age_text, ms_to_iso
from widgets.nav_table import NavTable
from widgets.safe_text import clean, safe_text

if TYPE_CHECKING:
    from app.config import Settings
    from app.rollback import Outcome, Plan, Target

_OUTCOME_STYLE = {"succeeded": "bold green", "failed": "bold red", "unknown": "bold yellow", "refused": "bold red"}


def _metrics(metrics: dict) -> str:
    parts = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
             if not isinstance(v, (dict, list))]
    return " ".join(parts) or "—"


def default_target(plan: "Plan") -> "Target | None":
    """Where the cursor starts: the version before the active one (a rollback goes back), else the
    candidate that served most recently, else the newest. The operator moves it freely."""
    candidates = plan.candidates
    if not candidates:
        return None
    active = next((t for t in plan.targets if t.active), None)
    if active is not None and active.created_at is not None:
        older = [t for t in candidates if t.created_at is not None and t.created_at < active.created_at]
        if older:
            return max(older, key=lambda t: t.created_at or 0)
    served = [t for t in candidates if t.last_served_at is not None]
    if served:
        return max(served, key=lambda t: t.last_served_at or 0)
    return max(candidates, key=lambda t: t.created_at or 0)


class RollbackScreen(ModalScreen["Outcome | None"]):
    """Built as ``RollbackScreen(model)``; dismisses with the outcome (None when cancelled)."""

    DEFAULT_CSS = """
    RollbackScreen { align: center middle; }
    RollbackScreen #rollback-box { width: 100; max-width: 100%; height: auto; max-height: 100%;
        padding: 0 1; border: round $error; background: $surface; }
    RollbackScreen #rb-targets { height: auto; max-height: 7; overflow-x: hidden; }
    RollbackScreen Input { height: 1; border: none; padding: 0 1; background: $boost; margin-bottom: 1; }
    RollbackScreen Input:focus { border: none; background: $accent 30%; }
    RollbackScreen #rb-outcome { height: auto; }
    RollbackScreen #rb-buttons { height: auto; align-horizontal: right; }
    RollbackScreen Button { margin-left: 2; min-width: 10; }
    RollbackScreen #rb-go { width: 30; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="rollback.cancel")]

    class Planned(Message):
        def __init__(self, plan: "Plan | None", error: str = "") -> None:
            super().__init__()
            self.plan = plan
            self.error = error

    class Finished(Message):
        def __init__(self, outcome: "Outcome | None", error: str = "") -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.plan: Plan | None = None
        self.outcome: Outcome | None = None
        self.running = False
        self._targets: list[Target] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="rollback-box"):
            yield Static(Text.assemble(("Roll back ", "bold"), safe_text(self.model, width=60, style="bold")),
                         id="rb-title")
            yield Static(Text("reading the endpoint and the store…", style="dim"), id="rb-summary")
            yield NavTable(id="rb-targets")
            yield Static(Text("Reason (written to the audit trail)", style="dim"))
            yield Input(placeholder="e.g. v3 misclassifies since 09:40", id="rb-reason")
            yield Static(Text.assemble(("Type the model name ", "dim"), safe_text(self.model, style="bold"),
                                       (" to enable the action", "dim")))
            yield Input(placeholder=clean(self.model), id="rb-confirm")
            yield Static(id="rb-outcome")
            with Horizontal(id="rb-buttons"):
                yield Button("Cancel", id="rb-cancel")
                yield Button("Roll back", id="rb-go", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#rb-targets", NavTable).add_columns("Version", "Stage", "Created", "Last served",
                                                            "Offline metrics")
        self.query_one("#rb-cancel", Button).focus()  # the safe choice is the default one
        app = self.app
        self.load_plan(app.db_path, app.settings)  # type: ignore[attr-defined]

    # -- reading the plan --------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="rollback-plan", exit_on_error=False, description="plan the rollback")
    def load_plan(self, db_path: Path, settings: "Settings") -> None:
        from app.rollback import plan_rollback
        from app.store import Store

        try:
            with Store.open(db_path) as store:
                plan = asyncio.run(plan_rollback(store, settings, self.model))
        except Exception as exc:  # a config or store problem: one line in the modal, nothing to act on
            self.post_message(self.Planned(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            return
        self.post_message(self.Planned(plan))

    def on_rollback_screen_planned(self, message: Planned) -> None:
        summary = self.query_one("#rb-summary", Static)
        if message.plan is None:
            summary.update(Text.assemble(("cannot roll back: ", "bold red"), safe_text(message.error)))
            return
        plan = self.plan = message.plan
        now = self.app.now_ms()  # type: ignore[attr-defined]
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
        summary.update(text)
        table = self.query_one("#rb-targets", NavTable)
        table.clear()
        # The active version first (marked), then the candidates as the store lists them (newest first).
        self._targets = sorted(plan.targets, key=lambda t: not t.active)
        # Fixed columns take about 60 cells with the box's border and padding: metrics get the rest.
        metrics_width = max(12, min(60, self.query_one("#rollback-box").size.width - 60))
        for target in self._targets:
            stage = "ACTIVE" if target.active else (target.stage or "?")
            if target.on_endpoint is False:
                stage += " (not on endpoint)"
            table.add_row(
                safe_text(target.version, width=14, style="bold" if target.active else ""),
                Text(stage, style="cyan" if target.active else ""),
                Text(ms_to_iso(target.created_at)[:16].replace("T", " ") if target.created_at else "—"),
                Text(f"{age_text(max(0, now - target.last_served_at))} ago" if target.last_served_at else "never"),
                safe_text(_metrics(target.metrics), width=metrics_width),
                key=target.version,
            )
        chosen = default_target(plan)
        if chosen is not None:
            table.move_cursor(row=self._targets.index(chosen), animate=False)
        self._update_action()

    # -- the confirmation ----------------------------------------------------------------------
    @property
    def target(self) -> "Target | None":
        table = self.query_one("#rb-targets", NavTable)
        if 0 <= table.cursor_row < len(self._targets):
            return self._targets[table.cursor_row]
        return None

    def confirmed(self) -> bool:
        return self.query_one("#rb-confirm", Input).value.strip() == self.model

    def _blocker(self) -> str | None:
        """Why the action is not available yet (None: it is)."""
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
        if not self.query_one("#rb-reason", Input).value.strip():
            return "give a reason"
        if not self.confirmed():
            return "type the model name"
        return None

    def _update_action(self) -> None:
        button = self.query_one("#rb-go", Button)
        target = self.target
        button.label = f"Roll back to {clean(target.version)[:16]}" if target and not target.active else "Roll back"
        button.disabled = self._blocker() is not None

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._update_action()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        # Enter never performs the rollback: it moves on; only the button (or its key) does.
        event.stop()
        if event.input.id == "rb-reason":
            self.query_one("#rb-confirm", Input).focus()
        elif not self.query_one("#rb-go", Button).disabled:
            self.query_one("#rb-go", Button).focus()

    @on(DataTable.RowHighlighted, "#rb-targets")
    def _target_moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._update_action()

    @on(DataTable.RowSelected, "#rb-targets")
    def _target_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.query_one("#rb-reason", Input).focus()

    # -- acting ------------------------------------------------------------------------------
    @on(Button.Pressed, "#rb-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    @on(Button.Pressed, "#rb-go")
    def _go_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        target = self.target
        if self._blocker() is not None or target is None:
            return  # belt and braces: a disabled button sends nothing, but state may have moved
        started = time.monotonic()  # the elapsed time runs from the confirmation
        self.running = True
        self.query_one("#rb-go", Button).disabled = True
        for box in self.query(Input):
            box.disabled = True
        self.query_one("#rb-targets", NavTable).disabled = True
        self.query_one("#rb-outcome", Static).update(Text.assemble(
            ("rolling back to ", "yellow"), safe_text(target.version, style="bold"),
            ("… (waiting for the read-back)", "yellow")))
        app = self.app
        self.perform(app.db_path, app.settings, target.version,  # type: ignore[attr-defined]
                     self.query_one("#rb-reason", Input).value.strip(), started)

    @work(thread=True, exclusive=True, group="rollback-act", exit_on_error=False, description="roll back")
    def perform(self, db_path: Path, settings: "Settings", version: str, reason: str, started: float) -> None:
        from app.rollback import rollback
        from app.store import Store

        try:
            with Store.open(db_path) as store:
                outcome = asyncio.run(rollback(store, settings, self.model, version, reason, started=started))
        except Exception as exc:  # the outcome is then unknown: say so, never guess
            self.post_message(self.Finished(None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            return
        self.post_message(self.Finished(outcome))

    def on_rollback_screen_finished(self, message: Finished) -> None:
        self.running = False
        self.outcome = message.outcome
        box = self.query_one("#rb-outcome", Static)
        if message.outcome is None:
            box.update(Text.assemble(("unknown: ", "bold yellow"), safe_text(message.error),
                                     " (look at the endpoint and the audit trail)"))
        else:
            box.update(outcome_text(message.outcome))
        self.query_one("#rb-go", Button).display = False
        cancel = self.query_one("#rb-cancel", Button)
        cancel.label = "Close"
        cancel.focus()

    def action_cancel(self) -> None:
        if self.running:
            self.notify("waiting for the outcome: the modal closes once it is known", severity="warning")
            return
        self.dismiss(self.outcome)
        if self.outcome is not None:
            # The model screen (or fleet) below shows the new active version and the audit rows.
            self.app.call_later(self.app.action_refresh)  # type: ignore[attr-defined]


def outcome_text(outcome: "Outcome") -> Text:
    """The outcome as the operator reads it: status, elapsed time, read-back, health, error."""
    text = Text.assemble((outcome.status.upper(), _OUTCOME_STYLE.get(outcome.status, "bold")))
    if outcome.status == "refused":
        text.append(": ")
        text.append_text(safe_text(outcome.error, keep_newlines=False))
        return text
    text.append(f" in {outcome.elapsed_ms / 1000:.2f} s  ", style="")
    text.append("read back: ", style="dim")
    text.append_text(safe_text(outcome.readback or "nothing", width=16, style="bold"))
    text.append(" serving", style="dim")
    if outcome.previous is not None:
        text.append("  (was ", style="dim")
        text.append_text(safe_text(outcome.previous, width=16))
        text.append(")", style="dim")
    if outcome.health is not None:
        text.append("  health ", style="dim")
        text.append(outcome.health.state.value)
    if outcome.error:
        text.append("\n")
        text.append_text(safe_text(outcome.error, width=300))
    if outcome.audit_ids:
        text.append(f"\naudit entries #{', #'.join(str(i) for i in outcome.audit_ids)}", style="dim")
    return text
