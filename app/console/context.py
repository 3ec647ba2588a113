"""What every screen of the console shares, as one typed object (not attributes found on the App).

The store's location and the settings exist once the console has read its configuration (``ready``);
the clock, endpoint health and live figures, the model names of the last fleet read and the input
histories exist from the start. Nothing here imports pydantic or the store: the console builds this
before its first paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pathlib import Path

    from app.config.settings import Settings
    from app.endpoints.poller import PollResult
    from app.models import Health
    from app.store.location import StoreLocation


class NotReady(RuntimeError):
    """The store or the settings were asked for before the console had read its configuration."""


class ConsoleContext:
    """Where the store is, the settings, the clock, endpoint health and live figures, read-only, demo."""

    def __init__(self, clock: Callable[[], int], *, demo: bool = False) -> None:
        self._clock = clock
        self._store: StoreLocation | None = None
        self._settings: Settings | None = None
        self.demo = demo
        """Whether the store is the one ``modeldeck demo`` built (the header says so)."""
        self.health: dict[str, Health] = {}
        """Endpoint health by model, filled by the poller when there is one."""
        self.live: dict[str, PollResult] = {}
        """Model -> the endpoint's latest poll (written by the poller thread)."""
        self.model_names: list[str] = []
        """The models of the last fleet read (palette, ``:model`` prefixes, completion)."""
        self.command_history: list[str] = []
        self.search_history: list[str] = []
        """The Logs screen's query bar (up/down)."""
        self.search_history_of: Path | None = None
        """The store whose saved history (app.search.history) is already in ``search_history``."""

    def now_ms(self) -> int:
        """The console's clock (fixed in tests)."""
        return self._clock()

    @property
    def ready(self) -> bool:
        return self._store is not None and self._settings is not None

    def use(self, store: StoreLocation, settings: Settings) -> None:
        """The configuration has been read: these are the store and the settings from now on."""
        self._store, self._settings = store, settings

    def switch_store(self, store: StoreLocation) -> None:
        self._store = store
        self.demo = False  # the header must not keep saying "demo" over another store
        self.model_names = []

    @property
    def store(self) -> StoreLocation:
        if self._store is None:
            raise NotReady("the store is not known yet")
        return self._store

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise NotReady("the settings are not read yet")
        return self._settings

    @property
    def read_only(self) -> bool:
        """Every action that changes a model is refused (``--read-only`` or ``read_only: true``)."""
        return self._settings is not None and self._settings.read_only
