"""OAuth2 tokens: encrypted at rest, refreshed before expiry, rotation saved before use,
refused refresh → needs_reauth; the loopback authorisation flow."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select

from hub.contracts import OAuthSpec, PluginSettings
from hub.demo.smtp import free_port
from hub.errors import AuthError
from hub.store.db import make_engine, migrate, session
from hub.store.models import Connection
from hub.workspace.auth import DbTokenStore, OAuth2TokenProvider, authorize_interactively
from hub.workspace.secrets import SecretBox

TOKEN_URL = "https://identity.example/connect/token"
SPEC = OAuthSpec(authorize_url="https://login.example/authorize", token_url=TOKEN_URL,
                 scopes=("accounting.invoices", "offline_access"), callback_params=("realmId",))


class Settings(PluginSettings):
    client_id: str = "cid"
    client_secret: SecretStr = SecretStr("csecret")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("RELANCE_SECRET_KEY", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    box = SecretBox.for_workspace(tmp_path)
    yield DbTokenStore(engine, "books", box, plugin="xero")
    engine.dispose()


def test_tokens_are_encrypted_at_rest_with_a_private_key_file(store, tmp_path):
    store.save({"access_token": "A1", "refresh_token": "R-secret-1", "expires_at": time.time() + 600})
    with session(store.engine) as s:
        raw = s.execute(select(Connection.token)).scalar_one()
    assert "R-secret-1" not in raw and store.load()["refresh_token"] == "R-secret-1"
    key = tmp_path / ".relance" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_valid_token_is_used_without_refresh(store):
    store.save({"access_token": "A1", "refresh_token": "R1", "expires_at": time.time() + 600,
                "tenant_id": "T1"})
    with respx.mock:
        provider = OAuth2TokenProvider(SPEC, Settings(), store)
        assert asyncio.run(provider.access_token()) == "A1"
        assert provider.extras() == {"tenant_id": "T1"}


def test_rotated_refresh_token_is_saved_before_the_new_access_token_is_used(store):
    store.save({"access_token": "A1", "refresh_token": "R1", "expires_at": time.time() + 10,
                "realmId": "123"})
    order = []
    original = store.save
    store.save = lambda token: (order.append(("saved", token["refresh_token"])), original(token))[1]

    with respx.mock:
        route = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={
            "access_token": "A2", "refresh_token": "R2", "expires_in": 3600, "token_type": "bearer"}))
        provider = OAuth2TokenProvider(SPEC, Settings(), store)

        async def many():
            tokens = await asyncio.gather(*(provider.access_token() for _ in range(5)))
            order.append(("used", tokens[0]))
            return tokens

        tokens = asyncio.run(many())
    assert tokens == ["A2"] * 5 and route.call_count == 1  # concurrent callers: one refresh
    assert order == [("saved", "R2"), ("used", "A2")]
    body = parse_qs(route.calls.last.request.content.decode())
    assert body["grant_type"] == ["refresh_token"] and body["refresh_token"] == ["R1"]
    assert store.load()["realmId"] == "123"  # extras survive a refresh


def test_revoked_refresh_token_marks_needs_reauth(store):
    store.save({"access_token": "A1", "refresh_token": "R1", "expires_at": 0})
    with respx.mock:
        respx.post(TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
        with pytest.raises(AuthError, match="relance connect"):
            asyncio.run(OAuth2TokenProvider(SPEC, Settings(), store).access_token())
    with session(store.engine) as s:
        conn = s.execute(select(Connection)).scalar_one()
    assert conn.state == "needs_reauth" and "invalid_grant" in conn.state_detail


def test_client_credentials_grant(store):
    spec = SPEC.model_copy(update={"grant": "client_credentials"})
    with respx.mock:
        route = respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={
            "access_token": "CC1", "expires_in": 1800, "token_type": "Bearer"}))
        assert asyncio.run(OAuth2TokenProvider(spec, Settings(), store).access_token()) == "CC1"
    assert parse_qs(route.calls.last.request.content.decode())["grant_type"] == ["client_credentials"]


def test_interactive_flow_with_a_real_loopback_callback():
    port = free_port()
    seen = {}

    def echo(text: str) -> None:
        url = text.splitlines()[-1]
        seen["url"] = url
        query = parse_qs(urlparse(url).query)

        def browser():
            time.sleep(0.3)  # the user consents; the provider redirects to the loopback
            httpx.get(f"http://127.0.0.1:{port}/callback",
                      params={"code": "C0DE", "state": query["state"][0], "realmId": "9130"})
        threading.Thread(target=browser, daemon=True).start()

    with respx.mock(assert_all_mocked=False) as r:
        r.route(host="127.0.0.1").pass_through()
        token_route = r.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={
            "access_token": "A1", "refresh_token": "R1", "expires_in": 3600, "token_type": "bearer"}))
        token = authorize_interactively(SPEC, Settings(), redirect_port=port, open_browser=False,
                                        echo=echo, timeout=20)
    query = parse_qs(urlparse(seen["url"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["cid"]
    assert "offline_access" in query["scope"][0]
    form = parse_qs(token_route.calls.last.request.content.decode())
    assert form["code"] == ["C0DE"] and "code_verifier" in form
    assert token["refresh_token"] == "R1" and token["realmId"] == "9130"
    assert json.dumps(token)


def test_the_oauth_client_imports_without_a_warning_on_stderr():
    """`relance connect` output stays clean whatever Authlib thinks of httpx."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import hub.workspace.auth"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize("status,body", [(503, "<html>Service Unavailable</html>"),
                                         (502, ""), (429, "slow down")])
def test_a_token_endpoint_outage_is_retriable_and_keeps_the_connection(store, status, body):
    from hub.errors import RetriableError

    store.save({"access_token": "A1", "refresh_token": "R1", "expires_at": 0})
    with respx.mock:
        respx.post(TOKEN_URL).mock(return_value=httpx.Response(status, text=body))
        with pytest.raises(RetriableError, match=f"token endpoint answered {status}"):
            asyncio.run(OAuth2TokenProvider(SPEC, Settings(), store).access_token())
    with session(store.engine) as s:
        assert s.execute(select(Connection.state)).scalar_one() == "ok"
    assert store.load()["refresh_token"] == "R1"  # kept for the next try
