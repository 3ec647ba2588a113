"""The one typed way from a screen to the console: ``self.console_app`` (navigation, the App's services) and
``self.console_context`` (store location, settings, clock, endpoint health, read-only). No screen looks
attributes up on the App by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from app.console.app import ModeldeckApp
    from app.console.context import ConsoleContext


def console_app(node: DOMNode) -> "ModeldeckApp":
    """The console ``node`` runs in (screens only ever run in it)."""
    from app.console.app import ModeldeckApp  # loaded already: the App imported this screen

    app = node.app
    if not isinstance(app, ModeldeckApp):
        raise TypeError(f"{type(node).__name__} runs only in the modeldeck console, not in {type(app).__name__}")
    return app


class OnConsole(DOMNode):
    """Mixed into every screen: typed access to the console and its context."""

    @property
    def console_app(self) -> "ModeldeckApp":
        return console_app(self)

    @property
    def console_context(self) -> "ConsoleContext":
        return console_app(self).context

    def breadcrumb(self, here: str, model: str | None = None) -> "Text":
        """Where esc goes back through, then this screen: ``fleet › fraud-scorer › drift`` (the model named
        once, whether the screen was opened from the fleet or from the model's screen; the last two
        screens below at most, so it fits at 80 columns)."""
        from rich.text import Text

        from app.text import safe_text

        trail = console_app(self).trail(self)[-2:]
        if model is not None and (not trail or trail[-1] != model):
            trail = [*trail[-1:], model]
        crumb = Text()
        for label in trail:
            crumb.append_text(safe_text(label, width=24, style="dim"))
            crumb.append(" › ", style="dim")
        crumb.append(here, style="bold")
        return crumb


class OwnBackground(DOMNode):
    """Mixed into a full screen (before ``Screen``): where none of its widgets is, it paints its own
    background, never the screen below.

    With the ANSI theme (``TERM=xterm``, NO_COLOR, 16 colours) every background is the terminal's own,
    which Textual counts as transparent: a pushed screen then rendered the whole screen below it (the
    fleet, every row) on each paint, to show none of it (the screen's widgets cover it all). Modals keep
    Textual's way: the screen below shows around their box.
    """

    def render(self) -> "RenderableType":
        from textual.renderables.blank import Blank

        background = self.styles.background
        return self.app.render() if background.is_transparent else Blank(background)
