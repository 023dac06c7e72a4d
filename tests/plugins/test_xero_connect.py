"""`relance connect xero` as an admin runs it: consent in the browser, the loopback
callback, the code exchanged, the organisation picked, the tokens stored encrypted."""

from __future__ import annotations

import sqlite3
import threading
import time
import webbrowser
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from typer.testing import CliRunner

from hub.cli import app
from hub.demo.smtp import free_port
from hub.workspace import Workspace
from hub.workspace.auth import DbTokenStore
from tests.specs import Spec

IDENTITY = Spec("xero/xero-identity.yaml")
CONFIG = """
company: {name: Acme, country: GB, timezone: Europe/London}
connections:
  xero: {plugin: xero, settings: {client_id: cid, client_secret: "${XERO_SECRET}"}}
"""
TENANTS = [  # shaped like the identity API's documented example
    {"id": "7cb59f93-2964-421d-bb5e-a0f7a4572a44", "tenantId": "fe79f7dd-b6d4-4a92-ba7b-538af6289c58",
     "tenantName": "Demo Company (NZ)", "tenantType": "ORGANISATION"},
    {"id": "8cb59f93-2964-421d-bb5e-a0f7a4572a45", "tenantId": "0a79f7dd-b6d4-4a92-ba7b-538af6289c59",
     "tenantName": "Acme Ltd (UK)", "tenantType": "ORGANISATION"},
    {"id": "9cb59f93-2964-421d-bb5e-a0f7a4572a46", "tenantId": "1b79f7dd-b6d4-4a92-ba7b-538af6289c50",
     "tenantName": "Practice", "tenantType": "PRACTICE"},
]


@pytest.mark.sqlite_only("it reads the stored token from the SQLite file")
def test_connect_xero_from_consent_to_stored_encrypted_tokens(tmp_path, monkeypatch):
    (tmp_path / "relance.yaml").write_text(CONFIG)
    monkeypatch.setenv("XERO_SECRET", "s3cret")
    port, opened = free_port(), []

    def browser(url: str, *a, **kw) -> bool:  # the admin consents; Xero redirects back
        opened.append(url)
        state = parse_qs(urlparse(url).query)["state"][0]

        def redirect():
            time.sleep(0.3)
            httpx.get(f"http://127.0.0.1:{port}/callback", params={"code": "C0DE", "state": state})
        threading.Thread(target=redirect, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with respx.mock(assert_all_mocked=False) as r:
        r.route(host="127.0.0.1").pass_through()
        token = r.post("https://identity.xero.com/connect/token").mock(return_value=httpx.Response(
            200, json={"access_token": "ACCESS-ONE", "refresh_token": "REFRESH-ONE",
                       "expires_in": 1800, "token_type": "Bearer"}))
        connections = r.get("https://api.xero.com/Connections").mock(
            return_value=httpx.Response(200, json=TENANTS))
        result = CliRunner().invoke(app, ["connect", "xero", "-w", str(tmp_path), "--port", str(port)],
                                    input="2\n", catch_exceptions=False)

    assert result.exit_code == 0, result.output
    # the consent asked for offline access with PKCE, and the exchange proved it
    query = parse_qs(urlparse(opened[0]).query)
    assert query["code_challenge_method"] == ["S256"] and "offline_access" in query["scope"][0]
    form = parse_qs(token.calls.last.request.content.decode())
    assert form["code"] == ["C0DE"] and form["code_verifier"]
    IDENTITY.check(connections.calls.last.request)
    assert connections.calls.last.request.headers["Authorization"] == "Bearer ACCESS-ONE"
    # organisations listed (a practice is not one), the second one chosen
    assert "1. Demo Company (NZ)" in result.output and "Practice" not in result.output
    assert "organisation: Acme Ltd (UK)" in result.output and "relance sync xero" in result.output

    ws = Workspace.open(tmp_path)
    saved = DbTokenStore(ws.engine, "xero", ws.box, plugin="xero").load()
    assert saved["tenant_id"] == TENANTS[1]["tenantId"] and saved["refresh_token"] == "REFRESH-ONE"
    raw = sqlite3.connect(ws.engine.url.database).execute("SELECT * FROM connection").fetchall()
    assert "REFRESH-ONE" not in repr(raw) and "ACCESS-ONE" not in repr(raw)  # encrypted at rest


def test_connect_refuses_an_unknown_organisation(tmp_path, monkeypatch):
    (tmp_path / "relance.yaml").write_text(CONFIG)
    monkeypatch.setenv("XERO_SECRET", "s3cret")
    port = free_port()

    def browser(url: str, *a, **kw) -> bool:
        state = parse_qs(urlparse(url).query)["state"][0]
        threading.Thread(target=lambda: (time.sleep(0.3), httpx.get(
            f"http://127.0.0.1:{port}/callback", params={"code": "C", "state": state})),
            daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    with respx.mock(assert_all_mocked=False) as r:
        r.route(host="127.0.0.1").pass_through()
        r.post("https://identity.xero.com/connect/token").mock(return_value=httpx.Response(
            200, json={"access_token": "A", "refresh_token": "R", "expires_in": 1800,
                       "token_type": "Bearer"}))
        r.get("https://api.xero.com/Connections").mock(return_value=httpx.Response(200, json=TENANTS))
        result = CliRunner().invoke(app, ["connect", "xero", "-w", str(tmp_path), "--port", str(port),
                                          "--tenant", "not-a-tenant"])
    assert result.exit_code != 0
    assert "not-a-tenant" in result.output and TENANTS[0]["tenantId"] in result.output
