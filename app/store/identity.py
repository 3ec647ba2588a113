"""Who is acting: the actor recorded in the audit trail and on locks."""

from __future__ import annotations

import os
import socket


def current_actor() -> str:
    """``$USER@host``; MODELDECK_ACTOR overrides it (shared bastion accounts, CI jobs)."""
    override = os.environ.get("MODELDECK_ACTOR")
    if override:
        return override
    try:
        import getpass  # pulls termios; only when no MODELDECK_ACTOR names the actor

        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
