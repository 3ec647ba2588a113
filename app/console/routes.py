"""Screens other parts of modeldeck add to the console, listed in one typed table.

The fleet and model screens, the command palette and the ``:`` command line all read these
tables, so adding a screen is one line here: its key on the model screen, its palette commands
and its ``:verb`` appear together.

A palette command that is not a screen is one ``AppCommand`` line in ``APP_COMMANDS``.

Contract for a listed screen: a ``ModelView`` opens as ``open(model_name)``, a ``QueryView`` as
``open(query_text)``; each ``open`` is a small factory that imports its screen module when first
used (the console's startup imports none of them). A screen reads the store's location, the
settings and the clock from ``screens.base.OnConsole.console_context``, and reads the store through
``app.views`` functions inside its thread workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from textual.screen import Screen

    from app.console.app import ModeldeckApp

ScreenFactory = Callable[[str], "Screen[Any]"]
"""Builds a screen from a model name or a query text."""


@dataclass(frozen=True)
class ModelView:
    """A screen about one model (drift, logs, rollback ...)."""

    id: str  # binding id "model.<id>", palette id, and the ``:<id> MODEL`` verb
    title: str  # "Show drift"
    key: str  # key on the model screen
    open: ScreenFactory  # model name -> the screen


@dataclass(frozen=True)
class QueryView:
    """A screen opened with a query (``:search entity:cust-42``)."""

    id: str  # the ``:<id> QUERY`` verb
    title: str
    open: ScreenFactory  # query text -> the screen


@dataclass(frozen=True)
class AppCommand:
    """A palette command that opens no screen of its own (acknowledge alerts, export ...)."""

    title: str  # what the palette shows and matches, e.g. "Acknowledge firing alerts"
    help: str  # one line under it
    run: Callable[["ModeldeckApp"], None]  # called on the event loop (start a worker for I/O)


# Each factory imports its screen when the screen is first opened.
def _drift(model: str) -> "Screen[Any]":
    from screens.drift import DriftScreen

    return DriftScreen(model)


def _logs_of_model(model: str) -> "Screen[Any]":
    from screens.logs import for_model

    return for_model(model)  # LogsScreen pre-filtered to model:NAME


def _rollback(model: str) -> "Screen[Any]":
    from screens.rollback import RollbackScreen

    return RollbackScreen(model)


def _disable(model: str) -> "Screen[Any]":
    from screens.disable import DisableScreen

    return DisableScreen(model)


def _search(query: str) -> "Screen[Any]":
    from screens.logs import LogsScreen

    return LogsScreen(query)


MODEL_VIEWS: tuple[ModelView, ...] = (
    ModelView("drift", "Show drift", "d", _drift),
    ModelView("logs", "Search logs", "l", _logs_of_model),
    ModelView("rollback", "Roll back", "R", _rollback),
    ModelView("disable", "Disable", "X", _disable),
)

QUERY_VIEWS: tuple[QueryView, ...] = (
    QueryView("search", "Search logs", _search),
)

APP_COMMANDS: tuple[AppCommand, ...] = ()


def model_views() -> list[ModelView]:
    return list(MODEL_VIEWS)


def query_views() -> list[QueryView]:
    return list(QUERY_VIEWS)


def app_commands() -> list[AppCommand]:
    return list(APP_COMMANDS)


def model_view(view_id: str) -> ModelView:
    """The model view with this id (KeyError if there is none)."""
    for view in model_views():
        if view.id == view_id:
            return view
    raise KeyError(view_id)


def query_view(view_id: str) -> QueryView:
    """The query view with this id (KeyError if there is none)."""
    for view in query_views():
        if view.id == view_id:
            return view
    raise KeyError(view_id)
