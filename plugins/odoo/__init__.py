"""Odoo connector (Community and Enterprise, 16 to 19): customers, posted invoices and
customer payments.

Incremental on `write_date` by passes that can neither loop nor skip (`cursor.py`: Odoo
answers whole seconds, and a long transaction commits records dated before others).
Invoices group under the commercial partner (the company, not the contact). Cancelled
and reversed moves close the invoice. Reminders are posted to the invoice's chatter as
internal notes, never as e-mails to the customer.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from hub.contracts import (
    Address,
    Cursor,
    CustomerRecord,
    HttpConnector,
    InvoiceRecord,
    LedgerNote,
    LedgerPayment,
    PaymentRecord,
    PluginSettings,
    SyncPage,
)
from hub.errors import RelanceError
from hub.hookspecs import hookimpl
from plugins.odoo.cursor import changed_pages
from plugins.odoo.rpc import OdooRPC, fault

PARTNER_FIELDS = ["name", "email", "phone", "lang", "vat", "street", "street2", "zip", "city",
                  "country_code", "ref", "write_date", "is_company"]
MOVE_FIELDS = ["name", "move_type", "state", "commercial_partner_id", "invoice_date",
               "invoice_date_due", "amount_total", "amount_residual", "currency_id",
               "payment_state", "ref", "write_date", "company_id"]
PAYMENT_FIELDS = ["amount", "currency_id", "date", "partner_id", "reconciled_invoice_ids", "state"]


class OdooSettings(PluginSettings):
    url: str = Field(description="https://yourcompany.odoo.com or your server")
    database: str
    login: str
    api_key: SecretStr = Field(description="a user API key (a password works but is discouraged)")
    company: int | str | None = Field(None, description="only this company's invoices (id or name)")
    protocol: Literal["auto", "json2", "jsonrpc"] = "auto"
    page_size: int = Field(500, ge=1, le=5000)
    in_payment_is_paid: bool = Field(True, description="'in payment' stops reminders")
    pdf_via_send: bool = Field(False, description="fetch invoice PDFs through Odoo's Send & "
                               "Print wizard (an API key cannot use the report route). Side "
                               "effect: Odoo marks the invoice as sent, and may remember "
                               "'download' as the partner's sending method")
    late_commit_window: int = Field(1800, ge=0, description="seconds re-read behind the last "
                                    "sync, for transactions that commit late with an earlier "
                                    "write_date")


class OdooConnector(HttpConnector):
    name = "odoo"
    description = "Odoo 16–19 (JSON-RPC or JSON-2), API key"
    Settings: ClassVar = OdooSettings
    provider = "Odoo"
    auth = "api_key"
    supports_incremental = True
    supports_refresh = True
    supports_writeback = True
    supports_payments_writeback = True

    def __init__(self, settings, context):
        super().__init__(settings, context)
        s = settings
        self.rpc = OdooRPC(self, s.url, s.database, s.login, s.api_key.get_secret_value(),
                           s.protocol)
        self._company_domain: list | None = None
        self.supports_pdf = s.pdf_via_send  # type: ignore[misc]  # a setting turns PDFs on

    pdf_hint = "set `pdf_via_send: true` to fetch them through Odoo's Send & Print (Odoo then marks the invoice sent)"

    # ------------------------------------------------------------------ Odoo's errors
    def auth_hint(self) -> str:
        return "check login and API key (Preferences → Account Security → API keys)"

    def error_for(self, response: httpx.Response, where: str, *, sending: bool = False):
        """Odoo's faults carry the exception's name: access, validation and user errors
        are permanent; an answer that is not JSON (a proxy's page) is retried."""
        if response.status_code in self.auth_statuses or response.status_code == 429:
            return super().error_for(response, where, sending=sending)
        try:
            body = self.json_body(response)
        except RelanceError as exc:
            return exc
        if not isinstance(body, dict):
            return super().error_for(response, where, sending=sending)
        return fault(body.get("name", ""), body.get("message", response.text[:200]), where)

    async def company_domain(self) -> list:
        if self._company_domain is None:
            c = self.settings.company
            if c is None:
                self._company_domain = []
            elif isinstance(c, int) or str(c).isdigit():
                self._company_domain = [("company_id", "=", int(c))]
            else:
                found = await self.rpc.call("res.company", "search_read", domain=[("name", "=", c)],
                                            fields=["id"], limit=1)
                if not found:
                    from hub.errors import PermanentError
                    raise PermanentError(f"connection {self.context.name}: no Odoo company named {c!r}")
                self._company_domain = [("company_id", "=", found[0]["id"])]
        return self._company_domain

    # ------------------------------------------------------------------ mapping
    @staticmethod
    def _str(v: Any) -> str | None:
        return v if isinstance(v, str) and v else None

    def customer(self, p: dict) -> CustomerRecord:
        lang = self._str(p.get("lang"))
        return CustomerRecord(
            external_id=str(p["id"]), name=p.get("name") or f"partner {p['id']}",
            code=self._str(p.get("ref")), email=self._str(p.get("email")),
            phone=self._str(p.get("phone")), mobile=self._str(p.get("mobile")),
            language=lang, tax_id=self._str(p.get("vat")),
            # invoices name their commercial partner: a person without a VAT number there is
            # a consumer (the late-payment law that applies differs)
            customer_type="consumer" if p.get("is_company") is False and not p.get("vat")
            else "business",
            address=Address(line1=self._str(p.get("street")), line2=self._str(p.get("street2")),
                            city=self._str(p.get("city")), postcode=self._str(p.get("zip")),
                            country=self._str(p.get("country_code"))))

    def invoice(self, m: dict) -> InvoiceRecord:
        state, pay = m.get("state"), m.get("payment_state")
        if state == "cancel" or pay == "reversed":
            status = "void"
        elif pay == "paid" or (pay == "in_payment" and self.settings.in_payment_is_paid):
            status = "paid"
        else:
            status = "open"
        currency = m["currency_id"][1] if isinstance(m.get("currency_id"), list) else "EUR"
        partner = m["commercial_partner_id"]
        return InvoiceRecord(
            kind="credit_note" if m.get("move_type") == "out_refund" else "invoice",
            external_id=str(m["id"]), customer_external_id=str(partner[0] if isinstance(partner, list) else partner),
            number=m.get("name") or f"move {m['id']}", currency=currency,
            total=Decimal(str(m.get("amount_total") or 0)),
            amount_due=Decimal(str(m.get("amount_residual") or 0)),
            issue_date=m.get("invoice_date") or None,
            due_date=m.get("invoice_date_due") or m.get("invoice_date") or dt.date.today(),
            status=status, reference=self._str(m.get("ref")))

    # ------------------------------------------------------------------ sync
    def _pages(self, model: str, domain: list, fields: list[str], cursor: str):
        return changed_pages(self.rpc.call, model, domain, [*fields, "write_date"], cursor,
                             page_size=self.settings.page_size,
                             window=dt.timedelta(seconds=self.settings.late_commit_window))

    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        # The server's version, protocol and uid ride in the cursor, so an incremental sync
        # with nothing new costs one call per model, without version or login calls.
        known = cursor.get("server", "")
        if known and self.rpc.version is None:
            version, protocol, uid = known.split("|")
            self.rpc.version, self.rpc.protocol = (int(version),), protocol
            self.rpc.uid = int(uid) if uid else None
        await self.rpc.detect()
        if self.rpc.protocol == "jsonrpc":
            await self.rpc.authenticate()
        server = f"{(self.rpc.version or (0,))[0]}|{self.rpc.protocol}|{self.rpc.uid or ''}"
        if server != known:
            yield SyncPage(cursor={"server": server})
        company = await self.company_domain()  # an unknown company fails before any read
        fields = PARTNER_FIELDS + (["mobile"] if self.major < 18 else [])
        shared = [("company_id", "in", [company[0][2], False])] if company else []
        async for rows, position in self._pages("res.partner", [("customer_rank", ">", 0), *shared],
                                                fields, cursor.get("res.partner", "")):
            yield SyncPage(records=self.build_records(rows, self.customer, what="res.partner",
                                                      ident=lambda p: p.get("id")),
                           cursor={"res.partner": position})
        domain = [("move_type", "in", ["out_invoice", "out_refund"]), ("state", "in", ["posted", "cancel"]), *company]
        async for rows, position in self._pages("account.move", domain, MOVE_FIELDS,
                                                cursor.get("account.move", "")):
            yield SyncPage(records=self.build_records(rows, self.invoice, what="account.move",
                                                      ident=lambda m: m.get("id")),
                           cursor={"account.move": position})
        states = ["in_process", "paid", "canceled", "rejected"] if self.major >= 18 \
            else ["posted", "cancel"]
        domain = [("payment_type", "=", "inbound"), ("partner_type", "=", "customer"),
                  ("state", "in", states), *company]
        async for rows, position in self._pages("account.payment", domain, PAYMENT_FIELDS,
                                                cursor.get("account.payment", "")):
            yield SyncPage(records=self.build_records(rows, self.payment, what="account.payment",
                                                      ident=lambda m: m.get("id")),
                           cursor={"account.payment": position})

    @property
    def major(self) -> int:
        return (self.rpc.version or (17,))[0]

    def payment(self, p: dict) -> PaymentRecord:
        """A customer payment; linked to its invoice when it settles exactly one (a payment
        over several stays the customer's: the invoices' residuals carry the split)."""
        invoices = p.get("reconciled_invoice_ids") or []
        partner = p.get("partner_id")
        return PaymentRecord(
            external_id=str(p["id"]), amount=Decimal(str(p["amount"])),
            currency=p["currency_id"][1], date=p["date"],
            invoice_external_id=str(invoices[0]) if len(invoices) == 1 else None,
            customer_external_id=str(partner[0]) if isinstance(partner, list) else None,
            void=p.get("state") in ("cancel", "canceled", "rejected"))

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        # search_read, not read: a deleted move is left out (gone), where read() would fail
        # the whole batch with MissingError; an id that is no number cannot be Odoo's
        ids = [int(i) for i in external_ids if str(i).isdigit()]
        if not ids:
            return []
        rows = await self.rpc.call("account.move", "search_read", domain=[("id", "in", ids)],
                                   fields=MOVE_FIELDS)
        return [self.invoice(m) for m in rows]

    async def fetch_pdf(self, external_id: str) -> bytes | None:
        """The invoice's own PDF: the one Odoo already made, or one made by Send & Print in
        download-only mode (`pdf_via_send`), read back from `invoice_pdf_report_id`."""
        if not self.settings.pdf_via_send:
            return None
        move = int(external_id)
        pdf = await self._stored_pdf(move)
        if pdf is None:
            ctx = {"active_model": "account.move", "active_ids": [move]}
            if self.major >= 18:
                model, values = "account.move.send.wizard", {"move_id": move,
                                                             "sending_methods": ["manual"]}
            else:
                model, values = "account.move.send", {"checkbox_download": True,
                                                      "checkbox_send_mail": False}
            wizard = await self.rpc.call(model, "create", values, context=ctx)
            wizard_id = wizard[0] if isinstance(wizard, list) else wizard
            await self.rpc.call(model, "action_send_and_print", [wizard_id], context=ctx)
            pdf = await self._stored_pdf(move)
        return pdf

    async def _stored_pdf(self, move: int) -> bytes | None:
        [row] = await self.rpc.call("account.move", "read", [move], fields=["invoice_pdf_report_id"])
        ref = row.get("invoice_pdf_report_id")
        if not ref:
            return None
        [att] = await self.rpc.call("ir.attachment", "read", [ref[0] if isinstance(ref, list) else ref],
                                    fields=["datas"])
        return base64.b64decode(att["datas"]) if att.get("datas") else None

    async def write_note(self, note: LedgerNote) -> None:
        # From Odoo 17 a str body is escaped (RPC cannot send Markup): `body_is_html` posts
        # the markup once; Odoo 16 takes the markup as it is
        await self.rpc.detect()
        extra = {"body_is_html": True} if self.major >= 17 else {}
        await self.rpc.call("account.move", "message_post", [int(note.invoice_external_id)],
                            body=f"<p>{html.escape(note.text)}</p>", message_type="comment",
                            subtype_xmlid="mail.mt_note", **extra)

    async def record_payment(self, payment: LedgerPayment) -> str:
        ctx = {"active_model": "account.move", "active_ids": [int(payment.invoice_external_id)]}
        wizard = await self.rpc.call("account.payment.register", "create",
                                     {"amount": float(payment.amount),
                                      "payment_date": payment.date.isoformat(),
                                      "communication": payment.reference}, context=ctx)
        wizard_id = wizard[0] if isinstance(wizard, list) else wizard
        await self.rpc.call("account.payment.register", "action_create_payments", [wizard_id],
                            context=ctx)
        return f"account.payment.register/{wizard_id}"

    async def check(self) -> list[str]:
        out = []
        protocol = await self.rpc.detect()
        if protocol == "jsonrpc":
            await self.rpc.authenticate()
        else:
            await self.rpc.call("res.users", "context_get")
        if self.settings.company is None:
            companies = await self.rpc.call("res.company", "search_read", domain=[],
                                            fields=["name"], limit=20)
            if len(companies) > 1:
                out.append(f"warning: this user sees {len(companies)} companies "
                           f"({', '.join(c['name'] for c in companies)}) and no `company:` is "
                           "set, so their invoices and customers are mixed: set `company:` "
                           "(one connection per company)")
        else:
            await self.company_domain()  # an unknown name fails here, before any read
        version = ".".join(map(str, self.rpc.version or ()))
        out.append(f"note: Odoo {version}, using {'JSON-2' if protocol == 'json2' else 'JSON-RPC'}; "
                   "invoice PDFs are not fetched through the API key (attachments off)")
        key = self.settings.api_key.get_secret_value()
        if len(key) < 32:
            out.append("warning: this looks like a password, not an API key: create one in "
                       "Preferences → Account Security")
        return out


@hookimpl
def register_connectors(register):
    register(OdooConnector)
