"""The admin's pages: re-authorising an OAuth connection (the flow of `relance connect`,
called back by this server), a template's test message over real SMTP, and the dashboard
behind a reverse proxy's path prefix."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
import respx
from sqlalchemy import select

from hub.store.db import session
from hub.store.models import Connection
from hub.web.users import add_user
from hub.workspace.auth import DbTokenStore
from tests.plugins.test_xero_connect import TENANTS
from tests.web.conftest import PASSWORD, client, signed_in, token

XERO = """
company: {name: Acme, country: GB, timezone: Europe/London}
connections:
  xero: {plugin: xero, settings: {client_id: cid, client_secret: "${XERO_SECRET}"}}
"""


def test_re_authorise_runs_the_consent_with_this_server_as_the_callback(make_ws, monkeypatch):
    monkeypatch.setenv("XERO_SECRET", "s3cret")
    ws = make_ws(XERO, plugins=())
    with session(ws.engine, immediate=True) as s:
        add_user(s, "adam", PASSWORD, "admin")
        s.add(Connection(name="xero", plugin="xero", state="needs_reauth",
                         state_detail="refresh token expired"))
    c, csrf = signed_in(ws, "adam")
    assert "refresh token expired" in c.get("/connections").text
    r = c.post("/connections/xero/authorise", data={"csrf_token": csrf})
    consent = urlparse(r.headers["location"])
    query = parse_qs(consent.query)
    assert consent.netloc == "login.xero.com" or consent.netloc.endswith("xero.com")
    assert query["redirect_uri"] == ["http://testserver/connections/xero/callback"]
    assert query["code_challenge_method"] == ["S256"]
    # a callback with another state is refused, and stores nothing
    wrong = c.get("/connections/xero/callback", params={"code": "X", "state": "forged"})
    assert "did not match" in c.get(wrong.headers["location"]).text
    r = c.post("/connections/xero/authorise", data={"csrf_token": csrf})
    state = parse_qs(urlparse(r.headers["location"]).query)["state"][0]
    with respx.mock(assert_all_mocked=False) as mock:
        exchange = mock.post("https://identity.xero.com/connect/token").mock(
            return_value=httpx.Response(200, json={
                "access_token": "ACCESS", "refresh_token": "REFRESH", "expires_in": 1800,
                "token_type": "Bearer"}))
        mock.get("https://api.xero.com/Connections").mock(
            return_value=httpx.Response(200, json=TENANTS[1:2]))
        done = c.get("/connections/xero/callback", params={"code": "C0DE", "state": state})
    form = parse_qs(exchange.calls.last.request.content.decode())
    assert form["code"] == ["C0DE"] and form["code_verifier"]
    assert form["redirect_uri"] == ["http://testserver/connections/xero/callback"]
    assert "connection xero authorised" in c.get(done.headers["location"]).text
    saved = DbTokenStore(ws.engine, "xero", ws.box, plugin="xero").load()
    assert saved["refresh_token"] == "REFRESH" and saved["tenant_id"] == TENANTS[1]["tenantId"]
    with session(ws.engine) as s:
        assert s.execute(select(Connection.state)).scalar_one() == "ok"
    assert "REFRESH" not in c.get("/connections").text and "s3cret" not in c.get(
        "/connections").text


def test_a_template_test_goes_to_the_address_given_over_smtp(ws, tmp_path):
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    from hub.demo.smtp import free_port

    got = []

    class Handler:
        async def handle_DATA(self, server, session_, envelope):
            got.append((envelope.rcpt_tos, email.message_from_bytes(
                envelope.content, policy=email.policy.default)))
            return "250 OK"
    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        cfg = (tmp_path / "relance.yaml").read_text().replace(
            "channels:\n", "channels:\n  mail: {plugin: email, settings: {host: 127.0.0.1, "
            f"port: {port}, security: none, from_address: ar@acme.example}}}}\n")
        (tmp_path / "relance.yaml").write_text(cfg)
        from hub.workspace import Workspace

        ws2 = Workspace.open(tmp_path)
        c, csrf = signed_in(ws2, "adam")
        page = c.get("/templates", params={"template": "first_reminder", "customer": "C2"}).text
        assert "Dear Customer C2" in page
        cid = page.split('name="customer_id" value="')[1].split('"')[0]
        r = c.post("/templates/test", data={"csrf_token": csrf, "template": "first_reminder",
                                            "customer_id": cid, "to": "me@acme.example"})
        assert "sent to me@acme.example" in c.get(r.headers["location"]).text
        viewer, vcsrf = signed_in(ws2, "alice")
        assert viewer.post("/templates/test", data={"csrf_token": vcsrf, "to": "x@y.z",
                                                    "customer_id": cid}).status_code == 403
    finally:
        ctl.stop()
    [(rcpts, msg)] = got
    assert rcpts == ["me@acme.example"] and msg["Subject"].startswith("[TEST] ")
    assert "Dear Customer C2" in msg.get_body(("plain",)).get_content()


def test_behind_a_proxy_prefix_every_link_and_redirect_keeps_it(ws):
    c = client(ws, root_path="/relance")
    r = c.get("/relance/today")
    assert r.headers["location"] == "/relance/login?next=/today"
    login = c.get("/relance/login")
    assert 'href="/relance/static/relance.css"' in login.text
    assert "path=/" in login.headers["set-cookie"]
    r = c.post("/relance/login?next=/customers", data={
        "username": "vera", "password": PASSWORD, "csrf_token": token(login.text)})
    assert r.headers["location"] == "/relance/customers"
    page = c.get("/relance/customers").text
    assert 'href="/relance/today"' in page and c.get("/relance/static/relance.js"
                                                     ).status_code == 200
