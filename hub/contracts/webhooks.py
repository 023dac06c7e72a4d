"""Webhooks: the request as `relance serve` received it, and the events a plugin reads from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import Field

from hub.contracts.records import Record


class WebhookRequest(Record):
    """An HTTP request as received by `relance serve`, before any parsing."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str] = Field(default_factory=dict)
    body: bytes = b""
    url: str = ""

    def header(self, name: str) -> str | None:
        """The value of header `name`, whatever its case; None when absent."""
        name = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == name), None)


class LedgerChanged(Record):
    """Something changed in the ledger: the hub runs an incremental sync now."""

    type: Literal["ledger_changed"] = "ledger_changed"
    external_ids: tuple[str, ...] = ()


class DeliveryUpdate(Record):
    """A channel provider reports on a message it accepted earlier."""

    type: Literal["delivery"] = "delivery"
    provider_ref: str
    status: Literal["queued", "sent", "delivered", "failed", "undelivered", "returned"]
    detail: str | None = None
    tracking: Mapping[str, str] = Field(default_factory=dict)
    at: dt.datetime | None = None


class PaymentReceived(Record):
    """A payment provider says these invoices (hub external ids) were paid."""

    type: Literal["payment"] = "payment"
    provider_ref: str
    invoice_refs: tuple[str, ...]
    amount: Decimal
    currency: str
    at: dt.datetime | None = None
    event_id: str | None = Field(None, description="the provider's event id: a replayed "
                                                   "webhook with the same id is applied once")


WebhookEvent = LedgerChanged | DeliveryUpdate | PaymentReceived


class WebhookResult(Record):
    """What to answer the provider and what to do afterwards (in the background)."""

    status_code: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    events: tuple[WebhookEvent, ...] = ()


