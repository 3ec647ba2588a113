"""The one read-only check for every write an operator asks for (rollback, disable, promote, sign-off,
waive, reopen, a manual pass, alert acknowledgement, ``modeldeck baseline`` ...).

Enforced here, at the action layer, never per screen or per command: the console's keys, the palette,
``:`` commands and the CLI all reach the same action functions, and each calls
``refuse_if_read_only`` before it writes. A refusal is itself audited (outcome ``refused``), so the
trail shows who tried what while the deck was read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.config.settings import Settings
    from app.store import Store

REFUSED = "refused"


class ReadOnlyRefused(Exception):
    """A write was refused because modeldeck (or the model) is read-only; nothing was changed."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"{action} refused: {reason}")


def read_only_reason(settings: "Settings | None", model: str | None = None) -> str | None:
    """Why writes are refused (``--read-only``, ``read_only = true``, or the model's ``read_only``), or None."""
    if settings is None:
        return None
    if settings.read_only:
        return "modeldeck runs read-only (--read-only or read_only = true)"
    config = settings.models.get(model) if model is not None else None
    if config is not None and config.read_only:
        from app.text import clean_name

        name = clean_name(model)  # shown in modals and CLI lines, written to the audit
        return f"model {name} is read-only in the config (models.{name}.read_only)"
    return None


def refuse_if_read_only(store: "Store", settings: "Settings | None", action: str, model: str | None = None, *,
                        actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Raise ``ReadOnlyRefused`` (after appending a ``refused`` audit row) when ``action`` on ``model`` must
    not write. Call it first, before any write transaction of the action is open."""
    reason = read_only_reason(settings, model)
    if reason is None:
        return
    with store.write():
        store.audit.append(action, model, actor=actor, outcome=REFUSED, detail={**(detail or {}), "refused": reason})
    raise ReadOnlyRefused(action, reason)
