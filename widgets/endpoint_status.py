"""One line about a model's serving endpoint, as the poller last saw it, re-drawn every second.

It only reads what its ``source`` returns (the poller's latest result, held in memory by the
console): no HTTP and no store access happen here, so drawing it costs microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widgets import Static

from app.timeutil import age_text
from app.text import safe_text

from widgets.severity import HEALTH as _STYLE  # noqa: E402
from widgets.text_update import update_text  # noqa: E402


def endpoint_line(result: Any | None, now_ms: int, *, configured: bool = True, width: int = 80) -> Text:
    """``result``: an ``app.endpoints.poller.PollResult`` (or None before the first poll)."""
    line = Text("endpoint ", style="dim", no_wrap=True, overflow="ellipsis")
    if not configured:
        line.append("none configured (modeldeck.toml: models.<name>.endpoint)", style="dim")
        return line
    if result is None:
        line.append("waiting for the first poll…", style="dim")
        return line
    health = result.health
    line.append(f"{result.kind} ", style="dim")
    line.append(health.state.value, style=_STYLE.get(health.state.value, ""))
    if health.checked_at is not None:  # state plus the age of the check: "up · 3s ago"
        line.append(f" · {age_text(max(0, now_ms - health.checked_at))} ago", style="dim")
    if health.reason:
        line.append(": ")
        line.append_text(safe_text(health.reason, width=max(20, width - 40)))
    if health.state.value != "up" and health.last_ok_at is not None:
        line.append(f" · last good {age_text(max(0, now_ms - health.last_ok_at))} ago", style="dim")
    if result.active_version:
        line.append(" · serving ")
        line.append_text(safe_text(result.active_version, width=16, style="bold"))
    # Req/m, p95 and Err% are on the line below, read as the fleet reads them (one figure, one meaning).
    return line


class EndpointStatus(Static):
    """The endpoint line of one model; ``source()`` gives the latest poll result or None."""

    DEFAULT_CSS = """
    EndpointStatus { height: 1; padding: 0 1; }
    """

    def __init__(self, source: Callable[[], Any | None], clock: Callable[[], int], *, configured: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._source = source
        self._clock = clock
        self._configured = configured

    def on_mount(self) -> None:
        # A model without an endpoint shows nothing: the line would only take a row at 80x24.
        self.display = self._configured
        if self._configured:
            self.redraw()
            self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        update_text(self, endpoint_line(self._source(), self._clock(), configured=self._configured,
                                        width=self.size.width or 80))
