"""Base classes that do the HTTP work every plugin shares, so no plugin copies it.

As the Singer SDK's REST stream validates responses once, `HttpPlugin.request` maps every
answer to the error class that tells the hub what to do:

    2xx, 3xx                → the response (unless `body_error` finds an error inside it)
    401 (`auth_statuses`)   → AuthError: re-connect; the message says what to check
    429                     → RateLimitedError with the provider's `Retry-After`
    5xx                     → RetriableError — or, for a send on a channel whose provider
                              does not deduplicate, DeliveryUncertainError: it may have acted
    other 4xx               → PermanentError carrying the provider's own message
    no connection           → RetriableError (nothing reached the provider)
    timeout mid-request     → like a 5xx

Subclass `HttpConnector`, `HttpChannel` or `HttpPaymentProvider` (or mix `HttpPlugin` into
your own base) and override the hooks where the provider differs: `error_message` (where
its message lives in an error body), `body_error` (errors inside a 200, as JSON-RPC and
QuickBooks' `Fault` have them), `auth_hint`, and the class attributes below.

OAuth connectors send `auth=self.context.auth` (an `httpx.Auth` the hub builds): it adds
the bearer token and, on a 401, refreshes the token once and repeats the request.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx

from hub.contracts.channel import Channel
from hub.contracts.connector import Connector
from hub.contracts.payment import PaymentProvider
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RateLimitedError,
    RelanceError,
    RetriableError,
)

T = TypeVar("T")
C = TypeVar("C", bound=Hashable)


def retry_after(response: httpx.Response, default: float) -> float:
    """The provider's `Retry-After` in seconds (a number or an HTTP date), else `default`."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class HttpPlugin:
    """The response → error mapping, once. Mix into a `Plugin` subclass (see the module)."""

    provider: ClassVar[str] = ""
    """The provider's name in messages ("Twilio"); default: the plugin's `name`."""
    auth_statuses: ClassVar[tuple[int, ...]] = (401,)
    """Statuses that mean the credentials are wrong (some providers answer 403 too)."""
    unprocessed_statuses: ClassVar[tuple[int, ...]] = ()
    """5xx statuses the provider documents as "nothing was done" (safe to retry a send)."""
    default_retry_after: ClassVar[float] = 60.0
    """Seconds to wait after a 429 that carries no `Retry-After`."""

    def provider_name(self) -> str:
        """The provider as messages name it."""
        return self.provider or getattr(self, "name", type(self).__name__)

    def error_message(self, response: httpx.Response) -> str:
        """The provider's own explanation in an error response (override for its format)."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:300].strip() or response.reason_phrase
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                body = error
            elif isinstance(error, str) and not body.get("message"):
                return str(body.get("error_description") or error)
            for key in ("message", "Message", "detail", "Detail", "error_description", "title"):
                if body.get(key):
                    return str(body[key])
        return response.text[:300].strip() or response.reason_phrase

    def body_error(self, response: httpx.Response) -> RelanceError | None:
        """An error the provider reports inside a successful (2xx) answer; None when there is
        none. Override for providers that do (JSON-RPC `error`, QuickBooks `Fault`)."""
        return None

    def auth_hint(self) -> str:
        """What a person should check when the provider refuses the credentials."""
        context = getattr(self, "context", None)
        where = f" of {context.name}" if context is not None else ""
        return f"check the credentials{where} in relance.yaml"

    def error_for(self, response: httpx.Response, where: str, *, sending: bool = False) -> RelanceError:
        """The error a failed `response` means. `sending`: the request may have made the
        provider act (a message sent), so a 5xx is uncertain unless the plugin is idempotent."""
        status = response.status_code
        text = f"{self.provider_name()} {status} on {where}: {self.error_message(response)}"
        if status in self.auth_statuses:
            return AuthError(f"{text} — {self.auth_hint()}")
        if status == 429:
            return RateLimitedError(text, retry_after=retry_after(response, self.default_retry_after))
        if status >= 500:
            if sending and status not in self.unprocessed_statuses and not getattr(
                    self, "idempotent", False):
                return DeliveryUncertainError(f"{text}; it may have been sent: check with "
                                              f"{self.provider_name()} before sending again")
            return RetriableError(text)
        return PermanentError(text)

    def checked(self, response: httpx.Response, where: str, *, sending: bool = False) -> httpx.Response:
        """`response` when it succeeded; else raise the error it means."""
        if response.status_code < 400:
            problem = self.body_error(response)
            if problem is None:
                return response
            raise problem
        raise self.error_for(response, where, sending=sending)

    async def request(self, method: str, url: str, *, where: str | None = None,
                      sending: bool = False, **kwargs: Any) -> httpx.Response:
        """`self.http.request(...)` with every failure mapped to a Relance error.

        `where` names the call in messages (default: method and path)."""
        where = where or f"{method} {httpx.URL(url).path}"
        try:
            response = await self.http.request(method, url, **kwargs)  # type: ignore[attr-defined]
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RetriableError(f"{self.provider_name()} unreachable on {where}: {exc}") from None
        except httpx.TransportError as exc:  # the request may have reached the provider
            if sending and not getattr(self, "idempotent", False):
                raise DeliveryUncertainError(f"{self.provider_name()} did not answer on {where} "
                                             f"({type(exc).__name__}); it may have been sent") from None
            raise RetriableError(f"{self.provider_name()} did not answer on {where}: "
                                 f"{type(exc).__name__}") from None
        return self.checked(response, where, sending=sending)

    async def probe(self, method: str, url: str, **kwargs: Any) -> list[str]:
        """For `check()`: one cheap authenticated call (`request`'s arguments); its failure
        as the problem a person reads in `relance doctor`."""
        return await self.problems_of(self.request(method, url, **kwargs))

    async def problems_of(self, call: Awaitable[Any]) -> list[str]:
        """For `check()`: await `call`; a Relance error becomes one problem saying whether
        the credentials were refused (with their fix) or the provider is not usable."""
        try:
            await call
        except RelanceError as exc:
            kind = "credentials refused" if isinstance(exc, AuthError) else "not usable"
            return [f"{self.provider_name()} {kind}: {exc}"]
        return []

    @staticmethod
    def json_body(response: httpx.Response) -> Any:
        """The JSON body with numbers as `Decimal` (money is never a float); {} when empty.

        A body that is not JSON is a `RetriableError` (a proxy's error page, a cut answer).
        A large body is parsed once: a provider whose errors hide in big 200 answers checks
        the parsed body itself rather than in `body_error` (see the Odoo connector)."""
        if not response.content:
            return {}
        try:
            return json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise RetriableError(f"{response.status_code} answer to {response.request.method} "
                                 f"{response.request.url.path} is not JSON") from None


    @staticmethod
    def json_object(response: httpx.Response) -> dict[str, Any]:
        """The body as a JSON object; {} when it is not one (an error page, an empty body)."""
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class HttpConnector(HttpPlugin, Connector):
    """A connector over HTTP: `request` maps errors; `pages` guards paging loops."""


class HttpChannel(HttpPlugin, Channel):
    """A channel over HTTP: call `request(..., sending=True)` for the request that sends."""


class HttpPaymentProvider(HttpPlugin, PaymentProvider):
    """A payment provider over HTTP (its requests carry idempotency keys: 5xx are retried)."""


async def pages(fetch: Callable[[C], Awaitable[tuple[T, C | None]]], start: C, *,
                where: str) -> AsyncIterator[T]:
    """Each page of a paged API: `fetch(cursor)` returns the page and the next cursor
    (None at the end). A cursor the provider already gave is refused with a
    `PermanentError` naming `where`: a loop that would never end becomes a clear error."""
    seen = {start}
    cursor = start
    while True:
        page, following = await fetch(cursor)
        yield page
        if following is None:
            return
        if following in seen:
            raise PermanentError(f"{where}: the provider returned the page cursor {following!r} "
                                 "again; paging would never end (a provider bug, or records "
                                 "that tie on the sort key)")
        seen.add(following)
        cursor = following
