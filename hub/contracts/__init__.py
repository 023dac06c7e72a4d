"""The typed contract between the hub and its plugins.

Everything that crosses the boundary is a frozen pydantic model (records, messages,
results) so a plugin can never mutate hub state and a database migration can never
break a plugin. Plugins subclass `Connector`, `Channel` or `PaymentProvider`, declare
`name`, `api_version`, a pydantic `Settings` model and their capabilities as class
attributes, and implement the abstract methods. I/O is `async` and goes through the
`httpx.AsyncClient` the hub injects in the context (timeouts, retries, logging and the
test seam belong to the hub).

`API_VERSION` is the contract's version: ``MAJOR.MINOR``. A plugin targeting another
MAJOR is refused at load time; a plugin targeting a newer MINOR is refused too (it may
call what this hub lacks).
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

API_VERSION = "1.0"


class Record(BaseModel):
    """Base of all boundary values: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build without validation, for a connector's hot loop that has already parsed
        every value to its field's type (a large CSV import spends half its time
        validating otherwise). Unset fields take their defaults. A wrong type here is a
        bug; the conformance kit re-validates every record a connector yields."""
        return cls.maker(*values)(*values.values())

    @classmethod
    def maker(cls, *names: str) -> Callable[..., Self]:
        """`trusted` for a loop that builds many records from the same fields: the
        returned function takes their values positionally, in the order of `names`. The
        names are checked here, once; each call then costs about a third of `trusted`."""
        key = (cls, names)
        make = _MAKERS.get(key)
        if make is None:
            make = _MAKERS[key] = _record_maker(cls, names)
        return make


def _record_maker(cls: type[Record], names: tuple[str, ...]) -> Callable[..., Record]:
    fields = cls.model_fields
    unknown = [n for n in names if n not in fields]
    missing = [n for n, f in fields.items() if f.is_required() and n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}.trusted(): unknown {sorted(unknown)}, missing "
                        f"{sorted(missing)}" + (", a field given twice"
                                                if len(set(names)) != len(names) else ""))
    # Generated like dataclasses' __init__: a dict display with constant keys is built
    # several times faster than dict(zip(names, values)). The names are the model's own
    # field names (identifiers without a leading underscore, so they cannot shadow the
    # helpers, which have one), checked above; defaults are passed in, never written in.
    scope: dict[str, Any] = {"_cls": cls, "_new": object.__new__, "_set": _set,
                             "_given": set(names)}
    entries = [f"{n!r}: {n}" for n in names]
    for i, (n, f) in enumerate((n, f) for n, f in fields.items() if n not in names):
        if f.default_factory is None:
            scope[f"_default_{i}"] = f.default
            entries.append(f"{n!r}: _default_{i}")
        else:  # a mutable default (a dict, a list) is new for every record
            scope[f"_factory_{i}"] = f.default_factory
            entries.append(f"{n!r}: _factory_{i}()")
    source = (f"def make({', '.join(names)}):\n"
              f"    _record = _new(_cls)\n"
              f"    _set(_record, '__dict__', {{{', '.join(entries)}}})\n"
              f"    _set(_record, '__pydantic_fields_set__', _given.copy())\n"
              f"    _set(_record, '__pydantic_extra__', None)\n"
              f"    _set(_record, '__pydantic_private__', None)\n"
              f"    return _record\n")
    exec(source, scope)  # our own field names only, checked above
    return scope["make"]


_MAKERS: dict[tuple, Callable[..., Record]] = {}
_set = object.__setattr__


class PluginSettings(BaseModel):
    """Base for a plugin's `Settings`: unknown keys are errors, secrets use `SecretStr`."""

    model_config = ConfigDict(extra="forbid")


def _money(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError("money must be a Decimal or a string, never a float")
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _currency(value: str) -> str:
    value = (value or "").strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


# ---------------------------------------------------------------- records from a ledger


class Address(Record):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2")

    def missing_for_post(self) -> list[str]:
        """Fields a postal service needs that are absent."""
        return [f for f in ("line1", "city", "postcode", "country") if not getattr(self, f)]


class CustomerRecord(Record):
    """A customer (bill-to party) as the ledger knows it."""

    kind: Literal["customer"] = "customer"
    external_id: str
    name: str
    code: str | None = None
    email: str | None = None
    cc_emails: tuple[str, ...] = ()
    phone: str | None = None
    mobile: str | None = None
    address: Address = Address()
    language: str | None = Field(None, description="BCP 47 / POSIX locale, e.g. fr or fr_BE")
    timezone: str | None = None
    segment: str | None = None
    tags: tuple[str, ...] = ()
    tax_id: str | None = None
    updated_at: dt.datetime | None = None


InvoiceStatus = Literal["open", "paid", "void"]


class InvoiceRecord(Record):
    """An invoice or credit note. Amounts are Decimal in `currency` (never float)."""

    kind: Literal["invoice", "credit_note"] = "invoice"
    external_id: str
    customer_external_id: str
    number: str
    currency: str
    total: Decimal
    amount_due: Decimal
    issue_date: dt.date | None = None
    due_date: dt.date
    status: InvoiceStatus = "open"
    disputed: bool = False
    promised_until: dt.date | None = None
    reference: str | None = None
    online_url: str | None = None
    updated_at: dt.datetime | None = None

    _m = field_validator("total", "amount_due", mode="before")(_money)
    _c = field_validator("currency", mode="before")(_currency)


class PaymentRecord(Record):
    """A payment (or credit allocation) against one invoice; kept for history and DSO."""

    kind: Literal["payment"] = "payment"
    external_id: str
    invoice_external_id: str | None = None
    customer_external_id: str | None = None
    amount: Decimal
    currency: str
    date: dt.date
    void: bool = False

    _m = field_validator("amount", mode="before")(_money)
    _c = field_validator("currency", mode="before")(_currency)


class Tombstone(Record):
    """The ledger deleted this object; the hub closes it (an invoice stops being reminded)."""

    kind: Literal["tombstone"] = "tombstone"
    of: Literal["customer", "invoice", "payment"]
    external_id: str


class RecordProblem(Record):
    """A record the connector could not read: reported with its place, the rest goes on."""

    kind: Literal["problem"] = "problem"
    place: str
    reason: str


SyncItem = CustomerRecord | InvoiceRecord | PaymentRecord | Tombstone | RecordProblem
Cursor = dict[str, str]


class SyncPage(Record):
    """One unit of work the hub commits atomically together with `cursor`.

    `cursor` holds the per-stream positions *after* this page; the hub merges it into
    the stored cursor in the same transaction as the records, so a sync that dies
    resumes from the last committed page. `complete_snapshot=True` on the last page
    says the connector has now listed *every* open invoice (a full export): the hub
    closes the connection's open invoices it did not see during this run.
    """

    records: tuple[SyncItem, ...] = ()
    cursor: Cursor = Field(default_factory=dict)
    complete_snapshot: bool = False


# ---------------------------------------------------------------- webhooks


class WebhookRequest(Record):
    """An HTTP request as received by `relance serve`, before any parsing."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, str] = Field(default_factory=dict)
    body: bytes = b""
    url: str = ""

    def header(self, name: str) -> str | None:
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


WebhookEvent = LedgerChanged | DeliveryUpdate | PaymentReceived


class WebhookResult(Record):
    """What to answer the provider and what to do afterwards (in the background)."""

    status_code: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    events: tuple[WebhookEvent, ...] = ()


# ---------------------------------------------------------------- context given to plugins


class TokenStore(ABC):
    """Encrypted per-connection token storage owned by the hub."""

    @abstractmethod
    def load(self) -> dict[str, Any] | None: ...

    @abstractmethod
    def save(self, token: Mapping[str, Any]) -> None:
        """Persist atomically (commit) before the caller uses the new token."""

    @abstractmethod
    def mark_needs_reauth(self, reason: str) -> None: ...


class TokenProvider(ABC):
    """Valid OAuth2 access tokens for one connection (implemented by `hub.workspace.auth`).

    Refreshes before expiry; a rotated refresh token is saved (committed) before the
    new access token is returned; a refused refresh marks the connection `needs_reauth`
    and raises `AuthError`. `extras` are values kept with the token (Intuit's realmId,
    the chosen Xero tenant id).
    """

    @abstractmethod
    async def access_token(self) -> str: ...

    @abstractmethod
    async def force_refresh(self) -> str:
        """Call after the provider answered 401 to a token we believed valid."""

    @abstractmethod
    def extras(self) -> Mapping[str, str]: ...


class PluginContext(Record):
    """What the hub gives every plugin instance."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str = Field(description="the connection or channel name from relance.yaml")
    http: httpx.AsyncClient
    logger: logging.Logger
    workspace: Path
    company: CompanyInfo
    tokens: TokenStore | None = None
    oauth: TokenProvider | None = None
    public_url: str | None = Field(None, description="base URL for webhooks/callbacks")


class CompanyInfo(Record):
    """The company settings plugins may need (defaults for language, region, currency)."""

    name: str
    country: str = "GB"
    timezone: str = "UTC"
    language: str = "en"
    locale: str = "en_GB"
    currency: str = "EUR"
    email: str | None = None
    phone: str | None = None
    address: Address = Address()
    signatory: str | None = None


class OAuthSpec(Record):
    """How `relance connect` obtains a token for an OAuth2 connector (run by the hub).

    The connector's Settings must have `client_id: str` and `client_secret: SecretStr`.
    `grant="client_credentials"` needs no browser (Xero Custom Connections).
    """

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    grant: Literal["authorization_code", "client_credentials"] = "authorization_code"
    pkce: bool = True
    extra_authorize_params: Mapping[str, str] = Field(default_factory=dict)
    callback_params: tuple[str, ...] = Field(
        (), description="query parameters of the callback to keep with the token (realmId)"
    )


# ---------------------------------------------------------------- plugin bases


class Plugin(ABC):
    """Common metadata. Subclasses set these class attributes."""

    name: ClassVar[str]
    api_version: ClassVar[str] = API_VERSION
    Settings: ClassVar[type[PluginSettings]] = PluginSettings
    description: ClassVar[str] = ""

    def __init__(self, settings: PluginSettings, context: PluginContext):
        self.settings = settings
        self.context = context
        self.http = context.http
        self.log = context.logger

    @classmethod
    def capabilities(cls) -> dict[str, bool]:
        return {k: bool(getattr(cls, k)) for k in dir(cls) if k.startswith("supports_")} | {
            k: bool(getattr(cls, k)) for k in ("idempotent", "quiet_hours_relevant") if hasattr(cls, k)
        }

    async def check(self) -> list[str]:
        """Connectivity / credential check for `relance doctor`: return problems found."""
        return []

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify the signature (raise `SignatureError`) and parse the events."""
        raise NotImplementedError(f"{self.name} does not receive webhooks")

    async def aclose(self) -> None:
        """Release resources held across a batch."""


class LedgerNote(Record):
    """A note the hub asks a connector to write on an invoice after a reminder was sent."""

    invoice_external_id: str
    text: str
    channel: str
    template: str
    sent_at: dt.datetime


class LedgerPayment(Record):
    """A payment the hub asks a connector to record (e.g. from a Stripe checkout)."""

    invoice_external_id: str
    amount: Decimal
    currency: str
    date: dt.date
    reference: str


class Connector(Plugin):
    """Reads a ledger. Implement `sync`; the rest is optional and declared by flags."""

    auth: ClassVar[Literal["none", "api_key", "oauth2"]] = "none"
    oauth: ClassVar[OAuthSpec | None] = None
    supports_incremental: ClassVar[bool] = False
    supports_refresh: ClassVar[bool] = False
    supports_pdf: ClassVar[bool] = False
    supports_writeback: ClassVar[bool] = False
    supports_payments_writeback: ClassVar[bool] = False
    supports_webhooks: ClassVar[bool] = False

    @abstractmethod
    def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        """Yield pages of records changed since `cursor` (empty dict: everything)."""

    @classmethod
    def oauth_for(cls, settings: PluginSettings) -> OAuthSpec | None:
        """The OAuth flow for these settings (e.g. client credentials). Added in API 1.0."""
        return cls.oauth

    async def tenants(self) -> list[tuple[str, str]]:
        """After an OAuth connect: the (id, name) organisations the token reaches.

        The admin picks one; the hub keeps it in the token extras as ``tenant_id``.
        """
        return []

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        """Re-read these invoices from the source just before a send (fresh-check)."""
        raise NotImplementedError

    async def fetch_pdf(self, external_id: str) -> bytes | None:
        raise NotImplementedError

    async def write_note(self, note: LedgerNote) -> None:
        raise NotImplementedError

    async def record_payment(self, payment: LedgerPayment) -> str:
        raise NotImplementedError


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
    """A rendered reminder ready for a channel. `idempotency_key` is stable per dispatch."""

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

    idempotent: ClassVar[bool] = False
    supports_status: ClassVar[bool] = False
    supports_attachments: ClassVar[bool] = False
    supports_webhooks: ClassVar[bool] = False
    quiet_hours_relevant: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    """Recipient fields the channel needs: "email", "phone", "address"."""

    def problems(self, message: Message) -> list[str]:
        """Reasons this message cannot be sent (shown by `plan`, enforced before `send`)."""
        return []

    def preview(self, message: Message) -> Mapping[str, Any]:
        """Extra facts for `relance plan` (e.g. SMS segments)."""
        return {}

    @abstractmethod
    async def send(self, message: Message) -> SendResult: ...

    async def status(self, provider_ref: str) -> DeliveryStatus:
        raise NotImplementedError


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

    @abstractmethod
    async def create_link(self, request: PaymentLinkRequest) -> PaymentLink: ...

    async def deactivate_link(self, provider_ref: str) -> None:
        raise NotImplementedError


TemplateFilter = Callable[..., Any]
Register = Callable[[Any], None]
AsyncTask = Callable[[], Awaitable[None]]

PluginContext.model_rebuild()
