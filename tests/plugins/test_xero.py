"""Xero against its documented wire format (requests checked with the OpenAPI spec)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal

import httpx
import pytest
import respx

from hub.contracts import CustomerRecord, InvoiceRecord, LedgerNote, WebhookRequest
from hub.errors import AuthError, PermanentError, RateLimitedError, SignatureError
from hub.testing import StaticTokenProvider, make_context
from hub.testing.conformance import ConnectorConformance
from plugins.xero import XeroConnector, XeroSettings
from plugins.xero.api import xero_date
from tests.fakes.xero_server import FakeXero
from tests.specs import Spec

SPEC = Spec("xero/xero_accounting.yaml")
IDENTITY = Spec("xero/xero-identity.yaml")


@pytest.fixture
def fake():
    return FakeXero(invoices=2300, contacts=1200, credit_notes=2)


@pytest.fixture
def router(fake):
    def respond(request: httpx.Request):
        if request.url.path != "/Connections":
            SPEC.check_if_present(request)  # every request the connector makes is one Xero defines
        body = json.loads(request.content) if request.content else None
        status, out, headers = fake.handle(request.method, request.url.path, dict(request.url.params),
                                           {k.lower(): v for k, v in request.headers.items()}, body)
        if isinstance(out, bytes):
            return httpx.Response(status, content=out, headers=headers)
        return httpx.Response(status, json=out, headers=headers)

    with respx.mock(assert_all_called=False) as r:
        r.route(host="api.xero.com").mock(side_effect=respond)
        yield r


def xero(**kw) -> XeroConnector:
    oauth = StaticTokenProvider(extras={"tenant_id": "7a513ee4-4e1e-4a4c-9e5b-1e1d2e0a0a11"})
    settings = XeroSettings(client_id="cid", client_secret="cs", webhook_key="wk", **kw)
    return XeroConnector(settings, make_context("xero", oauth=oauth))


def sync(conn, cursor=None):
    async def go():
        return [p async for p in conn.sync(cursor or {})]
    return asyncio.run(go())


def merged(pages):
    out = {}
    for p in pages:
        out.update(p.cursor)
    return out


def test_dates_in_xero_format():
    assert xero_date("/Date(1518685950940+0000)/") == dt.date(2018, 2, 15)
    assert xero_date("2026-11-24T00:00:00") == dt.date(2026, 11, 24)


def test_initial_sync_pages_of_1000_in_order(fake, router):
    pages = sync(xero())
    invs = [r for p in pages for r in p.records if isinstance(r, InvoiceRecord)]
    assert [i.number for i in invs if i.kind == "invoice"] == [f"INV-{n:06d}" for n in range(1, 2301)]
    assert len([r for p in pages for r in p.records if isinstance(r, CustomerRecord)]) == 1200
    assert fake.calls == 2 + 3 + 1  # contacts 2 pages, invoices 3, credit notes 1: no empty page
    first = invs[0]
    assert first.amount_due == Decimal("120.0") and first.currency == "GBP"
    assert first.due_date == dt.date(2026, 1, 31)
    calls = [c.request for c in router.calls]
    assert all(c.headers["xero-tenant-id"] == fake.tenant for c in calls)
    assert all(c.url.params.get("pageSize") == "1000" for c in calls)
    assert any(c.url.params.get("summaryOnly") == "true" for c in calls)


def test_incremental_no_change_is_one_call_and_changes_come_back(fake, router):
    conn = xero()
    cursor = merged(sync(conn))
    fake.calls = 0
    assert [r for p in sync(conn, cursor) for r in p.records] == [] and fake.calls == 1
    assert "If-Modified-Since" in router.calls.last.request.headers
    fake.change(5, AmountDue=40.0, AmountPaid=80.0)           # partial payment
    fake.change(6, Status="VOIDED", AmountDue=0.0)
    fake.change(7, Status="DELETED")
    fake.change(8, AmountDue=90.0, AmountCredited=30.0)        # credit note allocated
    fake.change(9, Status="PAID", AmountDue=0.0)
    got = {i.number: (i.status, i.amount_due) for p in sync(conn, cursor) for i in p.records}
    assert got == {"INV-000005": ("open", Decimal("40.0")), "INV-000006": ("void", Decimal("0.0")),
                   "INV-000007": ("void", Decimal("120.0")), "INV-000008": ("open", Decimal("90.0")),
                   "INV-000009": ("paid", Decimal("0.0"))}


def test_crash_mid_sync_resumes_after_the_last_committed_page(fake, router):
    cursor, seen = {}, []
    for n, p in enumerate(sync(xero())):
        if n == 3:
            break
        cursor.update(p.cursor)
        seen += [r.external_id for r in p.records if isinstance(r, InvoiceRecord)]
    rest = [r.external_id for p in sync(xero(), cursor) for r in p.records if isinstance(r, InvoiceRecord)]
    ids = [i for i in seen + rest if i.startswith("i-")]
    assert len(ids) == len(set(ids)) == 2300


def test_429_with_retry_after_is_honoured(fake, router):
    replies = iter([httpx.Response(429, headers={"Retry-After": "0", "X-Rate-Limit-Problem": "minute"})])

    original = router.routes[0].side_effect

    def once(request):
        return next(replies, None) or original(request)

    router.routes[0].side_effect = once
    conn = xero()
    pages = sync(conn)
    assert conn.pacer.throttled == 1  # waited Retry-After, then went on
    assert len([r for p in pages for r in p.records if isinstance(r, InvoiceRecord)]) == 2302


def test_day_limit_pauses_with_a_clear_status(fake, router):
    router.routes[0].side_effect = lambda r: httpx.Response(
        429, headers={"Retry-After": "36000", "X-Rate-Limit-Problem": "day", "X-DayLimit-Remaining": "0"})
    with pytest.raises(RateLimitedError, match="daily call limit") as e:
        sync(xero())
    assert e.value.retry_after == 36000


def test_validation_errors_carry_xeros_message(fake, router):
    router.routes[0].side_effect = lambda r: httpx.Response(400, json={
        "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": "Invoice not of valid status for modification"}]}]})
    with pytest.raises(PermanentError, match="not of valid status"):
        asyncio.run(xero().write_note(LedgerNote(invoice_external_id="i-00000001", text="x",
                                                 channel="email", template="t",
                                                 sent_at=dt.datetime.now(dt.UTC))))


def test_token_refresh_mid_sync_after_a_401(fake, router):
    conn = xero()
    original = router.routes[0].side_effect
    first = {"done": False}

    def expire_once(request):
        if not first["done"] and "Invoices" in request.url.path:
            first["done"] = True
            return httpx.Response(401, json={"Title": "Unauthorized", "Detail": "TokenExpired"})
        return original(request)

    router.routes[0].side_effect = expire_once
    sync(conn)
    assert conn.context.oauth.refreshes == 1


def test_revoked_access_is_an_auth_error(fake, router):
    router.routes[0].side_effect = lambda r: httpx.Response(403, json={
        "Type": "AuthorisationUnsuccessful", "Detail": "AuthorizationUnsuccessful"})
    with pytest.raises(AuthError, match="relance connect"):
        sync(xero())


def test_fresh_check_pdf_history_and_tenants(fake, router):
    conn = xero()
    fake.change(3, Status="PAID", AmountDue=0.0)
    [paid] = asyncio.run(conn.refresh(["i-00000003"]))
    assert paid.status == "paid"
    assert router.calls.last.request.url.params["IDs"] == "i-00000003"
    assert asyncio.run(conn.fetch_pdf("i-00000003")).startswith(b"%PDF")
    asyncio.run(conn.write_note(LedgerNote(invoice_external_id="i-00000003", text="Reminder sent",
                                           channel="email", template="t", sent_at=dt.datetime.now(dt.UTC))))
    assert fake.history == [("i-00000003", "Reminder sent")]
    assert asyncio.run(conn.tenants()) == [(fake.tenant, "Demo Company (UK)")]
    IDENTITY.check(router.calls.last.request)


def signed(body: bytes, key: str = "wk") -> WebhookRequest:
    sig = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return WebhookRequest(method="POST", path="/webhooks/xero/xero", body=body,
                          headers={"x-xero-signature": sig})


def test_webhooks_intent_to_receive_and_events():
    intent = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                         "entropy": "S0m3r4Nd0mt3xt"}).encode()
    result = xero().verify_webhook(signed(intent))
    assert result.status_code == 200 and result.body == b"" and result.events == ()
    with pytest.raises(SignatureError):
        xero().verify_webhook(signed(intent, key="wrong"))
    event = json.dumps({"events": [{"resourceId": "i-00000001", "eventCategory": "INVOICE",
                                    "eventType": "UPDATE", "tenantId": "t"}]}).encode()
    [changed] = xero().verify_webhook(signed(event)).events
    assert changed.external_ids == ("i-00000001",)


def test_custom_connection_uses_client_credentials():
    spec = XeroConnector.oauth_for(XeroSettings(client_id="c", client_secret="s", grant="client_credentials"))
    assert spec.grant == "client_credentials" and "offline_access" not in spec.scopes
    assert "accounting.invoices" in XeroConnector.oauth_for(XeroSettings(client_id="c", client_secret="s")).scopes


class TestXeroConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, router):
        return xero()


def test_a_payment_is_recorded_with_a_number_amount_and_the_idempotency_key(fake, router):
    from hub.contracts import LedgerPayment

    conn = xero(payment_account_code="090")
    asyncio.run(conn.record_payment(LedgerPayment(
        invoice_external_id="2b7a7b0c-0f5e-4a59-a0f4-b6d1c7e0e001", amount=Decimal("80.10"),
        currency="GBP", date=dt.date(2026, 12, 3), reference="cs_1", idempotency_key="rl-ab:pay:7")))
    request = router.calls.last.request
    assert request.method == "PUT" and request.headers["Idempotency-Key"] == "rl-ab:pay:7"
    [payment] = json.loads(request.content)["Payments"]
    assert payment["Amount"] == 80.1 and payment["Date"] == "2026-12-03"
    assert SPEC.check(request) == "/Payments"  # types and formats too: Amount is a number
    assert XeroConnector.idempotent_payments
