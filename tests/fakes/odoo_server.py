"""A fake Odoo speaking JSON-RPC (`/jsonrpc`) and JSON-2 (`/json/2/<model>/<method>`).

It keeps what makes Odoo's `write_date` hard to page on: the stored value has
microseconds (domains compare and `order` sorts on them) but every answer gives whole
seconds; one transaction stamps all its records with the same instant, its start; and its
records are invisible until it commits — so a long transaction commits records with an
earlier `write_date` than others already visible. Data is generated on demand (no 100k
dicts held); domains in Odoo's prefix notation (`|`, `&`, `!`) are evaluated as Odoo does.
Used by tests (through respx) and the benchmark (served by uvicorn).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import heapq
import html
import json
from typing import Any

BASE = dt.datetime(2026, 1, 1)
SECONDS = "%Y-%m-%d %H:%M:%S"


def _wd(i: int) -> dt.datetime:
    # seven records per minute, a millisecond apart: the same second, different microseconds
    return BASE + dt.timedelta(minutes=i // 7, microseconds=(i % 7) * 1000)


class Transaction:
    """Writes that stay invisible until `commit()`, all stamped with the start instant."""

    def __init__(self, fake: FakeOdoo):
        self.fake, self.stamp = fake, fake.tick()
        self.writes: list[tuple[str, int, dict]] = []

    def change(self, i: int, model: str = "account.move", **fields) -> None:
        self.writes.append((model, i, fields))

    def commit(self) -> None:
        for model, i, fields in self.writes:
            self.fake.changed[model][i] = {**self.fake.changed[model].get(i, {}), **fields,
                                           "_wd": self.stamp}


class FakeOdoo:
    def __init__(self, invoices: int = 10, partners: int = 4, version: int = 17,
                 companies: int = 1, latency: float = 0.0, api_key: str = "k" * 40,
                 payments: int = 0):
        self.n = {"res.partner": partners, "account.move": invoices, "account.payment": payments,
                  "res.company": companies}
        self.version, self.companies, self.latency, self.api_key = version, companies, latency, api_key
        self.calls = 0
        self.notes: list[tuple[int, Any]] = []
        self.changed: dict[str, dict[int, dict]] = {m: {} for m in self.n}  # committed overrides
        self.now = BASE + dt.timedelta(days=400)
        self.searches: list[dict] = []  # the search_read calls, for tests
        self.wizards: dict[int, tuple[str, dict, dict]] = {}  # id -> (model, values, context)
        self.attachments: dict[int, bytes] = {}
        self.registered: list[dict] = []  # payments made by account.payment.register

    @property
    def n_inv(self) -> int:
        return self.n["account.move"]

    def tick(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now

    def change(self, i: int, model: str = "account.move", **fields) -> None:
        """A write committed at once (its own short transaction)."""
        t = Transaction(self)
        t.change(i, model, **fields)
        t.commit()

    def transaction(self) -> Transaction:
        return Transaction(self)

    # ------------------------------------------------------------------ data
    def base(self, model: str, i: int) -> dict[str, Any]:
        if model == "res.company":
            return {"id": i, "name": f"Company {i}", "_wd": BASE}
        if model == "res.partner":
            return {"id": i, "name": f"Client {i}", "email": f"c{i}@example.com",
                    "phone": "+33 1 23 45 67 89", "lang": "fr_FR", "vat": False, "street": f"{i} rue",
                    "street2": False, "zip": "75001", "city": "Paris", "country_code": "FR",
                    "ref": f"C{i}", "customer_rank": 1, "_wd": _wd(i),
                    "company_id": False}
        if model == "account.payment":
            supplier = i % 5 == 0  # a supplier payment among the customers'
            return {"id": i, "name": f"PBNK1/2026/{i:05d}", "amount": 40.25,
                    "currency_id": [1, "EUR"], "date": "2026-10-15",
                    "partner_id": [i % self.n["res.partner"] + 1, "Client"],
                    "payment_type": "outbound" if supplier else "inbound",
                    "partner_type": "supplier" if supplier else "customer",
                    "state": "posted", "reconciled_invoice_ids": [] if supplier else [i],
                    "company_id": [1, "Company 1"], "_wd": _wd(i)}
        parts = self.n["res.partner"]
        return {"id": i, "name": f"INV/2026/{i:05d}",
                "move_type": "out_refund" if i % 10 == 0 else "out_invoice", "state": "posted",
                "commercial_partner_id": [i % parts + 1, f"Client {i % parts + 1}"],
                "invoice_date": "2026-10-01", "invoice_date_due": "2026-11-01",
                "amount_total": 120.5, "amount_residual": 120.5 if i % 3 else 60.25,
                "currency_id": [1, "EUR"], "payment_state": "not_paid" if i % 3 else "partial",
                "ref": False, "company_id": [i % self.companies + 1, f"Company {i % self.companies + 1}"],
                "invoice_pdf_report_id": False, "is_move_sent": False, "_wd": _wd(i)}

    def record(self, model: str, i: int) -> dict[str, Any]:
        return {**self.base(model, i), **self.changed[model].get(i, {})}

    def move(self, i: int) -> dict[str, Any]:
        return self.out(self.record("account.move", i))

    @staticmethod
    def out(rec: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        shown = {k: v for k, v in rec.items() if not k.startswith("_")}
        shown["write_date"] = rec["_wd"].strftime(SECONDS)  # whole seconds, as Odoo answers
        return shown if fields is None else {k: shown.get(k, False) for k in ["id", *fields]}

    # ------------------------------------------------------------------ search
    def search_read(self, model: str, domain: list, fields: list, order: str = "", limit: int = 80,
                    **_: Any) -> list[dict]:
        self.searches.append({"model": model, "domain": domain, "order": order, "limit": limit})
        keys = [part.split() for part in order.split(",") if part.strip()] or [["id"]]
        if keys[0][0] == "write_date" and keys[0][-1] == "desc" and limit:
            ids = self._newest_first(model)
            matched = []
            for i in ids:
                rec = self.record(model, i)
                if self._eval(domain, rec):
                    matched.append(rec)
                    if len(matched) >= limit:
                        break
        elif keys[0][0] == "id":
            matched = []
            for i in self._by_id(model, domain):
                rec = self.record(model, i)
                if self._eval(domain, rec):
                    matched.append(rec)
                    if limit and len(matched) >= limit:
                        break
        else:  # any other order: sort everything that matches (small data only)
            matched = [r for r in (self.record(model, i) for i in range(1, self.n[model] + 1))
                       if self._eval(domain, r)]
            for name, *direction in reversed(keys):
                matched.sort(key=lambda r, f=name: r["_wd"] if f == "write_date" else r[f],
                             reverse=bool(direction) and direction[0] == "desc")
            matched = matched[:limit] if limit else matched
        return [self.out(r, fields) for r in matched]

    def _by_id(self, model: str, domain: list):
        """Candidate ids in ascending order: base records are in write_date order, so a
        top-level `write_date >=`/`>` bound skips the old ones by bisection."""
        start, after = 1, 0
        for term in domain:
            if isinstance(term, list | tuple) and term[0] == "write_date" and term[1] in (">", ">="):
                bound = dt.datetime.strptime(term[2], SECONDS)
                start = bisect.bisect_left(range(1, self.n[model] + 1), bound, key=_wd) + 1
            if isinstance(term, list | tuple) and term[0] == "id" and term[1] == ">":
                after = term[2]
        changed = sorted(self.changed[model])
        last = None
        for i in heapq.merge(range(max(start, after + 1), self.n[model] + 1), changed):
            if i != last and i > after:
                yield i
            last = i

    def _newest_first(self, model: str):
        changed = sorted(self.changed[model], key=lambda i: self.changed[model][i]["_wd"],
                         reverse=True)
        base = (i for i in range(self.n[model], 0, -1) if i not in self.changed[model])
        return heapq.merge(changed, base, key=lambda i: self.record(model, i)["_wd"], reverse=True)

    def _eval(self, domain: list, rec: dict) -> bool:
        stack: list[bool] = []
        for item in reversed(domain):
            if item == "&":
                stack.append(stack.pop() & stack.pop())
            elif item == "|":
                stack.append(stack.pop() | stack.pop())
            elif item == "!":
                stack.append(not stack.pop())
            else:
                stack.append(self._term(item, rec))
        return all(stack)

    @staticmethod
    def _term(term, rec: dict) -> bool:
        field, op, value = term
        if field == "write_date":
            v, value = rec["_wd"], dt.datetime.strptime(value, SECONDS)
        else:
            v = rec.get(field)
            v = v[0] if isinstance(v, list) and field != "reconciled_invoice_ids" else v
        if field == "customer_rank":
            v = rec.get("customer_rank", 1)
        return {"=": lambda: v == value, "!=": lambda: v != value, ">": lambda: v > value,
                ">=": lambda: v >= value, "<": lambda: v < value, "<=": lambda: v <= value,
                "in": lambda: v in value, "not in": lambda: v not in value}[op]()

    # ------------------------------------------------------------------ methods
    def dispatch(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        if method == "search_read":
            return self.search_read(model, **kwargs)
        if method == "create" and model == "account.payment.register":
            self.wizards[len(self.wizards) + 1] = (model, args[0], kwargs.get("context", {}))
            return len(self.wizards)
        if method == "action_create_payments":
            _, values, ctx = self.wizards[args[0][0]]
            if not isinstance(values["amount"], int | float):
                raise ValueError("amount: a float field")
            self.registered.append({**values, "move": ctx["active_ids"][0]})
            return True
        if method == "create" and model in ("account.move.send", "account.move.send.wizard"):
            self.wizards[len(self.wizards) + 1] = (model, args[0], kwargs.get("context", {}))
            return len(self.wizards)
        if method == "action_send_and_print":
            wizard_model, values, ctx = self.wizards[args[0][0]]
            if wizard_model != ("account.move.send.wizard" if self.version >= 18
                                else "account.move.send"):
                raise ValueError(f"Object {wizard_model} doesn't exist")
            move = values.get("move_id") or ctx["active_ids"][0]
            self.attachments[move] = b"%%PDF-1.7 odoo invoice %d" % move
            self.change(move, invoice_pdf_report_id=[move, f"INV-{move}.pdf"], is_move_sent=True)
            return {"type": "ir.actions.act_url"}
        if model == "ir.attachment" and method == "read":
            import base64
            return [{"id": i, "datas": base64.b64encode(self.attachments[i]).decode()}
                    for i in args[0]]
        if method == "read":
            return [self.out(self.record(model, i), kwargs.get("fields", []))
                    for i in args[0] if 1 <= i <= self.n[model]]
        if method == "message_post":
            # Odoo 17+ escapes a str body (RPC cannot send Markup) unless body_is_html
            body = kwargs["body"]
            if self.version >= 17 and not kwargs.get("body_is_html"):
                body = html.escape(body)
            elif self.version < 17 and "body_is_html" in kwargs:
                raise ValueError("message_post() got an unexpected keyword argument 'body_is_html'")
            self.notes.append((args[0][0], body))
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
