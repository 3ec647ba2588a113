"""The one typed way from a screen to the console: ``self.console_app`` (navigation, the App's services) and
``self.console_context`` (store location, settings, clock, endpoint health, read-only). No screen looks
attributes up on the App by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
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
