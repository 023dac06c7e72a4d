"""A firm's `relance serve`: one sign-in, each user sees only the companies they were given,
each company's pages show only its own store, and a webhook reaches only the company its
URL names, verified with that company's own secret."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from hub.plan.planner import plan
from hub.serve import app as service
from hub.serve.scheduler import Runtime
from hub.store.db import session
from hub.sync.engine import sync_all
from hub.web.users import add_user
from hub.workspace.firm import Firm
from tests.firm.conftest import write_firm
from tests.firm.test_isolation import ledgers
from tests.serve.fake_ledger import sign

PASSWORD = "correct horse battery"


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def firm_app(tmp_path, open_company):
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"})
    ledgers()
    spaces = {slug: open_company(root, slug) for slug in ("acme", "beta")}
    for ws in spaces.values():
        asyncio.run(sync_all(ws))
        plan(ws)
    firm = Firm.at(root)
    with session(firm.users_engine(), immediate=True) as s:
        add_user(s, "vera", PASSWORD, "approver", ["acme"])
        add_user(s, "alice", PASSWORD, "approver")
        add_user(s, "bob", PASSWORD, "viewer", ["beta"])
    app = service.create_service({slug: Runtime(ws) for slug, ws in spaces.items()},
                                 firm=firm, clock=False)
    return app, spaces


def sign_in(app, name: str, at: str = "acme") -> TestClient:
    """Signed in at a company's page (`at`), or the firm's (`at=""`)."""
    c = TestClient(app, follow_redirects=False)
    mount = f"/c/{at}" if at else ""
    page = c.get(f"{mount}/login")
    r = c.post(f"{mount}/login", data={"username": name, "password": PASSWORD,
                                       "csrf_token": token(page.text)})
    assert r.status_code == 303, r.text
    return c


def test_each_user_sees_only_their_companies(firm_app):
    app, _ = firm_app
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/").headers["location"] == "/login?next=/"
    assert anonymous.get("/c/beta/customers").status_code == 303  # to the sign-in
    vera = sign_in(app, "vera")
    page = vera.get("/c/acme/customers")
    assert page.status_code == 200
    assert "Acme&#39;s customer" in page.text and "Beta" not in page.text
    assert vera.get("/c/beta/customers").status_code == 403
    assert vera.get("/c/beta/today").status_code == 403
    assert vera.get("/").headers["location"] == "/c/acme/"  # her one company
    csrf = token(vera.get("/c/acme/today").text)
    refused = vera.post("/c/beta/dispatches/1/approve", data={"csrf_token": csrf})
    assert refused.status_code == 403  # an action on another company: refused too
    alice = sign_in(app, "alice", at="beta")  # one sign-in, every company she may see
    index = alice.get("/")
    assert index.status_code == 200 and "Acme SAS" in index.text and "Beta GmbH" in index.text
    beta = alice.get("/c/beta/customers")
    assert "Beta&#39;s customer" in beta.text and "Acme&#39;s" not in beta.text
    assert alice.get("/c/acme/customers").status_code == 200


def test_the_firm_signs_in_and_out_once_and_counts_attempts_once(firm_app):
    app, _ = firm_app
    bob = sign_in(app, "bob", at="")  # the firm's own sign-in page
    assert bob.get("/").headers["location"] == "/c/beta/"  # his one company, not the first
    assert bob.get("/c/beta/customers").status_code == 200
    assert bob.get("/c/acme/customers").status_code == 403
    out = bob.post("/logout", data={"csrf_token": token(bob.get("/c/beta/today").text)})
    assert out.status_code == 303 and bob.get("/c/beta/customers").status_code == 303
    mallory = TestClient(app, follow_redirects=False)
    codes = []
    for mount in ("", "/c/acme", "/c/beta", "", "/c/acme", "/c/beta"):  # 5 a minute, firm-wide
        page = mallory.get(f"{mount}/login")
        codes.append(mallory.post(f"{mount}/login", data={
            "username": "alice", "password": "guess", "csrf_token": token(page.text)}).status_code)
    assert codes == [401, 401, 401, 401, 401, 429]


def test_a_webhook_reaches_only_the_company_its_url_names(tmp_path, open_company, monkeypatch):
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"})
    for slug in ("acme", "beta"):  # each company's ledger signs with its own secret
        cfg = root / "companies" / slug / "relance.yaml"
        cfg.write_text(cfg.read_text().replace(
            "{plugin: memory, settings: {ledger: " + slug + "}}",
            "{plugin: http_ledger, settings: {base_url: 'http://127.0.0.1:9', webhook_secret: "
            f"{slug}-secret}}}}"))
    from tests import memory_plugins
    from tests.serve import fake_ledger

    spaces = {slug: open_company(root, slug, plugins=(memory_plugins.Plugin(), fake_ledger))
              for slug in ("acme", "beta")}
    reached = []

    async def record(rt, kind, name, events):
        reached.append((rt.ws.slug, kind, name, [e.external_ids for e in events]))
    monkeypatch.setattr(service, "_process", record)
    app = service.create_service({s: Runtime(ws) for s, ws in spaces.items()},
                                 firm=Firm.at(root), clock=False)
    c = TestClient(app)
    body = b'{"invoices": ["1"]}'
    acme_signed = {"x-ledger-signature": sign("acme-secret", body)}
    assert c.post("/webhooks/beta/http_ledger/ledger", content=body,
                  headers=acme_signed).status_code == 401  # acme's secret opens not beta's
    assert c.post("/webhooks/gamma/http_ledger/ledger", content=body,
                  headers=acme_signed).status_code == 404
    assert c.post("/webhooks/acme/http_ledger/ledger", content=body,
                  headers=acme_signed).status_code == 200
    beta_signed = {"x-ledger-signature": sign("beta-secret", body)}
    assert c.post("/webhooks/beta/http_ledger/ledger", content=body,
                  headers=beta_signed).status_code == 200
    assert reached == [("acme", "connector", "ledger", [("1",)]),
                       ("beta", "connector", "ledger", [("1",)])]


def test_metrics_and_readiness_name_each_company(firm_app):
    app, spaces = firm_app
    with session(spaces["beta"].engine) as s:
        s.execute(update(service.Connection).values(state="needs_reauth"))
    c = TestClient(app)
    ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["problems"] == [
        "beta: connection ledger needs re-authorisation: relance connect ledger"]
    metrics = c.get("/metrics").text
    assert 'relance_dispatches{company="acme",state="approved"} 1.0' in metrics
    assert 'relance_dispatches{company="beta",state="approved"} 1.0' in metrics
