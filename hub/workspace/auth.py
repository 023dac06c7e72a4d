"""OAuth2 for connectors, done once by the hub (Authlib): connect, store, refresh, rotate.

Tokens live encrypted on the connection's row. A refresh that returns a new refresh token
(Intuit rotates it every time, Xero too) is committed *before* the new access token is
used, so a crash between the two cannot lose the connection. A refused refresh marks the
connection `needs_reauth` and raises `AuthError`; the other connections keep working.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749.errors import OAuth2Error
from sqlalchemy import select, update

from hub.contracts import OAuthSpec, TokenProvider, TokenStore, retry_after
from hub.errors import AuthError, ConfigError, RetriableError
from hub.store.db import session
from hub.store.models import Connection
from hub.workspace._authlib import AsyncOAuth2Client
from hub.workspace.secrets import SecretBox

TOKEN_KEYS = {"access_token", "refresh_token", "expires_at", "expires_in", "token_type", "scope",
              "id_token", "x_refresh_token_expires_in"}


class DbTokenStore(TokenStore):
    """The token of one connection, encrypted in `connection.token`."""

    def __init__(self, engine, connection: str, box: SecretBox, plugin: str = ""):
        self.engine, self.connection, self.box, self.plugin = engine, connection, box, plugin

    def _row(self, s) -> Connection:
        row = s.execute(select(Connection).where(Connection.name == self.connection)).scalar_one_or_none()
        if row is None:
            row = Connection(name=self.connection, plugin=self.plugin)
            s.add(row)
            s.flush()
        return row

    def load(self) -> dict[str, Any] | None:
        with session(self.engine) as s:
            row = self._row(s)
            return json.loads(self.box.decrypt(row.token)) if row.token else None

    def save(self, token: Mapping[str, Any]) -> None:
        ciphertext = self.box.encrypt(json.dumps(dict(token)))
        with session(self.engine, immediate=True) as s:  # committed on return
            row = self._row(s)
            s.execute(update(Connection).where(Connection.id == row.id).values(
                token=ciphertext, state="ok", state_detail=None))

    def mark_needs_reauth(self, reason: str) -> None:
        with session(self.engine, immediate=True) as s:
            row = self._row(s)
            s.execute(update(Connection).where(Connection.id == row.id).values(
                state="needs_reauth", state_detail=reason[:500]))


def _credentials(settings: Any) -> tuple[str, str]:
    cid, secret = getattr(settings, "client_id", None), getattr(settings, "client_secret", None)
    if not cid or secret is None:
        raise ConfigError("an OAuth2 connector needs `client_id` and `client_secret` settings")
    return cid, secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)



class SharedConsentStore(DbTokenStore):
    """A firm's OAuth consent used by several companies' connections: the token (and its
    rotations: Xero and Intuit replace the refresh token at each refresh) is kept once, in
    the firm's store, so no company refreshes a copy the other already spent. Its state
    shows on the company's own connection too (status, /readyz)."""

    def __init__(self, firm_engine, consent: str, firm_box: SecretBox, plugin: str,
                 company_engine, connection: str):
        super().__init__(firm_engine, f"consent:{consent}", firm_box, plugin=plugin)
        self.company = DbTokenStore(company_engine, connection, firm_box, plugin=plugin)

    def _company_state(self, state: str, detail: str | None) -> None:
        with session(self.company.engine, immediate=True) as s:
            row = self.company._row(s)
            s.execute(update(Connection).where(Connection.id == row.id).values(
                state=state, state_detail=detail))

    def save(self, token: Mapping[str, Any]) -> None:
        super().save(token)
        self._company_state("ok", None)

    def mark_needs_reauth(self, reason: str) -> None:
        super().mark_needs_reauth(reason)
        self._company_state("needs_reauth", f"the firm's consent: {reason}"[:500])

class OAuth2TokenProvider(TokenProvider):
    def __init__(self, spec: OAuthSpec, settings: Any, store: TokenStore, *,
                 transport: httpx.AsyncBaseTransport | None = None, leeway: int = 60):
        self.spec, self.settings, self.store, self.transport = spec, settings, store, transport
        self.leeway = leeway
        self._lock = asyncio.Lock()
        self._token: dict[str, Any] | None = None

    def _client(self) -> AsyncOAuth2Client:
        cid, secret = _credentials(self.settings)
        kwargs = {"transport": self.transport} if self.transport else {}
        return AsyncOAuth2Client(client_id=cid, client_secret=secret,
                                 scope=" ".join(self.spec.scopes), **kwargs)

    def _current(self) -> dict[str, Any]:
        if self._token is None:
            self._token = self.store.load()
        if not self._token:
            raise AuthError("not connected yet: run `relance connect <connection>`")
        return self._token

    def extras(self) -> Mapping[str, str]:
        token = self._current()
        return {k: str(v) for k, v in token.items() if k not in TOKEN_KEYS}

    def _fresh(self, token: Mapping[str, Any]) -> bool:
        return float(token.get("expires_at", 0)) - self.leeway > time.time()

    async def access_token(self) -> str:
        token = self._current() if self.spec.grant != "client_credentials" or self._token \
            else (self.store.load() or {})
        if token and self._fresh(token):
            return token["access_token"]
        return await self._renew(token)

    async def force_refresh(self) -> str:
        return await self._renew(self._current(), force=True)

    async def _renew(self, seen: Mapping[str, Any], force: bool = False) -> str:
        async with self._lock:
            current = self._token or {}
            if current and current is not seen and self._fresh(current) and not force:
                return current["access_token"]  # another caller refreshed meanwhile
            extras = {k: v for k, v in (seen or {}).items() if k not in TOKEN_KEYS}
            async with self._client() as client:
                try:
                    if self.spec.grant == "client_credentials":
                        new = await client.fetch_token(self.spec.token_url, grant_type="client_credentials")
                    else:
                        if not seen.get("refresh_token"):
                            raise AuthError("no refresh token: run `relance connect` again")
                        new = await client.refresh_token(self.spec.token_url,
                                                         refresh_token=seen["refresh_token"])
                except (OAuth2Error, OAuthError) as exc:
                    reason = f"the provider refused the token refresh ({exc.error}): run `relance connect`"
                    self.store.mark_needs_reauth(reason)
                    raise AuthError(reason) from None
                except httpx.TransportError as exc:
                    raise RetriableError(f"token endpoint unreachable: {exc}") from None
                except httpx.HTTPStatusError as exc:  # an answer that is not OAuth's
                    status = exc.response.status_code
                    text = f"token endpoint answered {status}"
                    if status >= 500 or status == 429:  # an outage: the grant is still good
                        raise RetriableError(f"{text}; tried again later",
                                             retry_after=retry_after(exc.response, 60)) from None
                    reason = f"{text} to the token refresh: run `relance connect`"
                    self.store.mark_needs_reauth(reason)
                    raise AuthError(reason) from None
            token = {**extras, **dict(new)}
            if "refresh_token" not in token and seen.get("refresh_token"):
                token["refresh_token"] = seen["refresh_token"]
            self.store.save(token)  # committed before the new access token is used
            self._token = token
            return token["access_token"]


def _code_client(spec: OAuthSpec, settings: Any, redirect: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> AsyncOAuth2Client:
    cid, secret = _credentials(settings)
    kwargs = {"transport": transport} if transport else {}
    return AsyncOAuth2Client(client_id=cid, client_secret=secret, scope=" ".join(spec.scopes),
                             redirect_uri=redirect,
                             code_challenge_method="S256" if spec.pkce else None, **kwargs)


def begin_authorization(spec: OAuthSpec, settings: Any, redirect: str) -> tuple[str, str, str | None]:
    """The consent URL, its `state` and the PKCE verifier (the CLI and the dashboard's
    re-authorise button start the same way)."""
    verifier = secrets.token_urlsafe(64) if spec.pkce else None
    url, state = _code_client(spec, settings, redirect).create_authorization_url(
        spec.authorize_url, code_verifier=verifier, **dict(spec.extra_authorize_params))
    return url, state, verifier


async def finish_authorization(spec: OAuthSpec, settings: Any, redirect: str,
                               received: dict[str, str], state: str, verifier: str | None,
                               transport: httpx.AsyncBaseTransport | None = None
                               ) -> dict[str, Any]:
    """The token for the callback's query (`received`), once its state is the one sent."""
    if not state or received.get("state") != state:
        raise AuthError("the authorisation callback did not come back (or its state did not match)")
    if "error" in received:
        raise AuthError(f"the provider refused: {received['error']}")
    if "code" not in received:
        raise AuthError("the authorisation callback carries no code")
    async with _code_client(spec, settings, redirect, transport) as client:
        token = dict(await client.fetch_token(spec.token_url, code=received["code"],
                                              code_verifier=verifier, redirect_uri=redirect))
    for name in spec.callback_params:
        if name in received:
            token[name] = received[name]
    return token


def authorize_interactively(spec: OAuthSpec, settings: Any, *, redirect_port: int = 8765,
                            open_browser: bool = True, echo: Callable[[str], None] = print,
                            transport: httpx.AsyncBaseTransport | None = None,
                            timeout: float = 300) -> dict[str, Any]:
    """Authorization code (+ PKCE) with a one-shot callback server on loopback."""
    redirect = f"http://127.0.0.1:{redirect_port}/callback"
    url, state, verifier = begin_authorization(spec, settings, redirect)
    received: dict[str, list[str]] = {}

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self):
            received.update(parse_qs(urlparse(self.path).query))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"<p>Relance is connected. You can close this tab.</p>")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", redirect_port), Callback)
    server.timeout = timeout
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    echo(f"Open this address to authorise Relance:\n{url}")
    if open_browser:
        webbrowser.open(url)
    thread.join(timeout)
    server.server_close()
    flat = {k: v[0] for k, v in received.items()}
    return asyncio.run(finish_authorization(spec, settings, redirect, flat, state, verifier,
                                            transport))
