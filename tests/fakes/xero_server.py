"""A fake Xero Accounting API: Contacts, Invoices, CreditNotes, Payments with pagination,
If-Modified-Since, IDs=, History, PDFs, /connections — and, optionally, Xero's per-tenant
limits (5 concurrent, 60 calls in any 60 s) answered with 429 + Retry-After like Xero."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import math
import re
import time
from typing import Any

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def ms(moment: dt.datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


class FakeXero:
    def __init__(self, invoices=10, contacts=3, credit_notes=1, latency=0.0, limits=False):
        self.n_inv, self.n_con, self.n_cn = invoices, contacts, credit_notes
        self.latency, self.limits = latency, limits
        self.calls = self.throttled = 0
        self.window: collections.deque[float] = collections.deque()
        self.in_flight = 0
        self.changed: dict[str, dict] = {}   # InvoiceID -> overrides (with a later UpdatedDateUTC)
        self.payments: list[dict] = []  # made by PUT /Payments
        # what GET /Payments, /Prepayments, /Overpayments list (filtered on `where` and
        # If-Modified-Since as Xero does), and the organisation's base currency
        self.listed: dict[str, list[dict]] = {"/Payments": [], "/Prepayments": [], "/Overpayments": []}
        self.base_currency = "NZD"
        self.listings: list[tuple[str, str | None]] = []  # (route, If-Modified-Since) of each read
        self.history: list[tuple[str, str]] = []
        self.tenant = "7a513ee4-4e1e-4a4c-9e5b-1e1d2e0a0a11"

    def contact(self, i: int) -> dict[str, Any]:
        return {"ContactID": f"c-{i:06d}", "Name": f"Customer {i}", "EmailAddress": f"ap{i}@example.com",
                "AccountNumber": f"C{i}", "IsCustomer": True, "ContactStatus": "ACTIVE",
                "Phones": [{"PhoneType": "MOBILE", "PhoneNumber": "7400 123456", "PhoneCountryCode": "+44"}],
                "Addresses": [{"AddressType": "POBOX", "AddressLine1": f"{i} High St", "City": "London",
                               "PostalCode": "SW1A 1AA", "Country": "GB"}],
                "UpdatedDateUTC": ms(EPOCH)}

    def inv(self, i: int) -> dict[str, Any]:
        iid = f"i-{i:08d}"
        base = {"Type": "ACCREC", "InvoiceID": iid, "InvoiceNumber": f"INV-{i:06d}",
                "Contact": {"ContactID": f"c-{i % self.n_con + 1:06d}", "Name": f"Customer {i % self.n_con + 1}"},
                "Date": ms(EPOCH), "DueDate": ms(EPOCH + dt.timedelta(days=30)), "Status": "AUTHORISED",
                "LineAmountTypes": "Exclusive", "SubTotal": 100.0, "TotalTax": 20.0, "Total": 120.0,
                "AmountDue": 120.0, "AmountPaid": 0.0, "AmountCredited": 0.0, "CurrencyCode": "GBP",
                "UpdatedDateUTC": ms(EPOCH)}
        return {**base, **self.changed.get(iid, {})}

    def credit(self, i: int) -> dict[str, Any]:
        return {"Type": "ACCRECCREDIT", "CreditNoteID": f"cn-{i:06d}", "CreditNoteNumber": f"CN-{i}",
                "Contact": {"ContactID": "c-000001", "Name": "Customer 1"}, "Date": ms(EPOCH),
                "Status": "AUTHORISED", "Total": 30.0, "RemainingCredit": 30.0, "CurrencyCode": "GBP",
                "UpdatedDateUTC": ms(EPOCH)}

    def change(self, i: int, **fields) -> None:
        fields["UpdatedDateUTC"] = ms(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        self.changed[f"i-{i:08d}"] = fields

    # ------------------------------------------------------------------ API
    def limited(self) -> dict[str, str] | None:
        if not self.limits:
            return None
        now = time.monotonic()
        while self.window and now - self.window[0] >= 60:
            self.window.popleft()
        if len(self.window) >= 60 or self.in_flight > 5:
            self.throttled += 1
            retry = 60 - (now - self.window[0]) if self.window else 1
            return {"Retry-After": str(max(1, math.ceil(retry))), "X-Rate-Limit-Problem": "minute",
                    "X-MinLimit-Remaining": "0", "X-DayLimit-Remaining": "4000"}
        self.window.append(now)
        return None

    def handle(self, method: str, path: str, params: dict, headers: dict, body: Any) -> tuple[int, Any, dict]:
        self.calls += 1
        problem = self.limited()
        if problem:
            return 429, {"Title": "Too Many Requests"}, problem
        extra = {"X-MinLimit-Remaining": str(60 - len(self.window)) if self.limits else "60",
                 "X-DayLimit-Remaining": "4999", "X-AppMinLimit-Remaining": "9999"}
        if path.lower().endswith("/connections"):
            return 200, [{"id": "conn-1", "tenantId": self.tenant, "tenantType": "ORGANISATION",
                          "tenantName": "Demo Company (UK)"}], extra
        if headers.get("xero-tenant-id") != self.tenant:
            return 403, {"Type": "AuthorisationUnsuccessful", "Detail": "AuthorizationUnsuccessful"}, extra
        route = path.split("/api.xro/2.0", 1)[1]
        if method == "PUT" and route.endswith("/History"):
            self.history.append((route.split("/")[2], body["HistoryRecords"][0]["Details"]))
            return 200, {"HistoryRecords": body["HistoryRecords"]}, extra
        if route.startswith("/Invoices/") and headers.get("accept") == "application/pdf":
            return 200, b"%PDF-1.4 xero", extra
        since = headers.get("if-modified-since")
        after = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC) if since else None
        page, size = int(params.get("page", 1)), int(params.get("pageSize", 100))
        if route == "/Invoices":
            if "IDs" in params:
                wanted = [x for x in params["IDs"].split(",") if x.startswith("i-")
                          and x[2:].isdigit() and 1 <= int(x[2:]) <= self.n_inv]
                items = [self.inv(int(x[2:])) for x in wanted]  # an unknown id: left out
                return 200, {"Invoices": items}, extra
            if after:
                items = [self.inv(int(k.split("-")[1])) for k in self.changed]
                items = [x for x in items if _when(x["UpdatedDateUTC"]) > after]
                return 200, _page("Invoices", items, page, size), extra
            return 200, _lazy("Invoices", self.n_inv, self.inv, page, size), extra
        if route == "/Contacts":
            return 200, ({"Contacts": [], "pagination": {"page": 1, "pageSize": size, "pageCount": 0,
                                                         "itemCount": 0}}
                         if after else _lazy("Contacts", self.n_con, self.contact, page, size)), extra
        if route == "/CreditNotes":
            notes = {"CreditNotes": []} if after else _lazy("CreditNotes", self.n_cn, self.credit, page, size)
            return 200, notes, extra
        if route == "/Payments" and method == "PUT":  # as Xero answers: the payments made
            made = [{**p, "PaymentID": f"0d0f0000-0000-4000-8000-{len(self.payments) + i:012d}",
                     "Status": "AUTHORISED"} for i, p in enumerate(body["Payments"])]
            self.payments += made
            return 200, {"Payments": made}, extra
        if route == "/Organisation":
            return 200, {"Organisations": [{"Name": "Demo", "BaseCurrency": self.base_currency}]}, extra
        if route in self.listed:
            self.listings.append((route, since))
            m = re.fullmatch(r'(\w+)=="([^"]*)"', params.get("where", ""))
            items = [x for x in self.listed[route] if (not m or x.get(m[1]) == m[2])
                     and (not after or _when(x["UpdatedDateUTC"]) > after)]
            return 200, _page(route[1:], items, page, size), extra
        return 404, {"Message": "not faked"}, extra

    # ------------------------------------------------------------------ serving
    def app(self):
        import json

        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def endpoint(request):
            self.in_flight += 1
            try:
                if self.latency:
                    await asyncio.sleep(self.latency)
                raw = await request.body()
                status, out, headers = self.handle(request.method, request.url.path,
                                                   dict(request.query_params), dict(request.headers),
                                                   json.loads(raw) if raw else None)
            finally:
                self.in_flight -= 1
            if isinstance(out, bytes):
                return Response(out, media_type="application/pdf", headers=headers)
            return JSONResponse(out, status_code=status, headers=headers)

        return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "PUT", "POST"])])

    def serve(self, port: int):
        from tests.fakes.serving import serve_app

        self.server = serve_app(self.app(), port)
        return self


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(value[6:value.index("+")]) / 1000, dt.UTC)


def _lazy(key: str, total: int, make, page: int, size: int) -> dict:
    start = (page - 1) * size
    items = [make(i) for i in range(start + 1, min(total, start + size) + 1)]
    return {key: items, "pagination": {"page": page, "pageSize": size,
                                       "pageCount": math.ceil(total / size), "itemCount": total}}


def _page(key: str, items: list, page: int, size: int) -> dict:
    chunk = items[(page - 1) * size:page * size]
    return {key: chunk, "pagination": {"page": page, "pageSize": size,
                                       "pageCount": max(1, math.ceil(len(items) / size)),
                                       "itemCount": len(items)}}
