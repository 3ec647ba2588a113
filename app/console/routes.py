"""Screens other parts of modeldeck add to the console, listed in one place.

The fleet and model screens, the command palette and the ``:`` command line all read
these lists, so adding a screen is one line here: its key on the model screen, its palette
commands and its ``:verb`` appear together, and nothing shows for a screen that is absent.

A palette command that is not a screen is one ``AppCommand`` line in ``APP_COMMANDS``.

Contract for a listed screen class (``"module:Class"``, imported only when opened):
- a ``ModelView`` is built as ``Class(model_name)``; a ``QueryView`` as ``Class(query_text)``;
- it reads ``self.app.db_path``, ``self.app.settings`` and ``self.app.now_ms()``, and opens
  its own ``Store`` inside its thread workers.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelView:
    """A screen about one model (drift, logs, rollback ...)."""

    id: str  # binding id "model.<id>", palette id, and the ``:<id> MODEL`` verb
    title: str  # "Show drift"
    key: str  # key on the model screen
    target: str  # "screens.drift:DriftScreen"


@dataclass(frozen=True)
class QueryView:
    """A screen opened with a query (``:search entity:cust-42``)."""

    id: str  # the ``:<id> QUERY`` verb
    title: str
    target: str


MODEL_VIEWS: tuple[ModelView, ...] = (
    ModelView("drift", "Show drift", "d", "screens.drift:DriftScreen"),
    ModelView("logs", "Search logs", "l", "screens.logs:for_model"),  # LogsScreen pre-filtered to model:NAME
    ModelView("rollback", "Roll back", "R", "screens.rollback:RollbackScreen"),
    ModelView("disable", "Disable", "X", "screens.disable:DisableScreen"),
)

QUERY_VIEWS: tuple[QueryView, ...] = (
    QueryView("search", "Search logs", "screens.logs:LogsScreen"),
)


@dataclass(frozen=True)
class AppCommand:
    """A palette command that opens no screen of its own (acknowledge alerts, export ...)."""

    title: str  # what the palette shows and matches, e.g. "Acknowledge firing alerts"
    help: str  # one line under it
    target: str  # "module:function", called as function(app) on the event loop (start a worker for I/O)


APP_COMMANDS: tuple[AppCommand, ...] = ()


def available(target: str) -> bool:
    """Whether the module behind ``target`` is installed (no import: that happens on open)."""
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def model_views() -> list[ModelView]:
    return [view for view in MODEL_VIEWS if available(view.target)]


def query_views() -> list[QueryView]:
    return [view for view in QUERY_VIEWS if available(view.target)]


def app_commands() -> list[AppCommand]:
    return [command for command in APP_COMMANDS if available(command.target)]


def load(target: str) -> Any:
    module, attribute = target.split(":", 1)
    return getattr(importlib.import_module(module), attribute)
