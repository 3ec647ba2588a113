"""The command palette (ctrl+p): open any model, and the commands of the registered screens.

Every entry says its key (``key R on the fleet and model screens``), so the palette teaches the keys
that are faster next time."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from app.console import routes
from app.text import clean

if TYPE_CHECKING:
    from app.console.app import ModeldeckApp


class ModeldeckCommands(Provider):
    """The palette's commands: open each model, plus whatever screens are registered."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("ModeldeckApp", self.app)  # the palette is installed by ModeldeckApp.COMMANDS only
        commands: list[tuple[str, str, Callable[[], object]]] = [
            ("Fleet overview", "Back to the list of models · key esc (back)", app.action_fleet),
            ("Refresh", "Read the store again now · key ctrl+r", app.action_refresh),
            ("Switch store", "Open another store file · :store FILE", app.action_switch_store),
            ("Keys", "The keys of this screen · key ?", app.action_help),
            ("Command line", "Type a command (:rollback NAME, :search QUERY) · key :", app.action_command_line),
        ]
        for name in app.context.model_names:
            commands.append((f"Open model {clean(name)}", "Versions, readiness, card, activity · key enter on the fleet",
                             partial(app.open_model, name)))
            commands.append((f"Activity: {clean(name)}", "Who changed it, when and why · key 4 on the model screen",
                             partial(app.open_model_tab, name, "activity")))
            commands.append((f"Readiness: {clean(name)}", "The eight readiness areas · key 2 on the model screen",
                             partial(app.open_model_tab, name, "readiness")))
            commands.append((f"Acknowledge alerts: {clean(name)}", "Its firing alerts, audited · key A on the fleet "
                             "and model screens", partial(app.acknowledge_alerts, name)))
        for view in routes.model_views():
            for name in app.context.model_names:
                commands.append((f"{view.title}: {clean(name)}", f"key {view.key} on the model screen"
                                 + (" and the fleet" if view.key in ("R", "d", "l") else ""),
                                 partial(app.open_model_view, view.id, name)))
        for query_view in routes.query_views():
            commands.append((query_view.title, "every model's logs · key / on the fleet", partial(app.open_query_view, query_view.id, "")))
        for command in routes.app_commands():
            commands.append((command.title, command.help, partial(command.run, app)))
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
