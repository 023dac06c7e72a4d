"""The one factory for HTTP clients handed to plugins.

The hub owns timeouts, retries (httpx-retries: backoff with jitter, `Retry-After`
honoured, idempotent methods only unless a plugin opts a request in), request logging
without secrets, and call counting per connection for `/metrics`. Tests swap the
transport (respx patches it, or pass `transport=httpx.MockTransport(...)`).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections import Counter
from collections.abc import Iterable

import httpx
from httpx_retries import Retry, RetryTransport

from hub import __version__

log = logging.getLogger("relance.http")

#: calls and 429s per client name, read by the metrics endpoint and benchmarks
CALLS: Counter[str] = Counter()
THROTTLED: Counter[str] = Counter()

RETRY_STATUSES = (500, 502, 503, 504)
SENSITIVE = {"authorization", "cookie", "x-api-key", "stripe-signature"}


def default_retry(total: int = 4, backoff: float = 0.5,
                  methods: Iterable[str] | None = None) -> Retry:
    """Transient faults retried; 429 is left to the plugin, which knows the provider's quota."""
    return Retry(
        total=total,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=methods or ("GET", "HEAD", "PUT", "DELETE", "OPTIONS"),
        retry_on_exceptions=(httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout,
                             httpx.RemoteProtocolError, httpx.PoolTimeout),
        max_backoff_wait=60,
    )


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One context for every client: loading the CA bundle takes ~40 ms, once per client
    otherwise (each plugin instance, each event loop). httpx advises sharing it."""
    return httpx.create_ssl_context()


def make_client(
    name: str,
    *,
    base_url: str = "",
    timeout: float = 30.0,
    retry: Retry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
    max_connections: int = 10,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for the plugin instance called `name` (a connection or channel)."""

    async def on_request(request: httpx.Request) -> None:
        CALLS[name] += 1
        log.debug("%s → %s %s", name, request.method, request.url.copy_with(query=None))

    async def on_response(response: httpx.Response) -> None:
        if response.status_code == 429:
            THROTTLED[name] += 1
        log.debug("%s ← %s %s", name, response.status_code, response.request.url.path)

    inner = transport or httpx.AsyncHTTPTransport(
        verify=shared_ssl_context(),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    )
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        transport=RetryTransport(transport=inner, retry=retry or default_retry()),
        headers={"User-Agent": f"relance/{__version__}", **(headers or {})},
        event_hooks={"request": [on_request], "response": [on_response]},
    )


def redact(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    """Headers safe to log."""
    return {k: ("***" if k.lower() in SENSITIVE else v) for k, v in dict(headers).items()}
