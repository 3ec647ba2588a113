"""The command palette (ctrl+p): open any model, and the commands of the registered screens."""

from __future__ import annotations

from functools import partial
from typing import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from app.console import routes as registry
from app.text import clean


def _run(target: str, app: object) -> None:
    registry.load(target)(app)  # imported only when chosen


class ModeldeckCommands(Provider):
    """The palette's commands: open each model, plus whatever screens are registered."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Fleet overview", "Back to the list of models", app.action_fleet),
            ("Refresh", "Read the store again now", app.action_refresh),
            ("Switch store", "Open another store file", app.action_switch_store),
            ("Keys", "The keys of this screen", app.action_help),
        ]
        for name in app.model_names:
            commands.append((f"Open model {clean(name)}", "Versions, readiness, card, activity",
                             partial(app.open_model, name)))
        for view in registry.model_views():
            for name in app.model_names:
                commands.append((f"{view.title}: {clean(name)}", "", partial(app.open_model_view, view.id, name)))
        for query_view in registry.query_views():
            commands.append((query_view.title, "", partial(app.open_query_view, query_view.id, "")))
        for command in registry.app_commands():
            commands.append((command.title, command.help, partial(_run, command.target, app)))
        return commands

    async def discover(self) -> Hits:
        for text, help_text, command in self._commands():
            # Content(...) never parses markup: model names are data.
            yield DiscoveryHit(Content(text), command, text=text, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, Content(text), command, text=text, help=help_text or None)
