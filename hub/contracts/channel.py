"""A channel delivers a rendered `Message` (e-mail, SMS, letter, call task, hand-off)."""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from hub.contracts.context import CompanyInfo
from hub.contracts.plugin import Plugin
from hub.contracts.records import Address, Record


class Attachment(Record):
    filename: str
    content_type: str
    data: bytes


class Recipient(Record):
    """Who a message goes to, with every contact point the ledger gave."""

    customer_id: int
    customer_code: str | None = None
    name: str
    email: str | None = None
    cc_emails: tuple[str, ...] = ()
    phone: str | None = None
    mobile: str | None = None
    address: Address = Address()
    language: str = "en"
    country: str | None = None
    timezone: str | None = None


class InvoiceLine(Record):
    """An invoice as a message carries it (for tasks, hand-off files, payment links)."""

    id: int
    external_id: str
    number: str
    currency: str
    total: Decimal
    amount_due: Decimal
    issue_date: dt.date | None = None
    due_date: dt.date
    days_overdue: int
    online_url: str | None = None
    disputed: bool = False
    promised_until: dt.date | None = None


class Message(Record):
    """A rendered reminder ready for a channel.

    `idempotency_key` is the same for every attempt at one dispatch and unique across
    dispatches, installations and rebuilt databases: `rl-{installation}:{day}:{run}:
    {scenario}:{step}:{invoice or customer}` where `installation` is a random id made with
    the database. Give it to the provider's idempotency header (Stripe, Lob) or deduplicate on
    it yourself; never derive your own from the dispatch number, which repeats across
    installations."""

    idempotency_key: str
    dispatch_id: int
    scenario: str
    step: str
    template: str
    recipient: Recipient
    company: CompanyInfo
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    invoices: tuple[InvoiceLine, ...] = ()
    history: tuple[Mapping[str, str], ...] = ()
    payment_link: str | None = None
    options: Mapping[str, Any] = Field(default_factory=dict)


class FollowUp(Record):
    """Work for a person the hub tracks after a send (a phone call to make)."""

    title: str
    script: str
    due_on: dt.date | None = None


class SendResult(Record):
    provider_ref: str
    status: Literal["sent", "queued", "delivered"] = "sent"
    detail: str | None = None
    cost: Decimal | None = None
    artifacts: tuple[str, ...] = Field((), description="files written (letters, bundles)")
    invoice_updates: Mapping[str, str] = Field(
        default_factory=dict, description="invoice external id -> new flag, e.g. in_collection"
    )
    follow_up: FollowUp | None = None


class DeliveryStatus(Record):
    provider_ref: str
    status: Literal["unknown", "queued", "sent", "delivered", "failed", "undelivered"]
    detail: str | None = None


class Channel(Plugin):
    """Sends a rendered `Message`. Implement `send`; declare capabilities.

    `idempotent = True` only when the provider itself deduplicates by the
    `Message.idempotency_key` (Lob, Stripe): then the hub may re-send after a crash.
    """

    def workspace_folder(self, folder: str) -> Path:
        """A folder setting, relative to the workspace unless absolute (output channels)."""
        path = Path(folder)
        return path if path.is_absolute() else self.context.workspace / path

    @staticmethod
    def folder_problems(folder: Path) -> list[str]:
        """For an output channel's `check()`: the folder can be created and written."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".relance-check"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return [f"folder {folder} cannot be written: {exc.strerror or exc}"]
        return []

    idempotent: ClassVar[bool] = False
    supports_status: ClassVar[bool] = False
    supports_attachments: ClassVar[bool] = False
    supports_webhooks: ClassVar[bool] = False
    quiet_hours_relevant: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    """Recipient fields the channel needs: "email", "phone", "address"."""
    rate: ClassVar[str | None] = None
    """The provider's send rate for one account, e.g. Lob's "150 per 5 seconds", kept in the
    deployment's shared budget (`rate_limit:` in relance.yaml overrides it)."""

    def budget_key(self) -> str:
        """What the provider counts sends against, for the shared budget: by default this
        channel of this workspace; Twilio counts per sending number, Lob per API key."""
        return f"channel:{self.context.workspace}:{self.context.name}"

    def problems(self, message: Message) -> list[str]:
        """Reasons this message cannot be sent (shown by `plan`, enforced before `send`)."""
        return []

    def preview(self, message: Message) -> Mapping[str, Any]:
        """Extra facts for `relance plan` (e.g. SMS segments)."""
        return {}

    @abstractmethod
    async def send(self, message: Message) -> SendResult:
        """Deliver `message`. Raise `RetriableError` when nothing was sent,
        `DeliveryUncertainError` when it may have been, `PermanentError` when it never can be."""

    async def status(self, provider_ref: str) -> DeliveryStatus:
        """What the provider knows of a message sent earlier (declare `supports_status`):
        how the hub settles a dispatch left `uncertain` by a crash."""
        raise NotImplementedError


