"""One Xero consent granting several organisations, shared by the firm's companies: the
token is kept once in the firm's store, so a refresh (Xero rotates the refresh token each
time) made for one company is the one every other uses; each company calls its own
organisation; a refused refresh shows on every company's connection."""

from __future__ import annotations

import asyncio
import time

import httpx
import respx
from sqlalchemy import select

from hub.store.db import session
from hub.store.models import Connection
from tests.firm.conftest import write_firm

XERO = """
company: {{name: {name}, country: GB, timezone: Europe/London, language: en}}
connections:
  books:
    plugin: xero
    consent: dupont-xero
    settings: {{client_id: cid, client_secret: secret, tenant_id: "{tenant}"}}
"""
TENANTS = {"acme": "11111111-1111-4111-8111-111111111111",
           "beta": "22222222-2222-4222-8222-222222222222"}


def firm_with_xero(tmp_path):
    root = write_firm(tmp_path / "firm", {"acme": "Acme Ltd", "beta": "Beta Ltd"})
    for slug, tenant in TENANTS.items():
        (root / "companies" / slug / "relance.yaml").write_text(
            XERO.format(name=slug.title(), tenant=tenant))
    return root


def test_companies_share_one_consent_and_its_rotations(tmp_path, open_company):
    root = firm_with_xero(tmp_path)
    acme, beta = open_company(root, "acme"), open_company(root, "beta")
    acme.token_store("books", "xero").save({  # the consent, granted once (about to expire)
        "access_token": "at-1", "refresh_token": "rt-1", "token_type": "Bearer",
        "expires_at": time.time() + 5})
    refreshes, calls = [], []

    def token(request: httpx.Request):
        refreshes.append(dict(x.split("=") for x in request.content.decode().split("&")))
        return httpx.Response(200, json={"access_token": "at-2", "refresh_token": "rt-2",
                                         "token_type": "Bearer", "expires_in": 1800})

    def api(request: httpx.Request):
        calls.append((request.headers["authorization"], request.headers["xero-tenant-id"]))
        return httpx.Response(200, json={"Organisations": [{"Name": "x", "BaseCurrency": "GBP"}]})

    async def organisation(ws):
        try:
            return await ws.connector("books").api.get_json("/Organisation")
        finally:
            await ws.aclose()

    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://identity.xero.com/connect/token").mock(side_effect=token)
        mock.get(url__regex=r"https://api\.xero\.com/api\.xro/2\.0/Organisation").mock(
            side_effect=api)
        asyncio.run(organisation(acme))
        asyncio.run(organisation(beta))
    assert [r["refresh_token"] for r in refreshes] == ["rt-1"]  # refreshed once, for both
    assert calls == [("Bearer at-2", TENANTS["acme"]), ("Bearer at-2", TENANTS["beta"])]
    with session(acme.engine) as s:  # no copy of the token in a company's store
        assert s.execute(select(Connection.token)).scalars().all() in ([], [None])


def test_a_refused_consent_shows_on_the_company_and_the_firm(tmp_path, open_company):
    root = firm_with_xero(tmp_path)
    acme = open_company(root, "acme")
    acme.token_store("books", "xero").mark_needs_reauth("refresh refused: invalid_grant")
    with session(acme.engine) as s:  # `relance status`, /readyz of the company say so
        state = s.execute(select(Connection.state).where(Connection.name == "books")).scalar_one()
    with session(acme.firm.users_engine()) as s:  # and the consent itself
        shared = s.execute(select(Connection.state).where(
            Connection.name == "consent:dupont-xero")).scalar_one()
    assert state == shared == "needs_reauth"


def test_a_consent_outside_a_firm_is_refused(make_ws):
    import pytest

    from hub.errors import ConfigError

    ws = make_ws(XERO.format(name="Solo", tenant=TENANTS["acme"]))
    with pytest.raises(ConfigError, match="a shared consent is a firm's"):
        ws.token_store("books", "xero")
