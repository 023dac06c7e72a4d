"""Xero connector (Accounting API): OAuth2 through the hub, paced concurrent paging,
If-Modified-Since increments, PDFs, history notes, payments, signed webhooks.

Streams: contacts, invoices (ACCREC), credit notes (ACCRECCREDIT), payments. The initial
load reads contacts, invoices and credit notes with the largest page (1,000), pages
fetched concurrently up to Xero's 5-call limit and yielded in order. Increments read the
invoices modified since the cursor every time (one call when nothing changed: payments and
credit allocations show on invoices) and the other streams every `other_streams_every`
syncs, or when a contact webhook arrives.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from hub.contracts import (
    Address,
    Cursor,
    CustomerRecord,
    HttpConnector,
    InvoiceRecord,
    LedgerChanged,
    LedgerNote,
    LedgerPayment,
    OAuthSpec,
    PaymentRecord,
    PluginSettings,
    SyncPage,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import AuthError, RetriableError, SignatureError
from hub.hookspecs import hookimpl
from plugins.xero.api import Pacer, XeroAPI, if_modified_since, xero_date, xero_datetime

# Granular scopes (apps created from March 2026) and the broad ones older apps still use.
GRANULAR = ("openid", "offline_access", "accounting.invoices", "accounting.payments",
            "accounting.contacts", "accounting.settings.read")
BROAD = ("openid", "offline_access", "accounting.transactions", "accounting.contacts",
         "accounting.settings.read")
STATUS = {"AUTHORISED": "open", "PAID": "paid", "VOIDED": "void", "DELETED": "void"}
PAGE = 1000


class XeroSettings(PluginSettings):
    client_id: str
    client_secret: SecretStr
    grant: Literal["authorization_code", "client_credentials"] = "authorization_code"
    scopes: Literal["granular", "broad"] = "granular"
    tenant_id: str | None = Field(None, description="default: the one chosen at `relance connect`")
    webhook_key: SecretStr | None = None
    payment_account_code: str | None = Field(None, description="account for recorded payments")
    other_streams_every: int = Field(4, ge=1, description="incremental syncs between contact/"
                                                          "credit-note/payment reads")
    enforce_limits: bool = True
    base_url: str = "https://api.xero.com"
    identity_url: str = "https://api.xero.com"


class XeroConnector(HttpConnector):
    name = "xero"
    description = "Xero Accounting API (OAuth2, paced to Xero's limits)"
    Settings: ClassVar = XeroSettings
    provider = "Xero"
    auth_statuses = (401, 403)
    auth = "oauth2"
    oauth = OAuthSpec(authorize_url="https://login.xero.com/identity/connect/authorize",
                      token_url="https://identity.xero.com/connect/token", scopes=GRANULAR)
    supports_incremental = True
    supports_refresh = True
    supports_pdf = True
    supports_writeback = True
    supports_payments_writeback = True
    idempotent_payments = True  # the Idempotency-Key header
    supports_webhooks = True

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self.pacer = Pacer(context.budget, enforce=settings.enforce_limits)
        self._api: XeroAPI | None = None
        self._base_currency: str | None = None

    @property
    def api(self) -> XeroAPI:
        if self._api is None:
            oauth = self.context.oauth
            tenant = self.settings.tenant_id or (oauth.extras().get("tenant_id") if oauth else None)
            if not tenant:
                raise AuthError(f"connection {self.context.name}: no Xero organisation chosen; "
                                "run `relance connect` (or set tenant_id)")
            self._api = XeroAPI(self, self.settings.base_url, tenant, self.pacer)
        return self._api

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200]
        messages = [v["Message"] for e in body.get("Elements", []) for v in e.get("ValidationErrors", [])]
        return "; ".join(messages) or body.get("Detail") or body.get("Message") or response.text[:200]

    def auth_hint(self) -> str:
        return "run `relance connect`"

    async def tenants(self) -> list[tuple[str, str]]:
        r = await self.request("GET", self.settings.identity_url.rstrip("/") + "/Connections",
                               where="GET /connections", auth=self.context.auth)
        return [(t["tenantId"], t.get("tenantName") or t["tenantId"]) for t in r.json()
                if t.get("tenantType", "ORGANISATION") == "ORGANISATION"]

    # ------------------------------------------------------------------ mapping
    @staticmethod
    def customer(c: dict) -> CustomerRecord:
        phones = {p.get("PhoneType"): " ".join(filter(None, (p.get("PhoneCountryCode"), p.get("PhoneAreaCode"),
                                                              p.get("PhoneNumber"))))
                  for p in c.get("Phones") or [] if p.get("PhoneNumber")}
        addrs = {a.get("AddressType"): a for a in c.get("Addresses") or []}
        a = addrs.get("POBOX") or addrs.get("STREET") or {}
        return CustomerRecord(
            external_id=c["ContactID"], name=c.get("Name") or c["ContactID"],
            code=c.get("AccountNumber") or c.get("ContactNumber"), email=c.get("EmailAddress") or None,
            phone=phones.get("DEFAULT") or None, mobile=phones.get("MOBILE") or None,
            address=Address(line1=a.get("AddressLine1"), line2=a.get("AddressLine2"), city=a.get("City"),
                            region=a.get("Region"), postcode=a.get("PostalCode"),
                            country=a.get("Country")) if a else Address(),
            tax_id=c.get("TaxNumber"), updated_at=xero_datetime(c.get("UpdatedDateUTC")))

    @staticmethod
    def invoice(i: dict, credit: bool = False) -> InvoiceRecord | None:
        status = STATUS.get(i.get("Status", ""))
        if status is None:  # DRAFT and SUBMITTED were never sent to the customer
            return None
        ident = i["CreditNoteID"] if credit else i["InvoiceID"]
        # a credit note Xero lists without RemainingCredit has not been used: all of it is left
        left = i.get("RemainingCredit", i.get("Total")) if credit else i.get("AmountDue")
        due = Decimal(str(left or 0))
        return InvoiceRecord(
            kind="credit_note" if credit else "invoice", external_id=ident,
            customer_external_id=i["Contact"]["ContactID"],
            number=i.get("CreditNoteNumber" if credit else "InvoiceNumber") or ident,
            currency=i.get("CurrencyCode") or "USD", total=Decimal(str(i.get("Total") or 0)),
            amount_due=due, issue_date=xero_date(i.get("Date")),
            due_date=xero_date(i.get("DueDate")) or xero_date(i.get("Date")),
            status="paid" if status == "open" and due <= 0 else status, reference=i.get("Reference"),
            updated_at=xero_datetime(i.get("UpdatedDateUTC")))

    @staticmethod
    def payment(p: dict, base_currency: str) -> PaymentRecord:
        """A customer's payment on one of our invoices (the stream reads ACCRECPAYMENT only)."""
        inv = p.get("Invoice") or {}
        return PaymentRecord(external_id=p["PaymentID"], invoice_external_id=inv.get("InvoiceID"),
                             customer_external_id=(inv.get("Contact") or {}).get("ContactID"),
                             amount=Decimal(str(p.get("Amount") or 0)),
                             currency=inv.get("CurrencyCode") or base_currency,
                             date=xero_date(p.get("Date")), void=p.get("Status") == "DELETED")

    @staticmethod
    def credit(p: dict, kind: str) -> InvoiceRecord | None:
        """A prepayment or overpayment received: the customer's credit while some remains."""
        status = STATUS.get(p.get("Status", ""))
        if status is None:
            return None
        ident, left = p[f"{kind}ID"], Decimal(str(p.get("RemainingCredit") or 0))
        return InvoiceRecord(
            kind="credit_note", external_id=ident, customer_external_id=p["Contact"]["ContactID"],
            number=p.get("Reference") or f"{kind} {ident[:8]}", currency=p["CurrencyCode"],
            total=Decimal(str(p.get("Total") or 0)), amount_due=left,
            issue_date=xero_date(p.get("Date")), due_date=xero_date(p.get("Date")),
            status="paid" if status == "open" and left <= 0 else status,
            updated_at=xero_datetime(p.get("UpdatedDateUTC")))

    async def base_currency(self) -> str:
        if self._base_currency is None:
            body = await self.api.get_json("/Organisation")
            self._base_currency = (body.get("Organisations") or [{}])[0].get("BaseCurrency")
            if not self._base_currency:
                raise RetriableError("Xero did not say the organisation's base currency")
        return self._base_currency

    # ------------------------------------------------------------------ paging
    STREAMS = {
        "contacts": ("/Contacts", "Contacts", {"summaryOnly": "true", "where": "IsCustomer==true"}),
        "invoices": ("/Invoices", "Invoices", {"summaryOnly": "true", "where": 'Type=="ACCREC"'}),
        "credit_notes": ("/CreditNotes", "CreditNotes", {"where": 'Type=="ACCRECCREDIT"'}),
        # customers' payments on invoices: not supplier payments, not credit-note refunds
        "payments": ("/Payments", "Payments", {"where": 'PaymentType=="ACCRECPAYMENT"'}),
        "prepayments": ("/Prepayments", "Prepayments", {"where": 'Type=="RECEIVE-PREPAYMENT"'}),
        "overpayments": ("/Overpayments", "Overpayments", {"where": 'Type=="RECEIVE-OVERPAYMENT"'}),
    }

    async def _records(self, stream: str, items: list[dict]) -> tuple:
        """One unreadable document is a record problem; the page and the sync go on."""
        if stream == "contacts":
            build, ident = self.customer, "ContactID"
        elif stream == "payments":
            base = await self.base_currency() if any(
                not (p.get("Invoice") or {}).get("CurrencyCode") for p in items) else ""
            build, ident = (lambda p: self.payment(p, base)), "PaymentID"
        elif stream in ("prepayments", "overpayments"):
            kind = "Prepayment" if stream == "prepayments" else "Overpayment"
            build, ident = (lambda p: self.credit(p, kind)), f"{kind}ID"
        else:
            credit = stream == "credit_notes"
            build = lambda i: self.invoice(i, credit=credit)  # noqa: E731
            ident = "CreditNoteID" if credit else "InvoiceID"
        return self.build_records(items, build, what=stream.rstrip("s"),
                                  ident=lambda x: x.get(ident) or x.get("InvoiceNumber"))

    async def _stream(self, stream: str, since: str | None, first_page: int = 1):
        """Pages of one stream, fetched up to 5 at a time, yielded in order."""
        path, key, params = self.STREAMS[stream]
        modified = if_modified_since(since) if since else None

        async def fetch(page: int) -> dict:
            return await self.api.get_json(path, params={**params, "page": str(page),
                                                         "pageSize": str(PAGE)},
                                           modified_since=modified)

        body = await fetch(first_page)
        items = body.get(key, [])
        count = (body.get("pagination") or {}).get("pageCount")
        yield first_page, items, bool(count and first_page >= count) or len(items) < PAGE
        if (count and first_page >= count) or len(items) < PAGE:
            return
        page, last = first_page + 1, count
        window: dict[int, asyncio.Task] = {}
        try:
            while True:
                while len(window) < 5 and (last is None or page <= last):
                    window[page] = asyncio.ensure_future(fetch(page))
                    page += 1
                if not window:
                    return
                nxt = min(window)
                body = await window.pop(nxt)
                items = body.get(key, [])
                end = (last is not None and nxt >= last) or len(items) < PAGE
                yield nxt, items, end
                if end:
                    return
        finally:
            for task in window.values():
                task.cancel()

    # ------------------------------------------------------------------ sync
    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        started = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
        loading = not cursor.get("invoices.since")
        runs = int(cursor.get("runs", "0"))
        every = self.settings.other_streams_every
        others = ["contacts", "credit_notes", "prepayments", "overpayments", "payments"]
        if loading:  # payments: the invoices' AmountDue already holds them; read from now on
            streams = ["contacts", "invoices", "credit_notes", "prepayments", "overpayments"]
        else:
            streams = ["invoices"] + (others if runs % every == every - 1 else [])
        for stream in streams:
            since = cursor.get(f"{stream}.since")
            if loading and since:
                continue  # this stream finished loading before a crash
            resume = int(cursor.get(f"{stream}.page", "0")) if loading else 0
            stamp = (cursor.get(f"{stream}.started") if loading else None) or started
            async for page, items, end in self._stream(stream, None if loading else since,
                                                       first_page=resume + 1):
                c = {f"{stream}.started": stamp, f"{stream}.page": str(page)} if loading else {}
                if end:
                    c[f"{stream}.since"] = stamp
                yield SyncPage(records=await self._records(stream, items), cursor=c)
        done = {"runs": str(runs + 1)}
        if loading and not cursor.get("payments.since"):  # history before the load is not read
            done["payments.since"] = cursor.get("invoices.started") or started
        yield SyncPage(cursor=done)

    @classmethod
    def oauth_for(cls, settings: XeroSettings) -> OAuthSpec:
        scopes = GRANULAR if settings.scopes == "granular" else BROAD
        if settings.grant == "client_credentials":  # Custom Connections: no browser, no openid
            scopes = tuple(x for x in scopes if x not in ("openid", "offline_access"))
        return cls.oauth.model_copy(update={"grant": settings.grant, "scopes": scopes})

    # ------------------------------------------------------------------ around a send
    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        out = []
        for i in range(0, len(external_ids), 40):
            body = await self.api.get_json("/Invoices", params={"IDs": ",".join(external_ids[i:i + 40]),
                                                                "summaryOnly": "true"})
            out += [r for r in (self.invoice(x) for x in body.get("Invoices", [])) if r]
        return out

    async def check(self) -> list[str]:
        """The token reaches the chosen organisation (GET /Organisation)."""
        return await self.problems_of(self.base_currency())

    async def fetch_pdf(self, external_id: str) -> bytes | None:
        r = await self.api.request("GET", f"/Invoices/{external_id}", accept="application/pdf")
        return r.content

    async def write_note(self, note: LedgerNote) -> None:
        await self.api.request("PUT", f"/Invoices/{note.invoice_external_id}/History",
                               json_body={"HistoryRecords": [{"Details": note.text[:450]}]})

    async def record_payment(self, payment: LedgerPayment) -> str:
        if not self.settings.payment_account_code:
            raise AuthError("set payment_account_code to record payments in Xero")
        r = await self.api.request("PUT", "/Payments", json_body={"Payments": [{
            "Invoice": {"InvoiceID": payment.invoice_external_id},
            "Account": {"Code": self.settings.payment_account_code},
            "Date": payment.date.isoformat(), "Amount": float(payment.amount),
            "Reference": payment.reference}]}, idempotency_key=payment.idempotency_key or None)
        made = r.json().get("Payments") or [{}]
        return made[0].get("PaymentID", "")

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        key = self.settings.webhook_key
        if not key:
            raise SignatureError("webhook_key is not configured")
        expected = base64.b64encode(hmac.new(key.get_secret_value().encode(), request.body,
                                             hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, request.header("x-xero-signature") or ""):
            raise SignatureError("x-xero-signature does not match the body")
        events = json.loads(request.body or b"{}").get("events", [])
        ids = tuple(e.get("resourceId", "") for e in events
                    if e.get("eventCategory") in ("INVOICE", "CONTACT"))
        # an empty event list is Xero's intent-to-receive check: 200 with an empty body
        return WebhookResult(status_code=200, events=(LedgerChanged(external_ids=ids),) if ids else ())


@hookimpl
def register_connectors(register):
    register(XeroConnector)
