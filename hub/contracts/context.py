"""What the hub hands every plugin instance: its HTTP client, logger, company, OAuth tokens."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import ConfigDict, Field

from hub.contracts.budget import ApiBudget, Budgets
from hub.contracts.records import Address, Record


class TokenStore(ABC):
    """Encrypted per-connection token storage owned by the hub."""

    @abstractmethod
    def load(self) -> dict[str, Any] | None:
        """The stored token (decrypted), or None before the first `relance connect`."""

    @abstractmethod
    def save(self, token: Mapping[str, Any]) -> None:
        """Persist atomically (commit) before the caller uses the new token."""

    @abstractmethod
    def mark_needs_reauth(self, reason: str) -> None:
        """Record that a person must run `relance connect` again, and why."""


class TokenProvider(ABC):
    """Valid OAuth2 access tokens for one connection (implemented by `hub.workspace.auth`).

    Refreshes before expiry; a rotated refresh token is saved (committed) before the
    new access token is returned; a refused refresh marks the connection `needs_reauth`
    and raises `AuthError`. `extras` are values kept with the token (Intuit's realmId,
    the chosen Xero tenant id).
    """

    @abstractmethod
    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""

    @abstractmethod
    async def force_refresh(self) -> str:
        """Call after the provider answered 401 to a token we believed valid."""

    @abstractmethod
    def extras(self) -> Mapping[str, str]:
        """Values kept with the token: Intuit's `realmId`, the chosen Xero `tenant_id`."""


class OAuthBearer(httpx.Auth):
    """`Authorization: Bearer …` from a `TokenProvider`; on a 401 the token is refreshed
    once and the request repeated. The hub builds one per OAuth connection
    (`PluginContext.auth`), so no connector writes its own refresh loop."""

    def __init__(self, tokens: TokenProvider):
        self.tokens = tokens

    def sync_auth_flow(self, request: httpx.Request):
        raise RuntimeError("OAuthBearer works with the hub's httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = f"Bearer {await self.tokens.access_token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.tokens.force_refresh()}"
            yield request


class PluginContext(Record):
    """What the hub gives every plugin instance."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(description="the connection or channel name from relance.yaml")
    http: httpx.AsyncClient
    logger: logging.Logger
    workspace: Path
    company: CompanyInfo
    tokens: TokenStore | None = None
    oauth: TokenProvider | None = None
    auth: httpx.Auth | None = Field(None, description="bearer auth with refresh-on-401, for "
                                                      "OAuth connections (pass as `auth=`)")
    public_url: str | None = Field(None, description="base URL for webhooks/callbacks")
    budget: ApiBudget = Field(default_factory=lambda: Budgets.local(),
                              description="call budgets shared across processes: pace "
                                          "calls with `await context.budget.take(key, rate)`")


class CompanyInfo(Record):
    """The company settings plugins may need (defaults for language, region, currency)."""

    name: str
    country: str = "GB"
    timezone: str = "UTC"
    language: str = "en"
    locale: str = "en_GB"
    currency: str = "EUR"
    email: str | None = None
    phone: str | None = None
    address: Address = Address()
    signatory: str | None = None


class OAuthSpec(Record):
    """How `relance connect` obtains a token for an OAuth2 connector (run by the hub).

    The connector's Settings must have `client_id: str` and `client_secret: SecretStr`.
    `grant="client_credentials"` needs no browser (Xero Custom Connections).
    """

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    grant: Literal["authorization_code", "client_credentials"] = "authorization_code"
    pkce: bool = True
    extra_authorize_params: Mapping[str, str] = Field(default_factory=dict)
    callback_params: tuple[str, ...] = Field(
        (), description="query parameters of the callback to keep with the token (realmId)"
    )


PluginContext.model_rebuild()
