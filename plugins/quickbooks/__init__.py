"""QuickBooks Online connector (Accounting API v3): OAuth2 through the hub, query paging
for the initial load, Change Data Capture for increments, PDFs, notes, payments, webhooks.

Initial load: `select * from Customer|Invoice|CreditMemo` with STARTPOSITION/MAXRESULTS
1000, a page per committed cursor step. Payments are not needed to remind (invoice
balances carry them) and arrive from the first CDC on, which keeps the initial load of
100k invoices within ~105 calls. Increments: one CDC call for all entities since the
cursor; an entity that hits CDC's 1,000-object cap, or a cursor older than CDC's 30-day
look-back, falls back to a query on `MetaData.LastUpdatedTime`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal

import httpx
from babel.numbers import get_territory_currencies
from pydantic import Field, SecretStr

from hub.contracts import (
    Cursor,
    HttpConnector,
    InvoiceRecord,
    LedgerChanged,
    LedgerNote,
    LedgerPayment,
    OAuthSpec,
    PluginSettings,
    SyncPage,
    WebhookRequest,
    WebhookResult,
    country_code,
    retry_after,
)
from hub.errors import AuthError, PermanentError, RateLimitedError, RelanceError, SignatureError
from hub.hookspecs import hookimpl
from plugins.quickbooks.faults import fault_of
from plugins.quickbooks.mapping import Home, ext, needs_home, records

HOSTS = {"production": "https://quickbooks.api.intuit.com",
         "sandbox": "https://sandbox-quickbooks.api.intuit.com"}
PAGE = 1000  # the documented MAXRESULTS maximum
CDC_DAYS = 30
LOAD = ("Customer", "Invoice", "CreditMemo")
CDC_ENTITIES = ("Customer", "Invoice", "CreditMemo", "Payment")


class QuickBooksSettings(PluginSettings):
    client_id: str
    client_secret: SecretStr
    environment: Literal["sandbox", "production"] = "production"
    base_url: str | None = Field(None, description="a proxy or mock instead of Intuit's host")
    minorversion: int = 75
    webhook_verifier_token: SecretStr | None = None
    payment_deposit_account: str | None = Field(None, description="Account Id for recorded payments")


class QuickBooksConnector(HttpConnector):
    name = "quickbooks"
    description = "QuickBooks Online (Intuit Accounting API v3)"
    Settings: ClassVar = QuickBooksSettings
    provider = "QuickBooks"
    auth = "oauth2"
    oauth = OAuthSpec(authorize_url="https://appcenter.intuit.com/connect/oauth2",
                      token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
                      scopes=("com.intuit.quickbooks.accounting",), pkce=False,
                      callback_params=("realmId",))
    supports_incremental = True
    supports_refresh = True
    supports_pdf = True
    supports_writeback = True
    supports_payments_writeback = True
    idempotent_payments = True  # Intuit's `requestid`: a repeat returns the first answer
    supports_webhooks = True

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self._home: Home | None = None

    #: the documented 500 requests a minute per realm, counted for every worker (the
    #: budget paces a little below it)
    RATE = "500/minute"

    # ------------------------------------------------------------------ wire
    def _base(self) -> str:
        host = (self.settings.base_url or HOSTS[self.settings.environment]).rstrip("/")
        realm = self.context.oauth.extras().get("realmId") if self.context.oauth else None
        if not realm:
            raise AuthError(f"connection {self.context.name} has no realmId: run `relance connect`")
        return f"{host}/v3/company/{realm}"

    async def _request(self, method: str, path: str, *, params: dict | None = None,
                       body: dict | None = None, accept: str = "application/json") -> httpx.Response:
        params = {**(params or {}), "minorversion": str(self.settings.minorversion)}
        base, realm = self._base(), self.context.oauth.extras().get("realmId")
        await self.context.budget.take(f"quickbooks:{realm}", self.RATE)  # before the slot:
        async with self.context.budget.slot(f"quickbooks:{realm}", 10):  # none held waiting
            try:
                return await self.request(method, base + path, where=path, params=params,
                                          json=body, headers={"Accept": accept},
                                          auth=self.context.auth)
            except RateLimitedError:  # every worker waits, not only this one
                self.context.budget.spend_rest(f"quickbooks:{realm}", self.RATE)
                raise

    @staticmethod
    def _fault_of(response: httpx.Response) -> dict[str, Any]:
        """Intuit's fault, however it comes: `Fault` (documented), `fault` with lowercase
        keys (real 401 bodies), or `<IntuitResponse><Fault>` XML; keys as documented."""
        return fault_of(response.text)

    def error_message(self, response: httpx.Response) -> str:
        fault = self._fault_of(response)
        text = "; ".join(f"{e.get('Message', '')}: {e.get('Detail', '')}"
                         + (f" (element {e['element']})" if e.get("element") else "")
                         for e in fault.get("Error", []))
        return f"{fault.get('type', '')} {text}".strip() or response.text[:200]

    def auth_hint(self) -> str:
        return "run `relance connect`"

    def body_error(self, response: httpx.Response) -> RelanceError | None:
        """QuickBooks can answer 200 with a `Fault` (a query it could not run): that is not
        an empty result, and nothing may be closed or sent on it."""
        head = response.content[:200]
        if b'"Fault"' not in head and b'"fault"' not in head and b"<Fault" not in head:
            return None
        fault = self._fault_of(response)
        if not fault:
            return None
        kind = AuthError if fault.get("type", "").upper() == "AUTHENTICATION" else PermanentError
        return kind(f"QuickBooks answered {response.status_code} with a fault: "
                    f"{self.error_message(response)}")

    def error_for(self, response: httpx.Response, where: str, *, sending: bool = False):
        fault = self._fault_of(response)
        if response.status_code == 403 and any(
                e.get("code") == "3001" or "ThrottleExceeded" in (e.get("Message") or "")
                for e in fault.get("Error", [])):  # Intuit's throttle, sent as 403 too
            return RateLimitedError(f"QuickBooks throttled {where}: {self.error_message(response)}",
                                    retry_after=retry_after(response, 60))
        if fault.get("type", "").upper() == "AUTHENTICATION":
            return AuthError(f"QuickBooks {response.status_code} on {where}: "
                             f"{self.error_message(response)} — {self.auth_hint()}")
        return super().error_for(response, where, sending=sending)

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = await self._request(method, path, **kw)
        return json.loads(r.text, parse_float=Decimal)

    async def query(self, statement: str) -> dict[str, Any]:
        return (await self._json("GET", "/query", params={"query": statement})).get("QueryResponse", {})

    # ------------------------------------------------------------------ mapping
    async def home(self) -> Home:
        """The company's country and home currency, read once (two queries) and only when
        an object leaves them out."""
        if self._home is None:
            info = (await self.query("select * from CompanyInfo")).get("CompanyInfo") or [{}]
            prefs = (await self.query("select * from Preferences")).get("Preferences") or [{}]
            country = info[0].get("Country")
            currency = ((prefs[0].get("CurrencyPrefs") or {}).get("HomeCurrency") or {}).get("value")
            if not currency and country_code(country):
                currency = (get_territory_currencies(country_code(country)) or [None])[0]
            if not currency:
                raise PermanentError("QuickBooks did not say the company's home currency "
                                     "(Preferences.CurrencyPrefs.HomeCurrency)")
            self._home = Home(country=country, currency=currency)
        return self._home

    async def records(self, entity: str, objs: list[dict]) -> tuple:
        """One object that cannot be read is a record problem; the page goes on."""
        home = await self.home() if any(needs_home(entity, o) for o in objs) else None
        out: list = []
        for part in self.build_records(objs, lambda o: tuple(records(entity, o, home)),
                                       what=entity, ident=lambda o: o.get("Id")):
            out.extend(part if isinstance(part, tuple) else (part,))
        return tuple(out)

    # ------------------------------------------------------------------ sync
    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        since = cursor.get("cdc.since")
        if not since:
            async for page in self._initial(cursor):
                yield page
            return
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(since)
        if age > dt.timedelta(days=CDC_DAYS - 1):  # CDC cannot look back that far
            async for page in self._by_query(CDC_ENTITIES, since):
                yield page
            return
        body = await self._json("GET", "/cdc", params={"entities": ",".join(CDC_ENTITIES),
                                                       "changedSince": since})
        now = utc(dt.datetime.fromisoformat(body["time"])) if body.get("time") else \
            utc(dt.datetime.now(dt.UTC))
        records, overflow = [], []
        for block in (body.get("CDCResponse") or [{}])[0].get("QueryResponse", []):
            for entity in CDC_ENTITIES:
                objs = block.get(entity)
                if objs is None:
                    continue
                if len(objs) >= PAGE:
                    overflow.append(entity)
                records += await self.records(entity, objs)
        if overflow:  # more changed than CDC returns: read those entities by query
            async for page in self._by_query(tuple(overflow), since, final=now):
                yield page
        yield SyncPage(records=tuple(records), cursor={"cdc.since": now})

    async def _initial(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        """Page through each entity. `load.at` = "<entity index>:<position>" only grows, so
        the cursor moves forward and a crash resumes at the last committed page."""
        started = cursor.get("load.started") or utc(dt.datetime.now(dt.UTC))
        at = cursor.get("load.at") or "0:000000001"
        index, position = (int(x) for x in at.split(":"))
        while index < len(LOAD):
            name = LOAD[index]
            resp = await self.query(f"select * from {name} STARTPOSITION {position} MAXRESULTS {PAGE}")
            objs = resp.get(name, [])
            records = await self.records(name, objs)
            if len(objs) == PAGE:
                position += PAGE
            else:
                index, position = index + 1, 1
            done = index == len(LOAD)
            page_cursor = {"load.started": started, "load.at": f"{index}:{position:09d}"}
            if done:  # the load is complete: from now on, CDC from when it started
                page_cursor["cdc.since"] = started
            yield SyncPage(records=records, cursor=page_cursor)

    async def _by_query(self, entities: Sequence[str], since: str, final: str | None = None):
        stamp = final or utc(dt.datetime.now(dt.UTC))
        for name in entities:
            position = 1
            while True:
                resp = await self.query(f"select * from {name} where MetaData.LastUpdatedTime > "
                                        f"'{since}' STARTPOSITION {position} MAXRESULTS {PAGE}")
                objs = resp.get(name, [])
                position += len(objs)
                yield SyncPage(records=await self.records(name, objs))
                if len(objs) < PAGE:
                    break
        if final is None:
            yield SyncPage(cursor={"cdc.since": stamp})

    # ------------------------------------------------------------------ around a send
    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        ids = [i for i in external_ids if i.isdigit()]  # QuickBooks ids are numbers (CM…: ours)
        out = []
        for i in range(0, len(ids), 100):
            in_list = ",".join(f"'{x}'" for x in ids[i:i + 100])
            resp = await self.query(f"select * from Invoice where Id in ({in_list})")
            # a deleted invoice is not answered (or answered as deleted): gone, not open
            out += [r for r in await self.records("Invoice", resp.get("Invoice", []))
                    if isinstance(r, InvoiceRecord)]
        return out

    async def check(self) -> list[str]:
        """The token reaches the company (its CompanyInfo and Preferences, read once)."""
        return await self.problems_of(self.home())

    async def fetch_pdf(self, external_id: str) -> bytes | None:
        r = await self._request("GET", f"/invoice/{external_id}/pdf", accept="application/pdf")
        return r.content

    async def write_note(self, note: LedgerNote) -> None:
        # An Attachable note linked to the invoice: visible in QuickBooks, and the user's own
        # memo (PrivateNote/CustomerMemo) is never overwritten.
        await self._json("POST", "/attachable", body={
            "Note": note.text[:4000],
            "AttachableRef": [{"EntityRef": {"type": "Invoice", "value": note.invoice_external_id},
                               "IncludeOnSend": False}]})

    async def record_payment(self, payment: LedgerPayment) -> str:
        [inv] = await self.refresh([payment.invoice_external_id])
        body = {"TotalAmt": float(payment.amount), "TxnDate": payment.date.isoformat(),
                "CustomerRef": {"value": inv.customer_external_id}, "PaymentRefNum": payment.reference[:21],
                "Line": [{"Amount": float(payment.amount),
                          "LinkedTxn": [{"TxnId": payment.invoice_external_id, "TxnType": "Invoice"}]}]}
        if self.settings.payment_deposit_account:
            body["DepositToAccountRef"] = {"value": self.settings.payment_deposit_account}
        created = await self._json("POST", "/payment", body=body, params={
            "requestid": payment.idempotency_key[:50]} if payment.idempotency_key else None)
        return created.get("Payment", {}).get("Id", "")

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        token = self.settings.webhook_verifier_token
        got = request.header("intuit-signature") or ""
        if not token:
            raise SignatureError("webhook_verifier_token is not configured")
        expected = base64.b64encode(hmac.new(token.get_secret_value().encode(), request.body,
                                             hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, got):
            raise SignatureError("intuit-signature does not match the body")
        realm = self.context.oauth.extras().get("realmId") if self.context.oauth else None
        try:
            body = json.loads(request.body)
        except ValueError:
            raise ValueError("a signed QuickBooks webhook whose body is not JSON") from None
        ids = tuple(changed_ids(body, realm))
        return WebhookResult(events=(LedgerChanged(external_ids=ids),) if ids else ())


def changed_ids(body: Any, realm: str | None) -> list[str]:
    """The objects a webhook says changed, in this company (`realm`): the CloudEvents array
    (`[{"type": "qbo.invoice.updated.v1", "intuitentityid", "intuitaccountid"}]`, Intuit's
    format from 2026) or the older `{"eventNotifications": [...]}`."""
    if isinstance(body, list):
        return [ext(_entity(e.get("type", "")), str(e["intuitentityid"])) for e in body
                if isinstance(e, dict) and e.get("intuitentityid") is not None
                and (not realm or str(e.get("intuitaccountid")) == realm)]
    if not isinstance(body, dict):
        raise ValueError("a QuickBooks webhook is a JSON array or object")
    return [ext(e.get("name", ""), str(e.get("id", ""))) for n in body.get("eventNotifications", [])
            if not realm or n.get("realmId") == realm
            for e in n.get("dataChangeEvent", {}).get("entities", [])]


def _entity(kind: str) -> str:
    """`qbo.creditmemo.updated.v1` → `CreditMemo` (the names `ext` knows)."""
    name = kind.split(".")[1] if kind.count(".") >= 2 else ""
    return {"creditmemo": "CreditMemo"}.get(name.lower(), name.capitalize())


def utc(moment: dt.datetime) -> str:
    """Cursor timestamps in one format (UTC), so they compare as they sort."""
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


@hookimpl
def register_connectors(register):
    register(QuickBooksConnector)
