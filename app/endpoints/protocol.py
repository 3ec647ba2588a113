"""The one interface every serving system or registry adapter implements.

Adapters only talk to the remote system; the poller (health over time, backoff) and
``app/rollback/actions.py`` (locks, audit, verification) are built on top of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from app.models import Health


class EndpointError(Exception):
    """A remote call that did not give a usable answer; ``str()`` is one line for the operator.

    ``definite`` is True when the remote system answered and refused (an HTTP error status):
    then nothing changed. A timeout or a dropped connection leaves the outcome open.
    ``sent`` is False when the request never left this machine (connection refused or unreachable,
    a token that is not set): the remote system cannot have acted on it.
    """

    def __init__(self, message: str, *, definite: bool = False, status: int | None = None,
                 sent: bool = True) -> None:
        super().__init__(message)
        self.definite = definite
        self.status = status
        self.sent = sent


class NotSupported(EndpointError):
    """The system has no such operation (e.g. disable on a registry that cannot)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, definite=True)


@dataclass(frozen=True)
class Capabilities:
    can_activate: bool = False
    can_disable: bool = False
    has_metrics: bool = False


@dataclass(frozen=True)
class RemoteVersion:
    """A version as the remote system knows it."""

    version: str
    ready: bool | None = None  # None: the system does not say
    state: str = ""  # the system's own word (READY, UNAVAILABLE, ...)
    created_at: int | None = None  # epoch ms


@dataclass(frozen=True)
class EndpointMetrics:
    """Live serving figures derived from Prometheus counters; None where the endpoint has no such metric."""

    request_rate: float | None = None  # requests per second since the previous sample
    error_rate: float | None = None  # failed / all requests since the previous sample (0..1)
    latency_ms: dict[str, float] = field(default_factory=dict)  # "p50" / "p95" / "p99" / "mean" -> ms
    # Requests counted between those two samples: how much evidence the rates and quantiles rest on
    # (None: one sample only, so the latency quantiles, if any, are the endpoint's whole history).
    window_requests: float | None = None

    def samples(self) -> list[tuple[str, float]]:
        """(name, value) pairs as stored in ``metric_samples``."""
        out: list[tuple[str, float]] = []
        if self.request_rate is not None:
            out.append(("request_rate", self.request_rate))
        if self.error_rate is not None:
            out.append(("error_rate", self.error_rate))
        out.extend((f"latency_{name}_ms", value) for name, value in sorted(self.latency_ms.items()))
        return out


@runtime_checkable
class EndpointAdapter(Protocol):
    """One model on one serving system or registry."""

    kind: str
    model: str  # the model's name on the remote system
    timeout_s: float
    capabilities: Capabilities

    async def health(self) -> Health:
        """up / degraded / down with a reason; never raises for an unreachable system."""

    async def active_version(self) -> str | None:
        """The version that answers now (None: nothing serves). Raises EndpointError."""

    async def versions(self) -> list[RemoteVersion]:
        """Every version the system knows. Raises EndpointError."""

    async def metrics(self) -> EndpointMetrics | None:
        """Live figures, or None when the system exposes none. Raises EndpointError."""

    async def activate(self, version: str) -> None:
        """Make ``version`` the active one. Raises EndpointError / NotSupported."""

    async def disable(self) -> None:
        """Stop serving the model. Raises EndpointError / NotSupported."""

    async def aclose(self) -> None:
        """Close the HTTP client."""
