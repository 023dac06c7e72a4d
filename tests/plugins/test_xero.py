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

from hub.contracts import (
    CustomerRecord,
    InvoiceRecord,
    LedgerNote,
    PaymentRecord,
    RecordProblem,
    WebhookRequest,
)
from hub.errors import AuthError, PermanentError, RateLimitedError, SignatureError
from hub.testing import StaticTokenProvider, make_context
from hub.testing.conformance import ConnectorConformance
from plugins.xero import XeroConnector, XeroSettings
from plugins.xero.api import xero_date
from tests.fakes.xero_server import EPOCH, FakeXero, ms
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
    # contacts 2 pages, invoices 3, credit notes, prepayments, overpayments 1 each: no empty page
    assert fake.calls == 2 + 3 + 1 + 2
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


def test_xero_dates_keep_the_organisations_local_day_and_zero_is_no_date():
    assert xero_date("/Date(1426849200000+1300)/") == dt.date(2015, 3, 21)  # NZ: a day later
    assert xero_date("/Date(1426849200000-0500)/") == dt.date(2015, 3, 20)
    assert xero_date("/Date(0+0000)/") is None


def test_incremental_sends_if_modified_since_in_utc_with_z(fake, router):
    cursor = merged(sync(xero()))
    sync(xero(), cursor)
    sent = router.calls.last.request.headers["If-Modified-Since"]
    assert sent.endswith("Z") and dt.datetime.fromisoformat(sent.replace("Z", "+00:00"))
    SPEC.check(router.calls.last.request)  # the spec's date-time: with its zone


def test_country_names_become_iso_codes_and_unknown_ones_none():
    def country(name):
        return XeroConnector.customer({"ContactID": "c", "Name": "n", "Addresses": [
            {"AddressType": "STREET", "AddressLine1": "1 Main St", "Country": name}]}).address.country
    assert country("United States") == "US" and country("USA") == "US"
    assert country("Deutschland") == "DE" and country("nz") == "NZ"
    assert country("Unitopia") is None  # never "UN"


def _payment(pid, kind="ACCRECPAYMENT", invoice=None, when=None):
    return {"PaymentID": pid, "PaymentType": kind, "Status": "AUTHORISED", "Amount": 10.5,
            "Date": "/Date(1764633600000+0000)/", "Invoice": invoice or {},
            "UpdatedDateUTC": ms(when or dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))}


def test_payments_are_customers_only_from_the_load_on_in_the_base_currency(fake, router):
    fake.n_inv, fake.n_con, fake.n_cn = 3, 2, 0
    cursor = merged(sync(xero()))
    assert "/Payments" not in {r for r, _ in fake.listings}  # the load reads no payment history
    fake.listed["/Payments"] = [
        _payment("p1", invoice={"InvoiceID": "i-00000001", "CurrencyCode": "GBP",
                                "Contact": {"ContactID": "c-000002"}}),
        _payment("p2", kind="ACCPAYPAYMENT"), _payment("p3", kind="ARCREDITPAYMENT"),
        _payment("p4", invoice={"InvoiceID": "i-00000002"}),  # no currency on the summary
        _payment("p0", when=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))]  # before the load
    conn = xero(other_streams_every=1)
    paid = {p.external_id: p for p in sync(conn, cursor) for p in p.records
            if isinstance(p, PaymentRecord)}
    assert set(paid) == {"p1", "p4"}
    assert paid["p1"].currency == "GBP" and paid["p4"].currency == "NZD"  # the organisation's
    [(_, since)] = [x for x in fake.listings if x[0] == "/Payments"]
    assert since is not None  # from the load's time, not the whole history


def test_prepayments_overpayments_and_unused_credit_notes_are_the_customers_credit(fake, router):
    fake.n_inv, fake.n_con, fake.n_cn = 1, 1, 0
    common = {"Contact": {"ContactID": "c-000001"}, "Date": ms(EPOCH), "CurrencyCode": "GBP",
              "UpdatedDateUTC": ms(EPOCH), "Total": 50.0}
    fake.listed["/Prepayments"] = [{**common, "PrepaymentID": "pp-1", "Type": "RECEIVE-PREPAYMENT",
                                    "Status": "AUTHORISED", "RemainingCredit": 20.0},
                                   {**common, "PrepaymentID": "pp-2", "Type": "SPEND-PREPAYMENT",
                                    "Status": "AUTHORISED", "RemainingCredit": 5.0}]
    fake.listed["/Overpayments"] = [{**common, "OverpaymentID": "op-1", "Type": "RECEIVE-OVERPAYMENT",
                                     "Status": "AUTHORISED", "RemainingCredit": 7.5}]
    credits = {r.external_id: r for p in sync(xero()) for r in p.records
               if isinstance(r, InvoiceRecord) and r.kind == "credit_note"}
    assert {k: v.amount_due for k, v in credits.items()} == {"pp-1": Decimal("20.0"),
                                                             "op-1": Decimal("7.5")}
    note = XeroConnector.invoice({"CreditNoteID": "cn-9", "Status": "AUTHORISED", "Total": 30.0,
                                  "Contact": {"ContactID": "c"}, "Date": ms(EPOCH),
                                  "CurrencyCode": "GBP"}, credit=True)
    assert note.amount_due == Decimal("30.0") and note.status == "open"  # not "used up"


def test_a_document_without_dates_is_a_problem_and_the_sync_goes_on(fake, router):
    fake.n_inv = 2500
    fake.changed["i-00000005"] = {"Date": None, "DueDate": None}
    pages = sync(xero())
    problems = [r for p in pages for r in p.records if isinstance(r, RecordProblem)]
    invoices = [r for p in pages for r in p.records if isinstance(r, InvoiceRecord)
                and r.kind == "invoice"]
    assert len(problems) == 1 and "i-00000005" in problems[0].place and len(invoices) == 2499


@pytest.mark.parametrize("base", ["https://api.xero.com", "https://api.xero.com/api.xro/2.0/"])
def test_base_url_with_or_without_the_api_path(fake, router, base):
    asyncio.run(xero(base_url=base).refresh(["i-00000001"]))
    assert router.calls.last.request.url.path == "/api.xro/2.0/Invoices"
