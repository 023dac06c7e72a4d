"""A small fake Odoo speaking JSON-RPC (`/jsonrpc`) and JSON-2 (`/json/2/<model>/<method>`).

Enough of `search_read` for the connector's keyset domain, `read`, `message_post`, with
deterministic data generated on demand (no 100k dicts held), a version switch, an
optional latency, and a call counter. Used by tests (through respx) and the benchmark
(served by uvicorn).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import json
from typing import Any

BASE = dt.datetime(2026, 1, 1)


class FakeOdoo:
    def __init__(self, invoices: int = 10, partners: int = 4, version: int = 17,
                 companies: int = 1, latency: float = 0.0, api_key: str = "k" * 40):
        self.n_inv, self.n_part, self.version = invoices, partners, version
        self.companies, self.latency, self.api_key = companies, latency, api_key
        self.calls = 0
        self.notes: list[tuple[int, str]] = []
        self.changed: dict[int, dict] = {}  # move id -> field overrides (and a new write_date)

    # ------------------------------------------------------------------ data
    def partner(self, i: int) -> dict[str, Any]:
        return {"id": i, "name": f"Client {i}", "email": f"c{i}@example.com", "phone": "+33 1 23 45 67 89",
                "lang": "fr_FR", "vat": False, "street": f"{i} rue", "street2": False, "zip": "75001",
                "city": "Paris", "country_code": "FR", "ref": f"C{i}",
                "write_date": (BASE + dt.timedelta(minutes=i // 7)).strftime("%Y-%m-%d %H:%M:%S")}

    def move(self, i: int) -> dict[str, Any]:
        m = {"id": i, "name": f"INV/2026/{i:05d}", "move_type": "out_refund" if i % 10 == 0 else "out_invoice",
             "state": "posted", "commercial_partner_id": [i % self.n_part + 1, f"Client {i % self.n_part + 1}"],
             "invoice_date": "2026-10-01", "invoice_date_due": "2026-11-01",
             "amount_total": 120.5, "amount_residual": 120.5 if i % 3 else 60.25,
             "currency_id": [1, "EUR"], "payment_state": "not_paid" if i % 3 else "partial",
             "ref": False, "company_id": [i % self.companies + 1, f"Company {i % self.companies + 1}"],
             # several records share each write_date (ties across page boundaries)
             "write_date": (BASE + dt.timedelta(minutes=i // 7)).strftime("%Y-%m-%d %H:%M:%S")}
        m.update(self.changed.get(i, {}))
        return m

    def change(self, i: int, **fields) -> None:
        stamp = (BASE + dt.timedelta(days=400, seconds=len(self.changed))).strftime("%Y-%m-%d %H:%M:%S")
        self.changed[i] = {**fields, "write_date": stamp}

    def _rows(self, model: str) -> tuple[list, Any]:
        if model == "res.partner":
            return list(range(1, self.n_part + 1)), self.partner
        base = [i for i in range(1, self.n_inv + 1) if i not in self.changed]
        return base + sorted(self.changed, key=lambda i: self.changed[i]["write_date"]), self.move

    # ------------------------------------------------------------------ methods
    def search_read(self, model: str, domain: list, fields: list, order: str = "", limit: int = 80,
                    **_: Any) -> list[dict]:
        ids, make = self._rows(model)
        after = None
        flt = []
        for term in domain:
            if isinstance(term, list) and term[0] == "write_date" and term[1] == ">":
                after = term[2]
            elif isinstance(term, list) and term[0] == "id" and term[1] == ">":
                after = (after, term[2])
            elif isinstance(term, list) and term[0] in ("company_id", "move_type", "state", "customer_rank"):
                flt.append(term)
        date, last_id = after if isinstance(after, tuple) else (after or "", 0)
        out = []
        # ids are in (write_date, id) order: binary search the keyset position
        start = bisect.bisect_right(ids, (date, last_id), key=lambda i: (make(i)["write_date"], i))
        for i in ids[start:]:
            rec = make(i)
            if all(self._match(rec, t) for t in flt):
                out.append({k: rec.get(k, False) for k in ["id", *fields]})
                if len(out) >= limit:
                    break
        return out

    @staticmethod
    def _match(rec: dict, term: list) -> bool:
        field, op, value = term
        if field == "customer_rank":
            return True
        v = rec.get(field)
        v = v[0] if isinstance(v, list) else v
        return v in value if op == "in" else v == value

    def dispatch(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        if method == "search_read":
            return self.search_read(model, **kwargs)
        if method == "read":
            return [{k: v for k, v in self.move(i).items() if k in ["id", *kwargs.get("fields", [])]}
                    for i in args[0]]
        if method == "message_post":
            self.notes.append((args[0][0], kwargs["body"]))
            return 1
        if method == "context_get":
            return {"lang": "fr_FR"}
        raise ValueError(f"{model}.{method} not faked")

    def handle(self, path: str, payload: dict, headers: dict) -> tuple[int, Any]:
        self.calls += 1
        if path == "/jsonrpc":
            p = payload["params"]
            if p["service"] == "common" and p["method"] == "version":
                return 200, {"jsonrpc": "2.0", "id": payload["id"], "result": {
                    "server_version": f"{self.version}.0", "server_version_info": [self.version, 0, 0, "final", 0, ""]}}
            if p["service"] == "common" and p["method"] == "authenticate":
                ok = p["args"][2] == self.api_key
                return 200, {"jsonrpc": "2.0", "id": payload["id"], "result": 2 if ok else False}
            db, uid, key, model, method, args, kwargs = p["args"]
            if key != self.api_key:
                return 200, {"jsonrpc": "2.0", "id": payload["id"], "error": {
                    "code": 200, "message": "Odoo Server Error",
                    "data": {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied"}}}
            try:
                result = self.dispatch(model, method, args, kwargs)
                return 200, {"jsonrpc": "2.0", "id": payload["id"], "result": result}
            except ValueError as exc:
                return 200, {"jsonrpc": "2.0", "id": payload["id"], "error": {
                    "code": 200, "message": "Odoo Server Error",
                             "data": {"name": "odoo.exceptions.UserError", "message": str(exc)}}}
        _, _, _, model, method = path.split("/", 4)
        if headers.get("authorization", "") != f"bearer {self.api_key}":
            return 401, {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied"}
        ids = payload.pop("ids", None)
        return 200, self.dispatch(model, method, [ids] if ids is not None else [], payload)

    # ------------------------------------------------------------------ serving
    def app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def endpoint(request):
            if self.latency:
                await asyncio.sleep(self.latency)
            payload = json.loads(await request.body())
            status, body = self.handle(request.url.path, payload, dict(request.headers))
            return JSONResponse(body, status_code=status)

        return Starlette(routes=[Route("/jsonrpc", endpoint, methods=["POST"]),
                                 Route("/json/2/{model}/{method}", endpoint, methods=["POST"])])

    def serve(self, port: int):
        from tests.fakes.serving import serve_app

        self.server = serve_app(self.app(), port)
        return self
