"""What every HTTP adapter shares: one request helper with a hard timeout, bearer tokens, one-line errors."""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from collections import deque
from typing import Any

import httpx

from app.config.settings import EndpointConfig
from app.endpoints.prometheus import Counters, Recipe, derive, read_counters
from app.endpoints.protocol import Capabilities, EndpointError, EndpointMetrics, NotSupported
from app.models import Health, HealthState
from app.text import add_secret, redact
from app.timeutil import now_ms

_MAX_BODY_IN_ERROR = 160
RATE_WINDOW_S = 60.0


def clean(text: str, limit: int = _MAX_BODY_IN_ERROR) -> str:
    """A remote answer shown in a message: printable characters only, one line, bounded."""
    flat = "".join(ch if ch.isprintable() else " " for ch in redact(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every adapter's client (building one costs milliseconds and memory)."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def new_client() -> httpx.AsyncClient:
    """A client per adapter: httpcore's pool scans every connection it holds on each request, so one
    pool shared by hundreds of endpoints costs quadratic time on the event loop."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=_tls_context(),
                             limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))


def health(state: HealthState, reason: str = "") -> Health:
    return Health(state=state, reason=redact(reason), checked_at=now_ms())  # a server may echo the token


class BodyTooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(f"answer larger than {cap:,} bytes (endpoint max_body_bytes), not read")


class HttpAdapter:
    """Base for the adapters: holds the config, an httpx.AsyncClient (shared or owned) and the last scrape."""

    kind = "base"
    capabilities = Capabilities()
    recipe: Recipe | None = None

    def __init__(self, model: str, config: EndpointConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self.model = config.name or model
        self.url = config.url.rstrip("/")
        self.timeout_s = config.timeout_s
        self.metrics_url = config.metrics_url
        self.max_body_bytes = config.max_body_bytes
        self._token_env = config.token_env  # the variable's NAME; the token itself is read per request
        self._owns_client = client is None
        self._client = client or new_client()
        self._history: deque[Counters] = deque(maxlen=64)  # recent scrapes, oldest first

    def _headers(self) -> dict[str, str]:
        if not self._token_env:
            return {}
        token = os.environ.get(self._token_env)
        if not token:
            raise EndpointError(f"token variable {self._token_env} is not set", definite=True, sent=False)
        add_secret(token)  # redacted wherever a server echoes it back (app/text.py)
        return {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, url: str, *, json: Any = None, params: dict[str, Any] | None = None,
                      ok: tuple[int, ...] = (200,), timeout_s: float | None = None) -> httpx.Response:
        """One call bounded by a wall-clock timeout (httpx's own are per phase: a server that drips
        bytes could outlast them). Errors name the path, never the token or the full URL."""
        limit = timeout_s if timeout_s is not None else self.timeout_s
        path = httpx.URL(url).path or "/"
        try:
            async with asyncio.timeout(limit):
                response = await self._bounded(method, url, json=json, params=params, timeout=limit)
        except BodyTooLarge as too_large:
            raise EndpointError(f"{method} {path}: {too_large}", definite=True) from None
        except httpx.ConnectTimeout:
            # No connection within the limit: the request itself was never written.
            raise EndpointError(f"{method} {path}: no connection within {limit:g}s (unreachable)",
                                sent=False) from None
        except (TimeoutError, httpx.TimeoutException):
            raise EndpointError(f"{method} {path}: no answer within {limit:g}s") from None
        except httpx.ConnectError:
            raise EndpointError(f"{method} {path}: connection refused or unreachable", sent=False) from None
        except httpx.HTTPError as exc:
            raise EndpointError(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code not in ok:
            body = clean(response.text) if response.content else ""
            raise EndpointError(f"{method} {path}: HTTP {response.status_code}{': ' + body if body else ''}",
                                definite=True, status=response.status_code)
        return response

    async def _bounded(self, method: str, url: str, *, json: Any, params: dict[str, Any] | None,
                       timeout: float) -> httpx.Response:
        """The response with its body read up to ``max_body_bytes`` (decompressed bytes count), never
        more: a 2 GB answer is refused after the first megabyte instead of read whole."""
        cap = self.max_body_bytes
        request = self._client.build_request(method, url, json=json, params=params, headers=self._headers(),
                                             timeout=timeout)
        response = await self._client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise BodyTooLarge(cap)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > cap:
                    raise BodyTooLarge(cap)
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    async def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.request(method, url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise EndpointError(f"{method} {httpx.URL(url).path}: answer is not JSON") from None

    def default_metrics_url(self) -> str | None:
        return None

    async def metrics(self) -> EndpointMetrics | None:
        url = self.metrics_url or self.default_metrics_url()
        if self.recipe is None or url is None:
            return None
        response = await self.request("GET", url)
        counters = read_counters(response.text, self.recipe, self.model, ts=time.monotonic())
        # Rates over up to the last minute of scrapes (like Prometheus' rate(...[1m])), not just since
        # the previous one: a model with a request every few seconds would otherwise flicker 0 / 30 / 0.
        while len(self._history) > 1 and counters.ts - self._history[0].ts > RATE_WINDOW_S:
            self._history.popleft()
        figures = derive(counters, self._history[0] if self._history else None, self.recipe)
        self._history.append(counters)
        return figures

    async def activate(self, version: str) -> None:
        raise NotSupported(f"{self.kind}: switching versions is not supported")

    async def disable(self) -> None:
        raise NotSupported(f"{self.kind}: disabling a model is not supported")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
