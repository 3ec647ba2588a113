"""A one-line query input with history (up/down) and completion (tab or right arrow accepts it).

Reusable for any small language: the history list and the ``complete(text) -> str | None``
function are handed in. Completion runs on every keystroke, so ``complete`` must be cheap and
must not touch a store (the screen reads names beforehand and the function closes over them).
"""

from __future__ import annotations

from typing import Callable

from textual import events
from textual.binding import Binding
from textual.suggester import Suggester

from app.text import clean
from widgets.safe_input import SafeInput


class _FunctionSuggester(Suggester):
    def __init__(self, complete: Callable[[str], str | None]) -> None:
        # No cache: the names behind the completions arrive after the first keystrokes.
        super().__init__(use_cache=False, case_sensitive=True)
        self._complete = complete

    async def get_suggestion(self, value: str) -> str | None:
        suggestion = self._complete(value)
        return None if suggestion is None else clean(suggestion)  # drawn raw, like the value


class QueryBar(SafeInput):
    # SafeInput: the value never holds a control character; inside quotes its \\xNN escapes read back
    # as the character (app/search/complete.py quote_value).

    DEFAULT_CSS = """
    QueryBar {
        height: 1;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    QueryBar:focus {
        border: none;
        background: $surface-lighten-1;
    }
    """

    # Shown in the key bar while the bar has the focus: what enter, tab and up do here.
    BINDINGS = [
        Binding("enter", "submit", "Search", id="query_bar.search", key_display="⏎"),
        Binding("tab", "accept", "Complete", id="query_bar.complete"),
        Binding("up", "history(-1)", "History", id="query_bar.previous", key_display="↑"),
        Binding("down", "history(1)", "Next query", id="query_bar.next", show=False),
    ]

    def __init__(self, history: list[str], complete: Callable[[str], str | None], *, value: str = "",
                 placeholder: str = "", id: str | None = None) -> None:
        super().__init__(value=value, placeholder=placeholder, id=id, suggester=_FunctionSuggester(complete),
                         select_on_focus=False)
        self.history = history
        self._position = len(history)
        self._draft = value

    def _on_focus(self, event: events.Focus) -> None:
        # Textual calls Input's own handler after this one. The value may have been replaced while the
        # bar was not focused (`a`, a query from the command line): `/` then types at the end of what
        # is shown, and ctrl+u clears all of it, not only what lies left of where the cursor last was.
        if not event.from_app_focus:
            self.cursor_position = len(self.value)

    def remember(self, text: str) -> None:
        """Add a run query to the history (no repeats in a row) and go back to its end."""
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
            del self.history[:-200]
        self._position = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value  # what was being typed comes back after the newest entry
            if step < 0 and self.value == self.history[-1]:
                self._position -= 1  # the bar already shows the newest entry: up goes to the one before
        self._position = max(0, min(len(self.history), self._position + step))
        self.value = self.history[self._position] if self._position < len(self.history) else self._draft
        self.cursor_position = len(self.value)

    def action_accept(self) -> None:
        if self._suggestion and self.cursor_at_end:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()
