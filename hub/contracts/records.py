"""What a connector yields and what the hub asks it to write: frozen, validated values.

Amounts are `Decimal` (a float is refused), currencies ISO 4217 codes, dates `date`s.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, Self

from babel.numbers import list_currencies
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.contracts._maker import record_maker


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
            make = _MAKERS[key] = record_maker(cls, names)
        return make



_MAKERS: dict[tuple, Callable[..., Any]] = {}


def _money(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError("money must be a Decimal or a string, never a float")
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


#: ISO 4217 codes, as Babel (CLDR) lists them
CURRENCIES = frozenset(list_currencies())


def is_currency(code: str) -> bool:
    """True for an ISO 4217 currency code (EUR, JPY, KWD), per Babel's list."""
    return code in CURRENCIES


#: the languages whose country names `country_code` understands (ledgers' free text)
COUNTRY_NAME_LOCALES = ("en", "fr", "de", "es", "it", "nl", "pt", "sv", "da", "nb", "fi", "pl")


@functools.cache
def _names_in(locale: str) -> dict[str, str]:
    """Country name → code in one language; loaded only when a name needs it (each
    language's data costs about a megabyte)."""
    from babel import Locale

    return {name.casefold(): code for code, name in Locale.parse(locale).territories.items()
            if len(code) == 2 and code.isalpha()}


@functools.cache
def _codes() -> frozenset[str]:
    """The territories CLDR gives a currency: the countries, without loading a language."""
    from babel.core import get_global

    return frozenset(c for c in get_global("territory_currencies") if c.isalpha() and c != "EU")


@functools.cache
def _aliases() -> dict[str, str]:
    from babel.core import get_global

    return {alias.casefold(): codes[0] for alias, codes in get_global("territory_aliases").items()
            if alias.isalpha() and len(codes) == 1 and len(codes[0]) == 2}


@functools.lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 for a code, an alpha-3 code or a country's name as ledgers write
    it ("United States", "USA", "Deutschland", "fr"), by Babel's (CLDR) names; None when
    unknown — never the first two letters."""
    if not value or not value.strip():
        return None
    key = " ".join(value.split()).casefold()
    if len(key) == 2 and key.upper() in _codes():
        return key.upper()
    if key in _aliases():
        return _aliases()[key]
    for locale in COUNTRY_NAME_LOCALES:
        if key in _names_in(locale):
            return _names_in(locale)[key]
    return None


def _currency(value: str) -> str:
    value = (value or "").strip().upper()
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value



class Address(Record):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 (a name or alpha-3 code "
                                "is converted by `country_code`; unknown: None)")

    _country = field_validator("country", mode="before")(country_code)

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
    customer_type: Literal["business", "consumer"] = Field(
        "business", description="which late-payment law applies: most cover business "
        "debtors only, German law charges consumers less; map what your ledger has")
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
    late_interest_rate: Decimal | None = Field(
        None, description="the invoice's own contractual late-payment rate, percent a year: "
        "it replaces the law pack's rate in a claim")
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
    source: str | None = Field(None, description="what a complete snapshot was read from (file "
                                                 "names), for the hub's messages")


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
    idempotency_key: str = Field("", description="the same for every attempt at this payment, "
                                 "unique across installations: give it to the provider's "
                                 "idempotency header where it has one")


