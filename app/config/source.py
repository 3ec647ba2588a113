"""Where the settings come from, without reading them yet.

The console paints its first screen before pydantic is imported (about 100 ms of imports on
these machines): the command line records *where* the settings are (``--config``, ``--db``,
``--read-only``) in a ``SettingsSource`` and the console validates them in a worker right
after the first paint. A bad config still ends the run with one line on stderr (exit 2).
Nothing here may import pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config.settings import Settings


class ConfigError(Exception):
    """A configuration problem, worded as one line (or a few) for the operator."""


@dataclass(frozen=True)
class SettingsSource:
    """The command line's say on the settings; ``None`` means "not given" (the environment or the
    config file decide)."""

    config_path: Path | None = None
    db: Path | None = None
    read_only: bool | None = None

    def load(self) -> Settings:
        """Read and validate the config file and the environment (raises ``ConfigError``)."""
        from app.config.settings import load_settings

        return load_settings(self.config_path, db=self.db, read_only=self.read_only)
