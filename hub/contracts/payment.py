"""A payment provider creates the payment links reminders carry."""

from __future__ import annotations

from abc import abstractmethod
from decimal import Decimal
from typing import ClassVar

from pydantic import field_validator

from hub.contracts.plugin import Plugin
from hub.contracts.records import Record, _currency, _money


class PaymentLinkRequest(Record):
    idempotency_key: str
    amount: Decimal
    currency: str
    description: str
    invoice_refs: tuple[str, ...]
    customer_name: str
    customer_email: str | None = None
    previous_link_ref: str | None = None

    _m = field_validator("amount", mode="before")(_money)
    _c = field_validator("currency", mode="before")(_currency)


class PaymentLink(Record):
    provider_ref: str
    url: str
    amount: Decimal
    currency: str


class PaymentProvider(Plugin):
    """Creates payment links for reminders and reports payments through webhooks."""

    idempotent: ClassVar[bool] = True
    supports_webhooks: ClassVar[bool] = False
    supports_deactivate: ClassVar[bool] = False
    """True when `deactivate_link` is implemented: a replaced link stops taking payments."""

    @abstractmethod
    async def create_link(self, request: PaymentLinkRequest) -> PaymentLink:
        """A payment link for `request.amount`; the same `idempotency_key` gives the same link."""

    async def deactivate_link(self, provider_ref: str) -> None:
        """Stop a link from taking payments (the amount changed and a new link replaces it).
        Called only when the class declares `supports_deactivate`."""
        raise NotImplementedError


