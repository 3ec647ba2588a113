"""What the rollback and promotion modals share: an action that is slow to do by accident.

The modal starts with Cancel focused (or, where ``START_IN_REASON``, in the reason box: typing there
cannot act), asks for a reason (written to the audit trail), and enables the action only once the
operator has typed the model's name (and whatever else the subclass's ``blocker`` asks for). Enter
never acts, except in the typed-name box of a modal that sets ``ENTER_ACTS`` once the action is
enabled: there the typed name is the deliberate confirmation. The box scrolls when the terminal is
shorter than it, and the focused widget stays in view. The work runs in a thread worker
with its own store connection, so the console keeps drawing while the endpoint answers; the
outcome (succeeded / failed / unknown / refused, with the error, the elapsed time and the
read-back) is shown here, the action button goes and Cancel becomes Close. Escape is refused
while the work runs; after an outcome, closing refreshes the screens below.

A subclass gives the widget id prefix (``PREFIX``: its ids are ``{PREFIX}-reason``,
``-confirm``, ``-outcome``, ``-buttons``, ``-cancel``, ``-go``), its own escape binding, the
widgets above the reason (``compose_head``) and after it (``compose_extra``), what blocks the
action (``blocker``), and the work itself (``prepare_work``); ``refusal`` tells an error that means
nothing was attempted from one that leaves the outcome unknown.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from app.console.errors import one_line
from app.text import clean, safe_text
from screens.base import OnConsole
from widgets.safe_input import SafeInput

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.rollback.actions import Outcome
    from app.store.location import StoreLocation
    from app.views.actions import Work

def escape_bindings(name: str) -> list[Binding]:
    """A modal's esc: Cancel until the outcome is shown, then Close (as its button says). Two
    bindings, one enabled at a time (``check_action``), so the key bar names the right one; ids
    ``{name}.cancel`` and ``{name}.close`` for the keymap."""
    return [Binding("escape", "cancel", "Cancel", id=f"{name}.cancel"),
            Binding("escape", "close", "Close", id=f"{name}.close")]


class ActionBox(VerticalScroll, can_focus=False, inherit_bindings=False):
    """The modal's box: scrolls when the terminal is shorter than it (at 70x20 the buttons are below the
    fold) and follows the focus; it takes no keys of its own, so up/down stay the modal's."""


_OUTCOME_STYLE = {"succeeded": "bold green", "failed": "bold red", "unknown": "bold yellow", "refused": "bold red"}


class ConfirmedActionScreen(OnConsole, ModalScreen["Outcome | None"]):
    """Dismisses with the outcome (None: cancelled, or nothing known)."""

    DEFAULT_CSS = """
    ConfirmedActionScreen { align: center middle; }
    ConfirmedActionScreen .action-box { width: 100; max-width: 100%; height: auto; max-height: 100%;
        padding: 0 1; background: $surface; scrollbar-size-vertical: 1; }
    ConfirmedActionScreen Input { height: 1; border: none; padding: 0 1; background: $boost; margin-bottom: 1; }
    ConfirmedActionScreen Input:focus { border: none; background: $accent 30%; }
    ConfirmedActionScreen .action-outcome { height: auto; }
    ConfirmedActionScreen .action-buttons { height: auto; align-horizontal: right; }
    ConfirmedActionScreen Button { margin-left: 2; min-width: 10; }
    /* NO_COLOR: the table cursor is reverse video (app/console/app.tcss); a focused button must not look the same. */
    ConfirmedActionScreen.-no-color Button:focus { text-style: bold underline; }
    /* NO_COLOR drops the focused box's tint: an underlined, bold line marks where typing goes. */
    ConfirmedActionScreen.-no-color Input:focus { text-style: bold underline; }
    """

    PREFIX: ClassVar[str] = "action"  # the widget ids' prefix
    BOX_ID: ClassVar[str] = "action-box"
    REASON_PLACEHOLDER: ClassVar[str] = ""
    GO_VARIANT: ClassVar[str] = "warning"
    WORKER_GROUP: ClassVar[str] = "confirmed-act"
    WORKER_DESCRIPTION: ClassVar[str] = "act"
    SCROLL_TO_CANCEL: ClassVar[bool] = True  # on open, scroll the box to the focused Cancel
    START_IN_REASON: ClassVar[bool] = False  # on open, focus the reason box rather than Cancel
    ENTER_ACTS: ClassVar[bool] = False  # enter in the typed-name box acts once the action is enabled

    class Finished(Message):
        def __init__(self, outcome: "Outcome | None", error: str = "", *, attempted: bool = True) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error
            self.attempted = attempted

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.outcome: Outcome | None = None
        self.running = False
        self.finished = False  # the work ended and its outcome (or why none is known) is shown

    # -- for subclasses ----------------------------------------------------------------------
    def compose_head(self) -> ComposeResult:
        """What stands above the reason: the title and what the action acts on."""
        yield from ()

    def compose_extra(self) -> ComposeResult:
        """What stands between the reason and the typed name."""
        yield from ()

    def go_label(self) -> str:
        return "Go"

    def blocker(self) -> str | None:
        """Why the action is not available yet (None: it is)."""
        raise NotImplementedError

    def prepare_work(self) -> "tuple[Text, Work] | None":
        """Read on the UI thread what the work needs; return the text shown while it runs and the
        work itself (None: nothing to do after all)."""
        raise NotImplementedError

    def refusal(self, error: Exception) -> str | None:
        """The error means nothing was attempted: what to show after "refused " (None: the outcome
        is unknown)."""
        return None

    def mounted(self) -> None:
        """After Cancel has the focus."""

    def update_action(self) -> None:
        self.query_one(f"#{self.PREFIX}-go", Button).disabled = self.blocker() is not None
        self.show_blocker()

    def show_blocker(self) -> None:
        """Under the typed name, what still keeps the action disabled: a greyed button alone does not
        say (and under NO_COLOR does not even look greyed). Blockers the head already shows in red
        (read-only, no endpoint, the plan not read yet) are not repeated."""
        if self.running or self.outcome is not None:
            return  # the box shows the work or its outcome
        why = self.blocker()
        label = self.query_one(f"#{self.PREFIX}-go", Button).label
        text = Text()
        if why is None:
            text = Text.assemble((str(label), "bold"), (" is enabled", "dim"))
        elif why.split(" ", 1)[0] in ("give", "type", "choose"):
            text = Text.assemble((str(label), "bold"), (f": {why} first", "dim"))
        self.query_one(f"#{self.PREFIX}-outcome", Static).update(text)

    def after_enter(self, box: Input) -> None:
        """Enter was pressed in ``box``: it moves on, never acts. From the typed name it goes to the
        action button when that is enabled, and stays when it is not: moving on to Cancel there made
        a second enter close the modal, unnoticed, by an operator who meant to act."""
        if box.id == f"{self.PREFIX}-confirm":
            go = self.query_one(f"#{self.PREFIX}-go", Button)
            if not go.disabled:
                go.focus()
                if self.ENTER_ACTS and self.blocker() is None:
                    go.press()  # the typed name was the confirmation: the same path as the button
            return
        self.focus_next()

    def freeze(self) -> None:
        """The work starts: nothing may change any more."""
        self.query_one(f"#{self.PREFIX}-go", Button).disabled = True
        for box in self.query(Input):
            box.disabled = True

    # -- the shared modal ----------------------------------------------------------------------
    CRUMB = "action"  # this dialog in the breadcrumb: fleet › fraud-scorer › rollback

    def titled(self, title: Text) -> Text:
        """The dialog's title, then the breadcrumb (dim, on the same line: at 80x24 no row is spare):
        where esc goes back to."""
        return Text.assemble(title, ("  ·  ", "dim"), self.breadcrumb(self.CRUMB, self.model))

    def compose(self) -> ComposeResult:
        p = self.PREFIX
        with ActionBox(id=self.BOX_ID, classes="action-box"):
            yield from self.compose_head()
            yield Static(Text("Reason (written to the audit trail)", style="dim"))
            yield SafeInput(placeholder=self.REASON_PLACEHOLDER, id=f"{p}-reason")
            yield from self.compose_extra()
            yield Static(Text.assemble(("Type the model name ", "dim"), safe_text(self.model, style="bold"),
                                       (" to enable the action", "dim")))
            # Not the bare name: a dim placeholder loses its grey under NO_COLOR and would look typed.
            yield SafeInput(placeholder=f"type {clean(self.model)} to confirm", id=f"{p}-confirm")
            yield Static(id=f"{p}-outcome", classes="action-outcome")
            with Horizontal(id=f"{p}-buttons", classes="action-buttons"):
                yield Button("Cancel", id=f"{p}-cancel", classes="action-cancel")
                yield Button(Text(self.go_label()), id=f"{p}-go", classes="action-go", variant=self.GO_VARIANT,
                             disabled=True)

    def on_mount(self) -> None:
        if self.app.no_color:
            self.add_class("-no-color")  # DEFAULT_CSS is scoped to this screen: the app's class is out of reach
        # The safe choice is the default one. A box taller than the screen scrolls to show it unless
        # SCROLL_TO_CANCEL is off (then it opens at its top: tab and typing still scroll as usual).
        if self.START_IN_REASON:
            self.query_one(f"#{self.PREFIX}-reason", Input).focus()
        else:
            self.query_one(f"#{self.PREFIX}-cancel", Button).focus(scroll_visible=self.SCROLL_TO_CANCEL)
        self.mounted()
        self.show_blocker()

    def value(self, name: str) -> str:
        """What is typed in the ``{PREFIX}-{name}`` box, stripped ("" when there is no such box)."""
        boxes = self.query(f"#{self.PREFIX}-{name}")
        return boxes.first(Input).value.strip() if boxes else ""

    def confirmed(self) -> bool:
        # The name as shown: a name holding control characters is typed as its visible escapes.
        return self.value("confirm") in (self.model, clean(self.model))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.update_action()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter never performs the action: it moves on; only the button (or its key) does
        self.after_enter(event.input)

    @on(Button.Pressed, ".action-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    @on(Button.Pressed, ".action-go")
    def _go_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.blocker() is not None:
            return  # belt and braces: a disabled button sends nothing, but state may have moved
        started = time.monotonic()  # the elapsed time runs from the confirmation
        prepared = self.prepare_work()
        if prepared is None:
            return
        pending, work = prepared
        self.running = True
        self.freeze()
        self.query_one(f"#{self.PREFIX}-outcome", Static).update(pending)
        context = self.console_context
        self.run_worker(partial(self._perform, context.store, context.settings, work, started),
                        name="perform", group=self.WORKER_GROUP, description=self.WORKER_DESCRIPTION,
                        exclusive=True, exit_on_error=False, thread=True)

    def _perform(self, location: "StoreLocation", settings: "Settings", work: "Work", started: float) -> None:
        from app.views.actions import run_action

        try:
            outcome = run_action(location, settings, work, started)
        except Exception as exc:
            refused = self.refusal(exc)
            if refused is not None:  # nothing was attempted: not an unknown outcome
                self.post_message(self.Finished(None, refused, attempted=False))
            else:  # the outcome is then unknown: say so, never guess
                self.post_message(self.Finished(None, one_line(exc)))
            return
        self.post_message(self.Finished(outcome))

    def on_confirmed_action_screen_finished(self, message: Finished) -> None:
        self.running = False
        self.finished = True
        self.outcome = message.outcome
        box = self.query_one(f"#{self.PREFIX}-outcome", Static)
        if message.outcome is None and not message.attempted:
            box.update(Text.assemble(("refused ", "bold red"), safe_text(message.error)))
        elif message.outcome is None:
            box.update(Text.assemble(("unknown: ", "bold yellow"), safe_text(message.error),
                                     " (look at the endpoint and the audit trail)"))
        else:
            box.update(outcome_text(message.outcome))
        self.query_one(f"#{self.PREFIX}-go", Button).display = False
        cancel = self.query_one(f"#{self.PREFIX}-cancel", Button)
        cancel.label = "Close"
        cancel.focus()
        self.refresh_bindings()
        if message.outcome is not None and message.outcome.ok:
            self.show_verified(message.outcome)

    def show_verified(self, outcome: "Outcome") -> None:
        """A verified outcome shows on the screens below now, not at the poller's next read: the
        console's live entry takes the read-back version, and the fleet and model screens read again."""
        from dataclasses import replace

        live = self.console_context.live
        entry = live.get(self.model)
        if entry is not None:
            live[self.model] = replace(entry, active_version=outcome.readback, health=outcome.health or entry.health)
        for screen in self.app.screen_stack[:-1]:
            refresh = getattr(screen, "action_refresh", None)
            if refresh is not None:
                refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return not self.finished
        if action == "close":
            return self.finished
        return True

    def action_close(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.running:
            self.notify("waiting for the outcome: the modal closes once it is known", severity="warning")
            return
        self.dismiss(self.outcome)
        if self.outcome is not None:
            # The screens below show the new active version and the audit rows.
            self.app.call_later(self.console_app.action_refresh)


def outcome_text(outcome: "Outcome") -> Text:
    """The outcome as the operator reads it: status, elapsed time, read-back, health, error."""
    text = Text.assemble((outcome.status.upper(), _OUTCOME_STYLE.get(outcome.status, "bold")))
    if outcome.status == "refused":
        text.append(": ")
        text.append_text(safe_text(outcome.error, keep_newlines=False))
        return text
    text.append(f" in {outcome.elapsed_ms / 1000:.2f} s  ", style="")
    if not outcome.sent:
        text.append("nothing was sent (no connection), nothing read back", style="bold")
    elif not outcome.read_back:  # never "nothing serving": nothing could be read
        text.append("read back FAILED: the serving version is not known", style="bold")
    else:
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
