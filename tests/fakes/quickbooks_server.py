"""A fake QuickBooks Online: query paging, CDC, Faults, PDFs, attachables — shaped like
Intuit's documented JSON (element names as in the v3 XSD). Data is generated on demand."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

T0 = "2026-01-01T00:00:00-08:00"


class FakeQuickBooks:
    def __init__(self, invoices=10, customers=3, credit_memos=2, latency=0.0):
        self.n = {"Invoice": invoices, "Customer": customers, "CreditMemo": credit_memos, "Payment": 0}
        self.latency, self.calls = latency, 0
        self.changes: list[tuple[str, str, dict]] = []  # (time, entity, object)
        self.attachables: list[dict] = []
        self.throttle = 0  # answer the next N requests with 429
        self.fault_in_200 = 0  # answer the next N queries 200 with a Fault, as Intuit can
        self.payments: dict[str, dict] = {}  # requestid -> the Payment made
        self.country, self.home_currency = "US", "USD"  # CompanyInfo, Preferences

    @property
    def now(self) -> str:
        stamps = [dt.datetime.fromisoformat(st) for st, _, _ in self.changes]
        return max([dt.datetime.now(dt.UTC), *stamps]).isoformat()

    def obj(self, entity: str, i: int) -> dict[str, Any]:
        meta = {"CreateTime": T0, "LastUpdatedTime": T0}
        if entity == "Customer":
            return {"Id": str(i), "DisplayName": f"Customer {i}", "PrimaryEmailAddr": {"Address": f"c{i}@example.com"},
                    "PrimaryPhone": {"FreeFormNumber": "(555) 555-0100"}, "PreferredDeliveryMethod": "Email",
                    "BillAddr": {"Line1": f"{i} Main St", "City": "Mountain View", "CountrySubDivisionCode": "CA",
                                 "PostalCode": "94043", "Country": "USA"}, "Active": True, "MetaData": meta}
        if entity == "CreditMemo":
            return {"Id": str(i), "DocNumber": f"CM-{i}", "TxnDate": "2026-10-05", "TotalAmt": 50.0,
                    "RemainingCredit": 50.0, "CustomerRef": {"value": "1"}, "CurrencyRef": {"value": "USD"},
                    "MetaData": meta}
        cust = str(i % self.n["Customer"] + 1)
        return {"Id": str(i), "DocNumber": f"{1000 + i}", "TxnDate": "2026-10-01", "DueDate": "2026-10-31",
                "TotalAmt": 150.0, "Balance": 150.0, "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                "CustomerRef": {"value": cust, "name": f"Customer {cust}"}, "BillEmail": {"Address": "x@y.example"},
                "InvoiceLink": f"https://app.qbo.intuit.com/app/invoice?txnId={i}", "MetaData": meta}

    def change(self, entity: str, obj: dict) -> None:
        stamp = (dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=len(self.changes) + 1)).isoformat()
        obj = {**obj, "MetaData": {"CreateTime": T0, "LastUpdatedTime": stamp}}
        self.changes.append((stamp, entity, obj))

    def _current(self, entity: str, i: int) -> dict:
        latest = None
        for _, e, o in self.changes:
            if e == entity and o["Id"] == str(i):
                latest = o
        return latest or self.obj(entity, i)

    # ------------------------------------------------------------------ API
    def handle(self, method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
        self.calls += 1
        if self.throttle:
            self.throttle -= 1
            return 429, {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                                              "code": "3001"}], "type": "SERVICE"}}
        route = path.split("/v3/company/", 1)[1].split("/", 1)[1]
        if route == "query" and self.fault_in_200:
            self.fault_in_200 -= 1
            return 200, {"Fault": {"Error": [{"Message": "An application error has occurred while "
                                              "processing your request", "Detail": "System Failure "
                                              "Error: Could not find resource for relative",
                                              "code": "10000"}], "type": "SystemFault"},
                         "time": self.now}
        if route == "payment" and method == "POST":
            # Intuit's idempotency: a repeated requestid gets the first answer, no new payment
            key = params.get("requestid") or str(len(self.payments))
            made = self.payments.setdefault(key, {**body, "Id": f"P{len(self.payments) + 1}"})
            return 200, {"Payment": made, "time": self.now}
        if route == "query":
            return 200, {"QueryResponse": self.query(params["query"]), "time": self.now}
        if route == "cdc":
            since = dt.datetime.fromisoformat(params["changedSince"])
            blocks = []
            for entity in params["entities"].split(","):
                objs = [o for st, e, o in self.changes
                        if e == entity and dt.datetime.fromisoformat(st) > since]
                blocks.append({entity: objs, "startPosition": 1, "maxResults": len(objs)})
            return 200, {"CDCResponse": [{"QueryResponse": blocks}], "time": self.now}
        if route.endswith("/pdf"):
            return 200, b"%PDF-1.4 qbo"
        if route == "attachable":
            if not body.get("Note"):
                msg = "Required param missing, need to supply the required value for the API"
                return 400, {"Fault": {"Error": [{"Message": msg,
                                                  "Detail": "Required parameter Note is missing in the request",
                                                  "code": "2020", "element": "Note"}], "type": "ValidationFault"}}
            self.attachables.append(body)
            return 200, {"Attachable": {**body, "Id": str(len(self.attachables))}, "time": self.now}
        return 400, {"Fault": {"Error": [{"Message": "Request has invalid or unsupported property",
                                          "Detail": f"Property Name:{route}", "code": "2010",
                                          "element": route}], "type": "ValidationFault"}}

    def query(self, q: str) -> dict:
        entity = re.search(r"from (\w+)", q).group(1)
        if entity == "CompanyInfo":
            return {"CompanyInfo": [{"Id": "1", "CompanyName": "Sandbox Company", "Country": self.country}]}
        if entity == "Preferences":
            return {"Preferences": [{"Id": "1", "CurrencyPrefs": {
                "MultiCurrencyEnabled": False, "HomeCurrency": {"value": self.home_currency}}}]}
        ids_in = re.search(r"Id in \(([^)]*)\)", q)
        if ids_in:
            ids = [int(x.strip(" '")) for x in ids_in.group(1).split(",")]
            return {entity: [self._current(entity, i) for i in ids]}
        start = int(re.search(r"STARTPOSITION (\d+)", q).group(1))
        size = int(re.search(r"MAXRESULTS (\d+)", q).group(1))
        since = re.search(r"LastUpdatedTime > '([^']+)'", q)
        if since:
            after = dt.datetime.fromisoformat(since.group(1))
            objs = [o for st, e, o in self.changes if e == entity and dt.datetime.fromisoformat(st) > after]
            page = objs[start - 1:start - 1 + size]
        else:
            total = self.n[entity]
            page = [self._current(entity, i) for i in range(start, min(total, start + size - 1) + 1)]
        return {entity: page, "startPosition": start, "maxResults": len(page)} if page else {}

    # ------------------------------------------------------------------ serving
    def app(self):
        import json

        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def endpoint(request):
            if self.latency:
                await asyncio.sleep(self.latency)
            raw = await request.body()
            status, body = self.handle(request.method, request.url.path, dict(request.query_params),
                                       json.loads(raw) if raw else None)
            if isinstance(body, bytes):
                return Response(body, media_type="application/pdf")
            return JSONResponse(body, status_code=status)

        return Starlette(routes=[Route("/v3/company/{realm}/{rest:path}", endpoint, methods=["GET", "POST"])])

    def serve(self, port: int):
        from tests.fakes.serving import serve_app

        self.server = serve_app(self.app(), port)
        return self


def stamp(days_ago: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()
