"""Sample values, small checks and runners shared by the conformance suites and the pytest
plugin (usable on their own in a plugin's tests).

The samples look like what the hub really hands a plugin (a French customer with every
contact point, an overdue invoice in EUR), so a plugin that passes with them has met the
shapes it will meet in production.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from hub.contracts import (
    Address,
    CompanyInfo,
    Connector,
    InvoiceLine,
    LedgerNote,
    Message,
    PaymentLinkRequest,
    Recipient,
    SyncPage,
)

SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_?key|private_?key)", re.I)
NOT_SECRET = re.compile(r"_(id|sid|url|uri|path|file|name|header|env|ttl|type)$", re.I)


def sample_company(**overrides: Any) -> CompanyInfo:
    data: dict[str, Any] = dict(
        name="Acme SAS", country="FR", timezone="Europe/Paris", language="fr", locale="fr_FR",
        currency="EUR", email="compta@acme.example",
        address=Address(line1="1 place Bellecour", city="Lyon", postcode="69002", country="FR"))
    return CompanyInfo(**(data | overrides))


def sample_message(**overrides: Any) -> Message:
    """A first reminder for one overdue invoice, with every recipient field filled in."""
    data: dict[str, Any] = dict(
        idempotency_key="rl-standard:due+3d:i42", dispatch_id=42, scenario="standard",
        step="due+3d", template="en/first_reminder.j2",
        recipient=Recipient(customer_id=7, customer_code="C7", name="Camille Martin SARL",
                            email="camille@example.com", mobile="+33612345678",
                            address=Address(line1="12 rue de la Paix", city="Paris",
                                            postcode="75002", country="FR"),
                            language="fr", country="FR", timezone="Europe/Paris"),
        company=CompanyInfo(name="Acme SAS", country="FR", email="compta@acme.example",
                            address=Address(line1="1 place Bellecour", city="Lyon",
                                            postcode="69002", country="FR")),
        subject="Relance : facture F-1", text="Bonjour, la facture F-1 est échue.",
        html="<p>Bonjour, la facture F-1 est échue.</p>",
        invoices=(InvoiceLine(id=1, external_id="F-1", number="F-1", currency="EUR",
                              total=Decimal("120.00"), amount_due=Decimal("120.00"),
                              due_date=dt.date(2026, 11, 1), days_overdue=23),),
    )
    return Message(**(data | overrides))


def sample_link_request(**overrides: Any) -> PaymentLinkRequest:
    data: dict[str, Any] = dict(
        idempotency_key="rl-standard:due+3d:c7:stripe:120.00", amount=Decimal("120.00"),
        currency="EUR", description="Acme SAS — F-1", invoice_refs=("books:F-1",),
        customer_name="Camille Martin SARL", customer_email="camille@example.com")
    return PaymentLinkRequest(**(data | overrides))


def sample_note(invoice_external_id: str) -> LedgerNote:
    return LedgerNote(invoice_external_id=invoice_external_id, channel="email",
                      text="Relance envoyée par e-mail (1re relance).",
                      template="fr/first_reminder.j2",
                      sent_at=dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC))


def secret_values(settings: BaseModel) -> list[str]:
    """Every `SecretStr` value in a plugin's settings (nested models included)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if len(secret) >= 4:  # shorter strings occur by chance in any text
                found.append(secret)
        elif isinstance(value, BaseModel):
            found += secret_values(value)
    return found


def plain_secret_fields(settings_cls: type[BaseModel]) -> list[str]:
    """Settings fields whose name says "secret" but whose type lets the value be printed."""
    bad = []
    for name, field in settings_cls.model_fields.items():
        if SECRET_NAME.search(name) and not NOT_SECRET.search(name) and "SecretStr" not in str(field.annotation) \
                and field.annotation is not SecretStr and field.annotation is not bool:
            bad.append(name)
    return bad


def leaks(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """The texts (log lines, error messages) that contain one of the secrets, redacted."""
    secrets = list(secrets)
    out = []
    for text in texts:
        hit = next((s for s in secrets if s in text), None)
        if hit:
            out.append(text.replace(hit, f"<{hit[:2]}…secret…>"))
    return out


_TOKEN = re.compile(r"\d+|\D+")


def order_key(value: str) -> tuple:
    """Natural order of a cursor value: numbers compare as numbers ("99" < "100"),
    ISO dates and timestamps compare as text (which is their order)."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in _TOKEN.findall(value))


def moved_back(new: str, old: str) -> bool:
    try:
        return Decimal(new) < Decimal(old)
    except ArithmeticError:
        return order_key(new) < order_key(old)


# ---------------------------------------------------------------- running a plugin in a test


def run(coro):
    """Run one coroutine in a fresh event loop (one loop per test: pooled connections
    never cross loops)."""
    return asyncio.run(coro)


async def sync_pages(connector: Connector, cursor: dict[str, str]) -> list[SyncPage]:
    return [page async for page in connector.sync(dict(cursor))]


def collect(connector: Connector, cursor: dict[str, str]) -> list[SyncPage]:
    """Every page of one sync from `cursor`."""
    return run(sync_pages(connector, cursor))


def merged_cursor(pages: list[SyncPage]) -> dict[str, str]:
    cursor: dict[str, str] = {}
    for page in pages:
        cursor.update(page.cursor)
    return cursor


def records_of(pages: list[SyncPage], kind: type) -> list[Any]:
    return [r for p in pages for r in p.records if isinstance(r, kind)]


def run_recorded(coro):
    """`run`, but a call your recorded responses do not answer (respx: "not mocked") skips
    the test and names the request to record, instead of failing in respx."""
    try:
        return run(coro)
    except Exception as exc:
        if type(exc).__name__ == "AllMockedAssertionError":
            pytest.skip(f"your recorded responses do not answer this call; record it to enable "
                        f"the test: {exc}")
        raise


def carries(request, key: str) -> bool:
    if any(key in v for v in request.headers.values()):
        return True
    return key in request.content.decode("utf-8", "replace")
