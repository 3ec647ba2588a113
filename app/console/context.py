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
        self._read_only_settings: Settings | None = None
        self._read_only_from: Settings | None = None
        self.at_ms: int | None = None
        """Incident time travel (``--at``, ``:at``): every screen shows the store as it stood then, read-only."""

    def now_ms(self) -> int:
        """The time screens show the store at: the console's clock (fixed in tests), or the time travelled to."""
        return self._clock() if self.at_ms is None else self.at_ms

    def wall_ms(self) -> int:
        """The console's clock, even while travelling (the background sync works on now; the monitor
        waits until the console is live again: viewing the past writes nothing)."""
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
        if self.at_ms is not None:
            # Viewing the past: every action gets read-only settings, so the action layer refuses (and audits).
            if self._read_only_settings is None or self._read_only_from is not self._settings:
                self._read_only_settings = self._settings.model_copy(update={"read_only": True})
                self._read_only_from = self._settings
            return self._read_only_settings
        return self._settings

    @property
    def read_only(self) -> bool:
        """Every action that changes a model is refused (``--read-only``, ``read_only: true``, or viewing
        the past: the screens then show what stood, not what an action would act on)."""
        return self._settings is not None and self.settings.read_only
