"""A one-line key hint bar: the shown bindings of the screen, as the keymap has them.

While a modal (a ModalScreen: confirmations, the command line) is open above its screen, the bar shows the
modal's keys instead: the screen's own do not work until it closes, and the bar stays visible below it.

Lighter than Textual's ``Footer`` (one widget instead of one per key, which matters for the
first paint) and it drops keys that do not fit instead of clipping one in the middle.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from widgets.text_update import update_text


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    _watched: Screen | None = None

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        self._watch(self._keys_screen())

    def on_unmount(self) -> None:
        self.app.screen_change_signal.unsubscribe(self)
        if self._watched is not None:
            self._watched.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self._keys_screen())

    def _keys_screen(self) -> Screen:
        """Whose keys work now: this bar's screen, or the topmost of the modals stacked right above it."""
        stack = self.app.screen_stack
        if self.screen not in stack:
            return self.screen
        above = stack[stack.index(self.screen) + 1:]
        if above and all(isinstance(screen, ModalScreen) for screen in above):
            return above[-1]
        return self.screen

    def _watch(self, screen: Screen) -> None:
        if screen is not self._watched:
            if self._watched is not None:
                self._watched.bindings_updated_signal.unsubscribe(self)
            screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
            self._watched = screen
        self._bindings_changed(screen)

    def _screen_changed(self, _screen: Screen) -> None:
        self._watch(self._keys_screen())

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self._watched:
            return  # a late update of a screen no longer shown here
        width = max(0, self.size.width - 2) or 78
        items: list[tuple[str, Text]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            if binding.action == "back" and screen is self.app.screen_stack[0]:
                continue  # the home screen has nothing to go back to
            seen.add(binding.action)
            items.append((binding.action, Text.assemble((self.app.get_key_display(binding), "bold"), " ",
                                                        binding.description)))
        if isinstance(screen, ModalScreen) and len(screen.focus_chain) > 1:
            # Textual hides its tab binding everywhere; in a form (a reason, a name, buttons) it is how
            # one gets around, so a modal names it.
            items.append(("app.focus_next", Text.assemble(("tab", "bold"), " Next field")))
        # "esc Back" leads and "? Help" (which lists every key) ends the bar whatever the width;
        # the screen's own keys fill the room between them in their order, whole or not at all.
        first = [text for action, text in items if action == "back"]
        last = [text for action, text in items if action == "help"]
        middle = [text for action, text in items if action not in ("back", "help")]
        room = width - sum(item.cell_len + 2 for item in first + last)
        kept = []
        for item in middle:
            if item.cell_len + 2 > room:
                break
            kept.append(item)
            room -= item.cell_len + 2
        update_text(self, Text("  ", no_wrap=True, end="").join(first + kept + last))
