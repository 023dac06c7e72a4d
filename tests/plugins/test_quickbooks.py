"""QuickBooks Online against Intuit's documented shapes: paging, CDC, fallbacks, faults,
token rotation, resume, webhooks — and the fields it reads exist in the v3 XSD."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import respx

from hub.contracts import InvoiceRecord, LedgerNote, PaymentRecord, Tombstone, WebhookRequest
from hub.errors import AuthError, PermanentError, RateLimitedError, SignatureError
from hub.testing import MemoryTokenStore, StaticTokenProvider, make_context
from hub.testing.conformance import ConnectorConformance
from plugins.quickbooks import QuickBooksConnector, QuickBooksSettings
from tests.fakes.quickbooks_server import FakeQuickBooks, stamp
from tests.specs import need

HOST = "https://quickbooks.api.intuit.com"


@pytest.fixture
def fake():
    return FakeQuickBooks(invoices=2500, customers=3, credit_memos=2)


@pytest.fixture
def router(fake):
    def respond(request: httpx.Request):
        body = json.loads(request.content) if request.content else None
        status, out = fake.handle(request.method, request.url.path, dict(request.url.params), body)
        if isinstance(out, bytes):
            return httpx.Response(status, content=out, headers={"content-type": "application/pdf"})
        return httpx.Response(status, json=out)

    with respx.mock(assert_all_called=False) as r:
        r.route(host="quickbooks.api.intuit.com").mock(side_effect=respond)
        yield r


def qbo(oauth=None, **kw) -> QuickBooksConnector:
    settings = QuickBooksSettings(client_id="cid", client_secret="cs",
                                  webhook_verifier_token="verif", **kw)
    ctx = make_context("qbo", oauth=oauth or StaticTokenProvider(extras={"realmId": "9130"}))
    return QuickBooksConnector(settings, ctx)


def sync(conn, cursor=None):
    async def go():
        return [p async for p in conn.sync(cursor or {})]
    return asyncio.run(go())


def merged(pages):
    c = {}
    for p in pages:
        c.update(p.cursor)
    return c


def invoices(pages):
    return [r for p in pages for r in p.records if isinstance(r, InvoiceRecord)]


def test_initial_load_pages_at_1000_and_pins_minorversion(fake, router):
    pages = sync(qbo())
    invs = invoices(pages)
    assert len([i for i in invs if i.kind == "invoice"]) == 2500
    assert len([i for i in invs if i.kind == "credit_note"]) == 2
    # customers 1 + invoices 3 + credit memos 1 = 5 calls
    assert fake.calls == 5
    q = [c.request.url.params["query"] for c in router.calls]
    assert "select * from Invoice STARTPOSITION 1001 MAXRESULTS 1000" in q
    assert all(c.request.url.params["minorversion"] == "75" for c in router.calls)
    assert all(c.request.url.path.startswith("/v3/company/9130/") for c in router.calls)
    first = next(i for i in invs if i.external_id == "1")
    assert first.total == Decimal("150.0") and first.currency == "USD" and first.online_url
    assert "cdc.since" in merged(pages)


def test_incremental_by_cdc_partial_payment_void_credit_and_delete(fake, router):
    conn = qbo()
    cursor = merged(sync(conn))
    fake.calls = 0
    assert invoices(sync(conn, cursor)) == [] and fake.calls == 1  # no change: one CDC call
    base = fake.obj("Invoice", 7)
    fake.change("Invoice", {**base, "Balance": 100.0})                               # partial
    fake.change("Invoice", {**fake.obj("Invoice", 8), "TotalAmt": 0, "Balance": 0,
                            "PrivateNote": "Voided"})                                 # void
    fake.change("CreditMemo", {**fake.obj("CreditMemo", 1), "RemainingCredit": 0})  # applied
    fake.change("Invoice", {"Id": "9", "status": "Deleted", "domain": "QBO"})       # deleted
    pages = sync(conn, cursor)
    got = {i.external_id: (i.status, i.amount_due) for i in invoices(pages)}
    assert got["7"] == ("open", Decimal("100.0")) and got["8"][0] == "void"
    assert got["CM1"] == ("paid", Decimal("0"))
    assert [t.external_id for p in pages for t in p.records if isinstance(t, Tombstone)] == ["9"]
    assert router.calls.last.request.url.params["entities"] == "Customer,Invoice,CreditMemo,Payment"


def test_cursor_older_than_cdc_window_falls_back_to_query(fake, router):
    fake.change("Invoice", {**fake.obj("Invoice", 3), "Balance": 10.0})
    pages = sync(qbo(), {"cdc.since": stamp(45)})
    assert [i.external_id for i in invoices(pages)] == ["3"]
    q = router.calls[0].request.url.params["query"]
    assert "where MetaData.LastUpdatedTime >" in q and "/cdc" not in str(router.calls[0].request.url)


def test_crash_mid_load_resumes_without_duplicates(fake, router):
    seen, cursor = [], {}
    for n, page in enumerate(sync(qbo())):
        if n == 2:
            break  # the hub died before committing page 3
        cursor.update(page.cursor)
        seen += [i.external_id for i in page.records if isinstance(i, InvoiceRecord)]
    rest = [i.external_id for i in invoices(sync(qbo(), cursor))]
    ids = [i for i in seen + rest if not i.startswith("CM")]
    assert len(ids) == len(set(ids)) == 2500


def test_faults_are_clear_and_classified(fake, router):
    fake.throttle = 1
    with pytest.raises(RateLimitedError, match="ThrottleExceeded"):
        sync(qbo())
    with pytest.raises(PermanentError, match="element Note"):
        asyncio.run(qbo().write_note(LedgerNote(invoice_external_id="1", text="", channel="email",
                                                template="t", sent_at=dt.datetime.now(dt.UTC))))


def test_token_refresh_with_rotation_saved_before_the_call(fake, router):
    from hub.workspace.auth import OAuth2TokenProvider

    store = MemoryTokenStore({"access_token": "old", "refresh_token": "R1", "expires_at": 0,
                              "realmId": "9130"})
    events = []
    router.post(QuickBooksConnector.oauth.token_url).mock(side_effect=lambda r: (
        events.append("refresh"), httpx.Response(200, json={
            "access_token": "new", "refresh_token": "R2", "expires_in": 3600,
            "x_refresh_token_expires_in": 8726400, "token_type": "bearer"}))[1])
    original = store.save
    store.save = lambda t: (events.append(f"saved {t['refresh_token']}"), original(t))[1]
    provider = OAuth2TokenProvider(QuickBooksConnector.oauth,
                                   QuickBooksSettings(client_id="cid", client_secret="cs"), store)
    conn = qbo(oauth=provider)
    asyncio.run(conn.refresh(["1"]))
    api = [c.request for c in router.calls if "quickbooks" in str(c.request.url)]
    assert events == ["refresh", "saved R2"] and api[0].headers["authorization"] == "Bearer new"
    assert store.token["refresh_token"] == "R2" and store.token["realmId"] == "9130"


def test_refused_refresh_is_an_auth_error(fake, router):
    router.route(host="quickbooks.api.intuit.com").mock(return_value=httpx.Response(401, json={
        "Fault": {"Error": [{"Message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                             "code": "3200"}], "type": "AUTHENTICATION"}}))
    with pytest.raises(AuthError, match="AuthenticationFailed"):
        sync(qbo())


def test_fresh_check_pdf_and_note(fake, router):
    fake.change("Invoice", {**fake.obj("Invoice", 5), "Balance": 0})
    conn = qbo()
    [paid, other] = asyncio.run(conn.refresh(["5", "6"]))
    assert paid.status == "paid" and other.status == "open"
    assert "Id in ('5','6')" in router.calls[0].request.url.params["query"]
    assert asyncio.run(conn.fetch_pdf("5")).startswith(b"%PDF")
    asyncio.run(conn.write_note(LedgerNote(invoice_external_id="5", text="Reminder sent",
                                           channel="email", template="t", sent_at=dt.datetime.now(dt.UTC))))
    [note] = fake.attachables
    assert note["AttachableRef"][0]["EntityRef"] == {"type": "Invoice", "value": "5"}


def test_webhook_signature():
    body = json.dumps({"eventNotifications": [{"realmId": "9130", "dataChangeEvent": {
        "entities": [{"name": "Invoice", "id": "42", "operation": "Update",
                      "lastUpdated": "2026-11-24T10:00:00.000Z"}]}}]}).encode()
    sig = base64.b64encode(hmac.new(b"verif", body, hashlib.sha256).digest()).decode()
    req = WebhookRequest(method="POST", path="/webhooks/quickbooks/qbo", body=body,
                         headers={"intuit-signature": sig})
    [event] = qbo().verify_webhook(req).events
    assert event.external_ids == ("42",)
    with pytest.raises(SignatureError):
        qbo().verify_webhook(req.model_copy(update={"headers": {"intuit-signature": "AAAA"}}))


def xsd_fields(*types: str) -> set[str]:
    """Element names of these complexTypes, inherited ones included (the JSON keys)."""
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    trees = [ET.parse(p) for p in need("quickbooks/IntuitRestServiceDef.xsd").parent.glob("*.xsd")]
    index = {t.get("name"): t for tree in trees for t in tree.iter(f"{{{ns['xs']}}}complexType")}
    out, todo = set(), list(types)
    while todo:
        t = index.get(todo.pop())
        if t is None:
            continue
        out |= {e.get("name") for e in t.iter(f"{{{ns['xs']}}}element") if e.get("name")}
        for ext in t.iter(f"{{{ns['xs']}}}extension"):
            todo.append(ext.get("base").split(":")[-1])
    return out


def test_every_field_read_exists_in_the_v3_schema():
    import plugins.quickbooks as module
    import plugins.quickbooks.mapping as mapping

    text = Path(module.__file__).read_text() + Path(mapping.__file__).read_text()
    read = set(re.findall(r'\b(?:o|a|t|line|info\[0\]|prefs\[0\])\.get\("([A-Z]\w+)"', text)) | \
        set(re.findall(r'a\[k\].*?for k in \(([^)]*)\)', text)[0].replace('"', "").replace(" ", "")
            .split(","))
    known = xsd_fields("Invoice", "Customer", "CreditMemo", "Payment", "PhysicalAddress",
                       "EmailAddress", "TelephoneNumber", "Line", "LinkedTxn", "ModificationMetaData",
                       "CompanyInfo", "Preferences", "CurrencyPrefs")
    assert read and read <= known, f"not in the XSD: {read - known}"
    written = {"Note", "AttachableRef", "EntityRef", "IncludeOnSend"}
    assert written <= xsd_fields("Attachable", "AttachableRef")


class TestQuickBooksConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, router):
        return qbo()

    @pytest.fixture
    def error_cases(self, fake):
        def throttled():
            fake.throttle = 1
        return {"transient": throttled}


def test_a_fault_inside_a_200_answer_fails_the_sync_instead_of_reading_as_empty(fake, router):
    fake.fault_in_200 = 1
    with pytest.raises(PermanentError, match=r"answered 200 with a fault.*SystemFault"):
        sync(qbo())


def test_a_payment_is_recorded_once_per_requestid_with_number_amounts(fake, router):
    from hub.contracts import LedgerPayment

    payment = LedgerPayment(invoice_external_id="5", amount=Decimal("80.10"), currency="USD",
                            date=dt.date(2026, 12, 3), reference="cs_1", idempotency_key="rl-ab:pay:7")
    first = asyncio.run(qbo().record_payment(payment))
    again = asyncio.run(qbo().record_payment(payment))  # a retry after a cut-off attempt
    assert first == again and len(fake.payments) == 1
    request = router.calls.last.request
    assert request.url.params["requestid"] == "rl-ab:pay:7"
    body = json.loads(request.content)
    assert body["TotalAmt"] == 80.1 and body["Line"][0]["Amount"] == 80.1  # xs:decimal: a number
    assert body["Line"][0]["LinkedTxn"] == [{"TxnId": "5", "TxnType": "Invoice"}]
    assert QuickBooksConnector.idempotent_payments


def test_customers_and_documents_missing_country_or_currency_take_the_companys(fake, router):
    fake.country, fake.home_currency = "CA", "CAD"
    fake.change("Customer", {"Id": "2", "DisplayName": "Free Form", "Active": False,
                             "PrimaryEmailAddr": {"Address": "ap@free.example, boss@free.example"},
                             "BillAddr": {"Line1": "Free Form Ltd", "Line2": "12 Bay St",
                                          "Line3": "Suite 4", "Line4": "Toronto, ON 12345"}})
    fake.change("Invoice", {**fake.obj("Invoice", 3), "CurrencyRef": None})
    conn = qbo()
    cursor = merged(sync(conn))
    cursor["cdc.since"] = "2026-01-01T00:00:00+00:00"
    got = {type(r).__name__ + r.external_id: r for p in sync(conn, cursor) for r in p.records}
    free = got["CustomerRecord2"]
    assert free.email == "ap@free.example" and free.cc_emails == ("boss@free.example",)
    assert free.address.model_dump() == {"line1": "Free Form Ltd", "line2": "12 Bay St, Suite 4",
                                         "city": "Toronto", "postcode": "12345", "region": "ON",
                                         "country": "CA"}
    assert "inactive" in free.tags
    assert got["InvoiceRecord3"].currency == "CAD"  # the home currency, not USD


def test_a_payment_over_several_invoices_is_split_and_a_voided_one_is_void(fake, router):
    fake.change("Payment", {"Id": "77", "TxnDate": "2026-11-02", "TotalAmt": 250.0,
                            "CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "USD"},
                            "Line": [{"Amount": 150.0, "LinkedTxn": [{"TxnId": "4", "TxnType": "Invoice"}]},
                                     {"Amount": 100.0, "LinkedTxn": [{"TxnId": "5", "TxnType": "Invoice"}]}]})
    fake.change("Payment", {"Id": "78", "TxnDate": "2026-11-02", "TotalAmt": 0,
                            "PrivateNote": "Voided", "CustomerRef": {"value": "1"},
                            "CurrencyRef": {"value": "USD"}, "Line": []})
    paid = [r for p in sync(qbo(), {"cdc.since": "2026-01-01T00:00:00+00:00"}) for r in p.records
            if isinstance(r, PaymentRecord)]
    split = {(p.invoice_external_id, p.amount) for p in paid if p.external_id.startswith("77")}
    assert split == {("4", Decimal("150.0")), ("5", Decimal("100.0"))}
    assert [p.void for p in paid if p.external_id == "78"] == [True]


def test_a_403_throttle_pauses_like_a_429(fake, router):
    router.route(host="quickbooks.api.intuit.com").mock(return_value=httpx.Response(403, json={
        "Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=403",
                             "code": "3001"}], "type": "SERVICE"}}))
    with pytest.raises(RateLimitedError, match="ThrottleExceeded"):
        sync(qbo())


@pytest.mark.parametrize("body,ctype", [
    ('{"warnings":null,"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200;'
     ' statusCode=401","detail":"Token expired: AB11","code":"3200"}],"type":"AUTHENTICATION"}}',
     "application/json"),
    ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse '
     'xmlns="http://schema.intuit.com/finance/v3" time="2026-12-03T04:05:06.000-08:00"><Fault '
     'type="AUTHENTICATION"><Error code="3200"><Message>message=AuthenticationFailed; '
     'errorCode=003200; statusCode=401</Message><Detail>Token expired</Detail></Error></Fault>'
     '</IntuitResponse>', "application/xml")])
def test_real_fault_bodies_lowercase_json_and_xml_are_read(fake, router, body, ctype):
    router.route(host="quickbooks.api.intuit.com").mock(return_value=httpx.Response(
        400, text=body, headers={"content-type": ctype}))
    with pytest.raises(AuthError, match=r"AuthenticationFailed.*Token expired"):
        sync(qbo())


def test_a_deleted_invoice_is_gone_from_the_fresh_check(fake, router):
    fake.change("Invoice", {"Id": "6", "status": "Deleted"})
    assert [i.external_id for i in asyncio.run(qbo().refresh(["5", "6"]))] == ["5"]


def _signed(body: bytes) -> WebhookRequest:
    sig = base64.b64encode(hmac.new(b"verif", body, hashlib.sha256).digest()).decode()
    return WebhookRequest(method="POST", path="/webhooks/quickbooks/qbo", body=body,
                          headers={"intuit-signature": sig})


def test_cloudevents_webhooks_of_this_company_are_read_and_a_non_json_body_is_refused():
    body = json.dumps([
        {"specversion": "1.0", "id": "88cd52aa", "source": "intuit.abc", "type": "qbo.invoice.updated.v1",
         "datacontenttype": "application/json", "time": "2026-11-24T21:31:25.179851517Z",
         "intuitentityid": "42", "intuitaccountid": "9130", "data": {}},
        {"specversion": "1.0", "id": "2", "type": "qbo.creditmemo.created.v1",
         "intuitentityid": "7", "intuitaccountid": "9130"},
        {"specversion": "1.0", "id": "3", "type": "qbo.invoice.updated.v1",
         "intuitentityid": "99", "intuitaccountid": "other-company"}]).encode()
    [event] = qbo().verify_webhook(_signed(body)).events
    assert event.external_ids == ("42", "CM7")
    with pytest.raises(ValueError, match="not JSON"):
        qbo().verify_webhook(_signed(b"<html>not json</html>"))
