"""`RestConnector`: a paged JSON ledger API in a few class attributes and two mappings.

Most small ledgers list customers and invoices as `GET /customers?page=N&per_page=M`
(some with `?updated_since=`), and answer `GET /invoices?ids=a,b,c` or `GET /invoices/{id}`.
This base class does the shared work: paging with a guard against endless loops, the
per-stream `updated_since` cursor (re-read from the last value seen, so records that
share it are never skipped), the per-record guard (`build_records`), the fresh-check in
batches with the contract's "missing = gone", `check()`, and the error mapping of
`HttpConnector`. A subclass names its paths and writes `customer(obj)` and `invoice(obj)`.
Override `page_params`, `items` or `next_page` for another paging style (a `next` link,
an opaque cursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from hub.contracts.connector import Cursor
from hub.contracts.http import HttpConnector, pages
from hub.contracts.records import CustomerRecord, InvoiceRecord, SyncPage


class RestConnector(HttpConnector):
    """Settings need `base_url` (and `api_key`, sent as a bearer token by `headers`)."""

    customers_path: ClassVar[str | None] = "/customers"
    invoices_path: ClassVar[str] = "/invoices"
    page_size: ClassVar[int] = 100
    #: the query parameter that filters on the update time (None: every sync reads all)
    updated_since_param: ClassVar[str | None] = None
    #: the field of each object that holds its update time (ISO 8601, sortable as text)
    updated_field: ClassVar[str] = "updated_at"
    #: the query parameter that takes comma-separated ids (None: one GET per id)
    ids_param: ClassVar[str | None] = "ids"
    refresh_batch: ClassVar[int] = 100
    supports_refresh = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.updated_since_param:
            cls.supports_incremental = True

    # ------------------------------------------------------------------ override these
    def customer(self, obj: dict[str, Any]) -> CustomerRecord | None:
        """One customer object as a record (None: skip it)."""
        raise NotImplementedError(f"{type(self).__name__}.customer(obj)")

    def invoice(self, obj: dict[str, Any]) -> InvoiceRecord | None:
        """One invoice object as a record (None: skip it, e.g. a draft)."""
        raise NotImplementedError(f"{type(self).__name__}.invoice(obj)")

    def headers(self) -> dict[str, str]:
        """Headers of every call: a bearer `api_key` by default."""
        key = getattr(self.settings, "api_key", None)
        secret = key.get_secret_value() if hasattr(key, "get_secret_value") else key
        return {"Authorization": f"Bearer {secret}", "Accept": "application/json"} if secret else \
            {"Accept": "application/json"}

    def page_params(self, page: int) -> dict[str, str]:
        """The query of page `page` (from 1)."""
        return {"page": str(page), "per_page": str(self.page_size)}

    def items(self, body: Any, path: str) -> list[dict[str, Any]]:
        """The objects of one answer: a list, or the list under `data`/`items`/the path's name."""
        if isinstance(body, list):
            return body
        for key in ("data", "items", path.strip("/").split("/")[-1]):
            if isinstance(body, dict) and isinstance(body.get(key), list):
                return body[key]
        return []

    def next_page(self, body: Any, page: int, got: int) -> int | None:
        """The next page number, None at the end (default: a short page is the last)."""
        return page + 1 if got >= self.page_size else None

    # ------------------------------------------------------------------ the shared work
    def url(self, path: str) -> str:
        """`settings.base_url` + `path`."""
        return self.settings.base_url.rstrip("/") + path

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET `path` with `headers()`; the JSON body (errors mapped as `request` does)."""
        r = await self.request("GET", self.url(path), params=params, headers=self.headers(),
                               where=f"GET {path}")
        return self.json_body(r)

    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        streams = [(self.customers_path, self.customer), (self.invoices_path, self.invoice)]
        for path, build in streams:
            if path is None:
                continue
            async for page in self._stream(path, build, cursor.get(path)):
                yield page

    async def _stream(self, path: str, build, since: str | None) -> AsyncIterator[SyncPage]:
        base = {self.updated_since_param: since} if since and self.updated_since_param else {}
        newest = since or ""

        async def fetch(page: int) -> tuple[list[dict[str, Any]], int | None]:
            body = await self.get(path, {**base, **self.page_params(page)})
            objs = self.items(body, path)
            return objs, self.next_page(body, page, len(objs))

        async for objs in pages(fetch, 1, where=f"{self.context.name}: GET {path}"):
            stamps = [str(o[self.updated_field]) for o in objs if o.get(self.updated_field)]
            newest = max([newest, *stamps])
            records = self.build_records(objs, build, what=path.strip("/"),
                                         ident=lambda o: o.get("id"))
            # the cursor moves only once the stream is read: a sync cut off reads it again
            yield SyncPage(records=records)
        if newest:  # the newest update time seen: where the next sync starts (inclusive)
            yield SyncPage(cursor={path: newest})

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        out: list[InvoiceRecord] = []
        if self.ids_param:
            for i in range(0, len(external_ids), self.refresh_batch):
                batch = ",".join(external_ids[i:i + self.refresh_batch])
                objs = self.items(await self.get(self.invoices_path, {self.ids_param: batch}),
                                  self.invoices_path)
                out += [r for r in map(self.invoice, objs) if r is not None]
        else:
            for ext in external_ids:
                r = await self.http.get(self.url(f"{self.invoices_path}/{ext}"),
                                        headers=self.headers())
                if r.status_code == 404:
                    continue  # gone: the hub drops the reminder
                record = self.invoice(self.json_body(self.checked(r, f"GET {self.invoices_path}/…")))
                out += [record] if record is not None else []
        wanted, unique = set(external_ids), {}
        for record in out:  # only what was asked, each once (the contract)
            if record.external_id in wanted:
                unique.setdefault(record.external_id, record)
        return list(unique.values())

    async def check(self) -> list[str]:
        """One page of one invoice, with the credentials."""
        return await self.probe("GET", self.url(self.invoices_path), headers=self.headers(),
                                params={**self.page_params(1), "per_page": "1"},
                                where=f"GET {self.invoices_path}")
