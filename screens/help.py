"""``?``: the keys of the screen underneath (as remapped by the keymap), and the ``:`` commands."""

from __future__ import annotations

from typing import Callable, Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", id="help.close_again", show=False),
        Binding("q", "close", "Close", id="help.close_q", show=False),
    ]

    def __init__(self, screen: Screen, commands: Callable[[], Iterable[tuple[str, str]]]) -> None:
        super().__init__()
        # Read now: once this modal is on top, "the focused screen" would be the help itself.
        self.sections: dict[str, list[tuple[str, str, str]]] = {"This screen": [], "Everywhere": [],
                                                                "In the focused widget": []}
        seen: set[tuple[str, str]] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or not active.enabled:
                continue
            shown = screen.app.get_key_display(binding)
            if (shown, binding.description) in seen:
                continue
            seen.add((shown, binding.description))
            # Textual's own keys (tab, copy: no id) belong to every screen, so they go under "Everywhere".
            section = ("Everywhere" if active.node is screen.app or (active.node is screen and not binding.id)
                       else "This screen" if active.node is screen else "In the focused widget")
            self.sections[section].append((shown, binding.description, binding.id or ""))
        # Keys that belong to another part of the screen (the model screen's other tabs): inactive
        # now, but an operator asking "how do I sign off?" from tab 1 must find them here too.
        other_parts = getattr(screen, "other_part_keys", None)
        for title, bindings in (other_parts() if callable(other_parts) else []):
            rows = [(screen.app.get_key_display(b), b.description, b.id or "") for b in bindings if b.description]
            if rows:
                self.sections[title] = rows
        for rows in self.sections.values():  # remappable keys (with an id) first
            rows.sort(key=lambda row: not row[2])
        self.commands = list(commands())
        # A screen with more to explain than keys (the logs screen's query language) adds a section.
        extra = getattr(screen, "help_extra", None)
        self.extra: Text | None = extra() if callable(extra) else None

    def compose(self) -> ComposeResult:
        text = Text()
        rows = [row for section in self.sections.values() for row in section]
        width = max((len(row[0]) for row in rows), default=4) + 2
        extra = self.extra
        for title, section in self.sections.items():
            if not section:
                continue
            text.append(f"{title}\n", style="bold")
            for key, description, binding_id in section:
                text.append(f"  {key:<{width}}", style="bold")
                text.append(description)
                if binding_id:
                    text.append(f"  {binding_id}", style="dim")
                text.append("\n")
            text.append("\n")
            if title == "This screen" and extra is not None:  # right under the screen's own keys
                text.append_text(extra)
                text.append("\n\n")
                extra = None
        if extra is not None:
            text.append_text(extra)
            text.append("\n\n")
        text.append("Command line (press :)\n", style="bold")
        width = max(len(c[0]) for c in self.commands) + 2
        for command, description in self.commands:
            text.append(f"  {command:<{width}}", style="bold")
            text.append(description + "\n")
        text.append("\nRemap a key in modeldeck.toml: [ui.keymap] \"fleet.open\" = \"o\"", style="dim")
        with VerticalScroll(id="help-box", classes="modal-box") as box:
            # In the border, so it stays put while the list scrolls: the key bar below still shows
            # the keys of the screen underneath, none of which work while this is open.
            box.border_title = "Keys"
            box.border_subtitle = "esc close · ↑↓ pgup pgdn scroll"
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)
