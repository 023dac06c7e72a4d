"""A small HTTP ledger and the plugins that talk to it, for `relance serve` end to end.

`LedgerServer` is a real HTTP server on loopback (Starlette + uvicorn in a thread)
holding customers and invoices the test can change. `HttpLedger` is a connector that
reads it over HTTP through the hub's client and verifies its HMAC-signed webhooks;
`FileChannel` appends each message it sends to a JSON-lines file. The serve subprocess
loads this module through RELANCE_PLUGINS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path

from hub.contracts import (
    Channel,
    Connector,
    Cursor,
    CustomerRecord,
    InvoiceRecord,
    LedgerChanged,
    Message,
    PluginSettings,
    SendResult,
    SyncPage,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import SignatureError
from hub.hookspecs import hookimpl


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class LedgerSettings(PluginSettings):
    base_url: str
    webhook_secret: str = "s3cret"


class HttpLedger(Connector):
    name = "http_ledger"
    Settings = LedgerSettings
    supports_incremental = True
    supports_refresh = True
    supports_webhooks = True

    async def _get(self, path: str, **params) -> dict:
        r = await self.http.get(self.settings.base_url + path, params=params)
        r.raise_for_status()
        return json.loads(r.text, parse_float=Decimal)

    @staticmethod
    def _invoice(d: dict) -> InvoiceRecord:
        return InvoiceRecord(external_id=d["id"], customer_external_id=d["customer"],
                             number=d["number"], currency="EUR", total=Decimal(d["total"]),
                             amount_due=Decimal(d["due"]), due_date=d["due_date"],
                             status=d["status"])

    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        data = await self._get("/ledger", since=cursor.get("version", "0"))
        records = [CustomerRecord(external_id=c["id"], name=c["name"], email=c["email"])
                   for c in data["customers"]]
        records += [self._invoice(i) for i in data["invoices"]]
        yield SyncPage(records=tuple(records), cursor={"version": str(data["version"])})

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        data = await self._get("/ledger", since="0")
        return [self._invoice(i) for i in data["invoices"] if i["id"] in external_ids]

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        got = request.header("x-ledger-signature") or ""
        if not hmac.compare_digest(got, sign(self.settings.webhook_secret, request.body)):
            raise SignatureError("x-ledger-signature does not match the body")
        ids = tuple(json.loads(request.body).get("invoices", []))
        return WebhookResult(events=(LedgerChanged(external_ids=ids),))


class FileSettings(PluginSettings):
    path: str


class FileChannel(Channel):
    name = "file_channel"
    Settings = FileSettings

    async def send(self, message: Message) -> SendResult:
        line = {"dispatch": message.dispatch_id, "step": message.step,
                "invoices": [i.number for i in message.invoices], "at": time.time()}
        with Path(self.settings.path).open("a") as f:
            f.write(json.dumps(line) + "\n")
        return SendResult(provider_ref=f"file-{message.dispatch_id}")


@hookimpl
def register_connectors(register):
    register(HttpLedger)


@hookimpl
def register_channels(register):
    register(FileChannel)


class LedgerServer:
    """The fake ledger's HTTP side, with a version number bumped on every change."""

    def __init__(self, customers: list[dict], invoices: list[dict]):
        self.customers, self.invoices, self.version = customers, invoices, 1
        self.calls = 0

    def pay(self, invoice_id: str) -> None:
        for inv in self.invoices:
            if inv["id"] == invoice_id:
                inv.update(status="paid", due="0.00", changed=self.version + 1)
        self.version += 1

    def app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def ledger(request):
            self.calls += 1
            since = int(request.query_params.get("since", "0"))
            return JSONResponse({
                "version": self.version,
                "customers": [c for c in self.customers if since == 0],
                "invoices": [i for i in self.invoices if i.get("changed", 1) > since],
            })

        return Starlette(routes=[Route("/ledger", ledger)])

    def start(self, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(100):
            if self.server.started:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
