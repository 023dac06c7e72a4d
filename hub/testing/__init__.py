"""Helpers for testing plugins against the hub's contract (the plugin author kit).

`make_context` builds the `PluginContext` the hub would inject, with an HTTP client
whose transport a test may replace (respx patches it transparently).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from hub.contracts import CompanyInfo, OAuthBearer, PluginContext, TokenProvider, TokenStore
from hub.workspace.http import make_client


class MemoryTokenStore(TokenStore):
    """A token store for tests: keeps the token in memory, records re-auth marks."""

    def __init__(self, token: Mapping[str, Any] | None = None):
        self.token = dict(token) if token else None
        self.saves: list[dict[str, Any]] = []
        self.reauth_reason: str | None = None

    def load(self) -> dict[str, Any] | None:
        return dict(self.token) if self.token else None

    def save(self, token: Mapping[str, Any]) -> None:
        self.token = dict(token)
        self.saves.append(dict(token))

    def mark_needs_reauth(self, reason: str) -> None:
        self.reauth_reason = reason


class StaticTokenProvider(TokenProvider):
    """Hands out a fixed access token (for connector tests that are not about OAuth)."""

    def __init__(self, token: str = "test-access-token", extras: Mapping[str, str] | None = None):
        self.token, self._extras, self.refreshes = token, dict(extras or {}), 0

    async def access_token(self) -> str:
        return self.token

    async def force_refresh(self) -> str:
        self.refreshes += 1
        return self.token

    def extras(self) -> Mapping[str, str]:
        return self._extras


def make_context(
    name: str = "test",
    workspace: Path | str = ".",
    *,
    company: CompanyInfo | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "",
    tokens: TokenStore | None = None,
    oauth: TokenProvider | None = None,
    public_url: str | None = None,
) -> PluginContext:
    """The context the hub injects into a plugin, built the same way the hub builds it."""
    return PluginContext(
        name=name,
        http=make_client(name, base_url=base_url, transport=transport),
        logger=logging.getLogger(f"relance.plugin.{name}"),
        workspace=Path(workspace),
        company=company or CompanyInfo(name="Acme SAS", country="FR", timezone="Europe/Paris",
                                       language="fr", locale="fr_FR", currency="EUR",
                                       email="compta@acme.example"),
        tokens=tokens,
        oauth=oauth,
        auth=OAuthBearer(oauth) if oauth is not None else None,
        public_url=public_url,
    )
