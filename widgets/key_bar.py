"""A one-line key hint bar: the shown bindings of the screen, as the keymap has them.

Lighter than Textual's ``Footer`` (one widget instead of one per key, which matters for the
first paint) and it drops keys that do not fit instead of clipping one in the middle.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        width = max(0, self.size.width - 2) or 78
        items: list[tuple[str, Text]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            if binding.action == "back" and screen is self.app.screen_stack[0]:
                continue  # the home screen has nothing to go back to (even while a modal is open above it)
            seen.add(binding.action)
            items.append((binding.action, Text.assemble((self.app.get_key_display(binding), "bold"), " ",
                                                        binding.description)))
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
        self.update(Text("  ", no_wrap=True, end="").join(first + kept + last))
