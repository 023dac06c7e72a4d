"""In-memory connector and capturing channel used by the core tests.

They are real plugins (registered through the hook, validated like any other) whose
data lives in module-level dicts the tests fill, so tests control the ledger exactly.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import ClassVar

from hub.contracts import (
    Channel,
    Connector,
    Cursor,
    InvoiceRecord,
    Message,
    PluginSettings,
    SendResult,
    SyncPage,
)
from hub.errors import DeliveryUncertainError, PermanentError, RetriableError
from hub.hookspecs import hookimpl

LEDGERS: dict[str, list] = defaultdict(list)
SENT: dict[str, list[Message]] = defaultdict(list)
FAIL: dict[str, list[str]] = defaultdict(list)  # queue of failure kinds per channel name
RESULT_EXTRAS: dict[str, dict] = {}  # channel name -> extra SendResult fields
REFRESHED: list[Sequence[str]] = []
NOTES: list = []
NOTE_FAILURES: list[str] = []
PAYMENTS: list = []  # LedgerPayments the memory ledger recorded
PAYMENT_FAILURES: list[str] = []  # queue: retry | uncertain | permanent


class MemorySettings(PluginSettings):
    ledger: str = "default"
    page_size: int = 100


class MemoryConnector(Connector):
    name = "memory"
    Settings = MemorySettings
    supports_incremental = True
    supports_refresh = True
    supports_writeback = True
    supports_payments_writeback = True

    async def record_payment(self, payment) -> str:
        if PAYMENT_FAILURES:
            kind = PAYMENT_FAILURES.pop(0)
            if kind == "retry":
                raise RetriableError("ledger busy", retry_after=60)
            if kind == "uncertain":
                raise DeliveryUncertainError("timeout after the request was sent")
            raise PermanentError("the invoice is locked")
        PAYMENTS.append(payment)
        return f"pay-{len(PAYMENTS)}"

    async def write_note(self, note) -> None:
        if NOTE_FAILURES:
            raise RetriableError(NOTE_FAILURES.pop(0), retry_after=1)
        NOTES.append(note)

    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        records = LEDGERS[self.settings.ledger]
        start = int(cursor.get("pos", 0))
        for i in range(start, len(records), self.settings.page_size):
            chunk = records[i:i + self.settings.page_size]
            yield SyncPage(records=tuple(chunk), cursor={"pos": str(i + len(chunk))})

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        REFRESHED.append(list(external_ids))
        latest = {r.external_id: r for r in LEDGERS[self.settings.ledger]
                  if isinstance(r, InvoiceRecord)}
        return [latest[e] for e in external_ids if e in latest]


class CaptureSettings(PluginSettings):
    delay: float = 0.0


class CaptureChannel(Channel):
    name = "capture"
    Settings = CaptureSettings
    requires: ClassVar[tuple[str, ...]] = ()

    async def send(self, message: Message) -> SendResult:
        if self.settings.delay:
            await asyncio.sleep(self.settings.delay)
        queue = FAIL[self.context.name]
        if queue:
            kind = queue.pop(0)
            if kind == "retry":
                raise RetriableError("server busy", retry_after=0)
            if kind.startswith("retry_after:"):  # the provider says when
                raise RetriableError("server busy", retry_after=float(kind.split(":")[1]))
            if kind == "uncertain":
                raise DeliveryUncertainError("timeout after the request was sent")
            if kind == "permanent":
                raise PermanentError("mailbox does not exist")
        SENT[self.context.name].append(message)
        return SendResult(provider_ref=f"cap-{message.dispatch_id}",
                          **RESULT_EXTRAS.get(self.context.name, {}))


class IdempotentCaptureChannel(CaptureChannel):
    name = "capture_idem"
    idempotent = True


class InterruptingCaptureChannel(CaptureChannel):
    """Like SMS or a call: it interrupts people, so quiet hours and holidays apply."""

    name = "capture_sms"
    quiet_hours_relevant = True


class Plugin:
    @hookimpl
    def register_connectors(self, register):
        register(MemoryConnector)

    @hookimpl
    def register_channels(self, register):
        register(CaptureChannel)
        register(IdempotentCaptureChannel)
        register(InterruptingCaptureChannel)


def reset() -> None:
    RESULT_EXTRAS.clear()
    LEDGERS.clear()
    SENT.clear()
    FAIL.clear()
    REFRESHED.clear()
    NOTES.clear()
    NOTE_FAILURES.clear()
    PAYMENTS.clear()
    PAYMENT_FAILURES.clear()
