"""Firing (and recently resolved) alerts, one line each, with who answers them.

The widget is handed the alerts (``show``). It asks its screen for them (``ReloadRequested``) after its
first paint and every ``refresh_s`` seconds, so they stay current; the screen reads them
(``app.views.alerts``) in a thread worker. ``acknowledge(model)`` says what there is to do and asks the
screen to acknowledge that model's unacknowledged firing alerts (``AcknowledgeRequested``; audited by
app.alerts). Rule names, owners and models come from config and the store: rendered as plain text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from app.text import clean, safe_text, truncate
from app.timeutil import TimeFormat, format_ms

if TYPE_CHECKING:
    from app.models import Alert

OWNER_MIN = 10
from widgets.severity import BAD, WARN  # noqa: E402
from widgets.text_update import update_text  # noqa: E402

# A firing critical alert is reverse video, a warning bold: both read under NO_COLOR and 16 colours.
_SEVERITY = {"critical": ("CRIT", BAD), "warning": ("WARN", WARN), "info": ("INFO", "cyan")}


def _clock(ms: int) -> str:
    return format_ms(ms, TimeFormat.DAY_MINUTE)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if abs(value) < 0.01 and value != 0 else f"{value:.3g}"


def runbook_line(url: str, width: int) -> Text:
    """``  runbook https://…``: plain text, cleaned (a rule's URL comes from a config or a store anyone may
    have written: no OSC 8 link or escape reaches the terminal; terminals that spot URLs still open it)."""
    return Text.assemble(("  runbook ", "dim"), safe_text(url, width=max(10, width - 10)))


def alert_line(alert: "Alert", *, show_model: bool, width: int) -> Text:
    """One alert: severity, [model,] rule, acknowledgement, owner, value/threshold, when it fired.

    Where the line is too long, the numbers and the time go first, then the owner is shortened (down to
    OWNER_MIN cells: the start of a team's name says who to call, the config has it whole), then the model
    and rule names (down to 10 cells, the rule's feature kept longest): what fired matters more than the
    whole owner. Whatever still does not fit is cut at the end."""
    owner_width = max(28, min(40, width - 78))  # a wide terminal shows a long owner whole
    tiers = ((32, 32), (20, 26), (16, 22), (14, 18), (12, 14), (10, 10))
    # The widest names (not under the usual 16/22) with which the whole line fits.
    for model_width, rule_width in tiers[:3]:
        line, _ = _alert_line(alert, show_model=show_model, model_width=model_width, rule_width=rule_width,
                              owner_width=owner_width)
        if line.cell_len <= width:
            return line
    # Else all up to the owner, the owner cut to the room the names leave (never under OWNER_MIN).
    owner_len = cell_len(clean(alert.owner)) if alert.owner else 0
    for model_width, rule_width in tiers:
        line, core = _alert_line(alert, show_model=show_model, model_width=model_width, rule_width=rule_width,
                                 owner_width=owner_width)
        if core > width and owner_len > OWNER_MIN:
            fitted = max(OWNER_MIN, min(owner_width, owner_len) - (core - width))
            line, core = _alert_line(alert, show_model=show_model, model_width=model_width,
                                     rule_width=rule_width, owner_width=fitted)
        # The numbers and the time are dropped whole rather than cut into a misleading "0.0007…".
        if core <= width:
            return line[:core]
    line.truncate(width, overflow="ellipsis")
    return line


def rule_text(rule: str, width: int) -> str:
    """A rule name in ``width`` cells: ``kind:feature`` rules (feature_drift:amount) lose the start of the
    kind before any of the feature, which is what tells two drift alerts apart."""
    text = clean(rule)
    if cell_len(text) <= width or ":" not in text:
        return truncate(text, width)
    kind, feature = text.split(":", 1)
    kind_width = width - cell_len(feature) - 1
    if kind_width >= 2:
        return f"{truncate(kind, kind_width)}:{feature}"
    return "…:" + truncate(feature, max(1, width - 2))


def _alert_line(alert: "Alert", *, show_model: bool, model_width: int, rule_width: int,
                owner_width: int) -> tuple[Text, int]:
    """The whole line, and the cells up to the end of the owner (the part that must fit)."""
    label, style = _SEVERITY.get(alert.severity, (alert.severity[:4].upper(), ""))
    firing = alert.state == "firing"
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    line.append(f"{label:<4} ", style=style if firing else "dim")
    if show_model:
        line.append_text(safe_text(alert.model, width=model_width, style="bold" if firing else "dim"))
        line.append(" ")
    line.append(rule_text(alert.rule, rule_width))
    if not firing:
        # Before the owner, where 80 columns keep it: the dim style alone (gone under NO_COLOR) made a
        # resolved CRIT read like a firing one once the time at the end was cut.
        line.append(" resolved", style="bold")
    # What must survive 80 columns comes first: whether someone is on it (acked by), then the owner;
    # the numbers and the time go last, where a narrow terminal cuts.
    if alert.acked_by:
        # The user part is enough to know who is on it (the audit keeps user@host).
        line.append(" acked ", style="dim")
        line.append_text(safe_text(alert.acked_by.split("@")[0], width=16, style="green"))
    elif firing:
        line.append(" A: ack", style="dim")
    line.append(" owner ", style="dim")
    if alert.owner:
        line.append_text(safe_text(alert.owner, width=owner_width, style="bold" if firing else ""))
    else:
        line.append("NONE", style="bold red")
    core = line.cell_len
    compared = "" if alert.threshold is None else f"/{_number(alert.threshold)}"
    line.append(f" {_number(alert.value)}{compared}", style="dim")
    if firing:
        line.append(f" {_clock(alert.fired_at)}")
    else:
        line.append(f" at {_clock(alert.resolved_at or alert.fired_at)}", style="dim")
    return line, core


class AlertList(Static):
    """The alerts of the fleet (``show_model``: a column names each alert's model) or of one model."""

    DEFAULT_CSS = """
    AlertList {
        height: auto;
        max-height: 7;
        padding: 0 1;
    }
    """

    class ReloadRequested(Message):
        """Read the alerts again; the screen answers with ``show``."""

        def __init__(self, alert_list: "AlertList") -> None:
            super().__init__()
            self.alert_list = alert_list

    class AcknowledgeRequested(Message):
        """Acknowledge ``model``'s unacknowledged firing alerts (the screen does, then reloads the list)."""

        def __init__(self, alert_list: "AlertList", model: str) -> None:
            super().__init__()
            self.alert_list = alert_list
            self.model = model

    def __init__(self, *, show_model: bool, refresh_s: float, empty_text: str = "no firing alerts",
                 show_runbook: bool = False, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.show_model = show_model
        self.show_runbook = show_runbook
        """Under each firing alert, its rule's runbook (the model screen: what to do next)."""
        self.refresh_s = refresh_s
        self.empty_text = empty_text
        self.alerts: list[Alert] = []

    def on_mount(self) -> None:
        # After the first paint: the reader's imports (sqlite-utils, the store) would compete with it for the GIL.
        self.call_after_refresh(self.reload)
        self.set_interval(self.refresh_s, self.reload)

    def reload(self) -> None:
        self.post_message(self.ReloadRequested(self))

    def show(self, alerts: "list[Alert]") -> None:
        self.alerts = alerts
        self._render_lines()

    def on_resize(self) -> None:
        self._render_lines()

    def _render_lines(self) -> None:
        width = max(20, self.size.width - 2 if self.size.width else 78)
        if not self.alerts:
            update_text(self, Text(self.empty_text, style="dim"))
            return
        lines = []
        for alert in self.alerts:
            lines.append(alert_line(alert, show_model=self.show_model, width=width))
            if self.show_runbook and alert.state == "firing" and alert.runbook:
                lines.append(runbook_line(alert.runbook, width))
        update_text(self, Text("\n").join(lines))

    @property
    def firing(self) -> "list[Alert]":
        return [a for a in self.alerts if a.state == "firing"]

    def acknowledge(self, model: str | None) -> None:
        """Ask to acknowledge ``model``'s unacknowledged firing alerts, or say why there is nothing to do."""
        if model is None:
            return
        firing = [a for a in self.firing if a.model == model]
        if not firing:
            self.app.notify(f"{clean(model)}: no firing alert", markup=False)
            return
        if all(a.acked_by for a in firing):
            # Say who is on it: "nothing to do" next to an Alrt count of 1 reads like a bug.
            by = ", ".join(dict.fromkeys(clean(a.acked_by.split("@")[0]) for a in firing if a.acked_by))
            self.app.notify(f"{clean(model)}: all firing alerts already acknowledged by {by}", markup=False)
            return
        self.post_message(self.AcknowledgeRequested(self, model))
