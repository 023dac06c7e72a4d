"""A fake Ledgerly for respx: paged lists, `updated_since`, `ids`, and its error bodies."""

from __future__ import annotations

import httpx

KEY = "lk_test_9f8e7d6c5b4a"


class FakeLedgerly:
    def __init__(self, invoices: int = 23, customers: int = 4):
        self.customers = [{"id": i, "name": f"Client {i}", "email": f"c{i}@example.com",
                           "locale": "fr", "address": {"street": f"{i} rue", "city": "Lyon",
                                                       "zip": "69002", "country": "FR"},
                           "updated_at": "2026-11-01T08:00:00Z"} for i in range(1, customers + 1)]
        self.invoices = [{"id": 100 + i, "number": f"LY-{i:04d}", "customer_id": i % customers + 1,
                          "currency": "EUR", "total": "120.50", "balance": "120.50" if i % 4 else "0.00",
                          "state": "draft" if i == 7 else ("paid" if i % 4 == 0 else "overdue"),
                          "issued_on": "2026-10-01", "due_on": "2026-10-31",
                          "updated_at": f"2026-11-{1 + i % 20:02d}T09:00:00Z"}
                         for i in range(1, invoices + 1)]
        self.fail: tuple[int, dict] | None = None
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.fail:
            return httpx.Response(self.fail[0], json=self.fail[1])
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return httpx.Response(401, json={"error": {"code": "unauthorized",
                                                       "message": "invalid API key"}})
        rows = self.customers if request.url.path.endswith("/customers") else self.invoices
        q = request.url.params
        if "ids" in q:
            wanted = set(q["ids"].split(","))
            return httpx.Response(200, json={"data": [r for r in rows if str(r["id"]) in wanted]})
        if "updated_since" in q:
            rows = [r for r in rows if r["updated_at"] >= q["updated_since"]]
        page, size = int(q.get("page", 1)), int(q.get("per_page", 50))
        chunk = rows[(page - 1) * size:page * size]
        return httpx.Response(200, json={"data": chunk, "page": page, "total": len(rows)})
