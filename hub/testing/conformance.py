"""Conformance suites: subclass one in your plugin's tests and pytest runs the contract.

    from hub.testing.conformance import ChannelConformance

    class TestMyChannel(ChannelConformance):
        @pytest.fixture
        def channel(self, relance_context):          # relance_context: from the pytest plugin
            return MyChannel(MyChannel.Settings(api_key="k"), relance_context)

        @pytest.fixture
        def provider(self):                           # your respx router, recording requests
            ...

Each suite asks for a few fixtures (documented on the class) and contributes the tests.
A test that needs a capability the plugin does not declare is skipped with the reason.
Failure messages are written for the plugin author.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from hub.contracts import (
    Channel,
    Connector,
    CustomerRecord,
    InvoiceRecord,
    Message,
    PaymentLink,
    PaymentLinkRequest,
    PaymentProvider,
    PaymentRecord,
    RecordProblem,
    SendResult,
    SyncPage,
    Tombstone,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import AuthError, PermanentError, RetriableError, SignatureError

ERRORS = {"auth": AuthError, "transient": RetriableError, "permanent": PermanentError}


def run(coro):
    return asyncio.run(coro)


def collect(connector: Connector, cursor: dict[str, str]) -> list[SyncPage]:
    async def go():
        return [page async for page in connector.sync(dict(cursor))]
    return run(go())


def _later_or_equal(new: str, old: str) -> bool:
    try:
        return Decimal(new) >= Decimal(old)
    except ArithmeticError:
        return new >= old


class ConnectorConformance:
    """Fixtures to provide:

    - `connector`: an instance (built with `relance_context` or `hub.testing.make_context`)
      whose HTTP calls are answered by your recorded responses;
    - `error_cases` (optional): `{"auth" | "transient" | "permanent": arrange}` where each
      `arrange()` makes the next sync meet that failure (e.g. a respx route returning 401,
      503, 400 with the provider's body).
    """

    @pytest.fixture
    def error_cases(self) -> dict[str, Callable[[], None]]:
        return {}

    def test_records_are_valid(self, connector):
        pages = collect(connector, {})
        assert pages, "your connector yielded no page at all for a first sync"
        kinds = (CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone, RecordProblem)
        for page in pages:
            assert isinstance(page, SyncPage), f"sync() must yield SyncPage, got {type(page)}"
            for rec in page.records:
                assert isinstance(rec, kinds), f"unknown record type {type(rec).__name__}"
                if isinstance(rec, InvoiceRecord):
                    assert isinstance(rec.amount_due, Decimal) and isinstance(rec.total, Decimal), \
                        f"invoice {rec.external_id}: amounts must be Decimal, never float"
                    assert isinstance(rec.due_date, dt.date), f"invoice {rec.external_id}: due_date"
                    assert len(rec.currency) == 3, f"invoice {rec.external_id}: currency {rec.currency}"
        assert any(isinstance(r, InvoiceRecord) for p in pages for r in p.records), \
            "your recorded responses should contain at least one invoice"

    def test_cursor_moves_forward(self, connector):
        seen: dict[str, str] = {}
        for page in collect(connector, {}):
            for key, value in page.cursor.items():
                if key in seen:
                    assert _later_or_equal(value, seen[key]), (
                        f"your connector yielded a cursor that moved backwards for stream "
                        f"{key!r}: {seen[key]!r} then {value!r}")
                seen[key] = value
        assert seen, "sync() never returned a cursor: the hub could not resume or go incremental"

    def test_second_sync_yields_nothing_new(self, connector):
        first = collect(connector, {})
        cursor: dict[str, str] = {}
        known = {}
        for page in first:
            cursor.update(page.cursor)
            for r in page.records:
                known[(type(r).__name__, getattr(r, "external_id", None))] = r
        for page in collect(connector, cursor):
            for r in page.records:
                if isinstance(r, RecordProblem):
                    continue
                key = (type(r).__name__, getattr(r, "external_id", None))
                assert known.get(key) == r, (
                    f"a second sync from the returned cursor yielded {key} again with changes "
                    "(or for the first time): incremental syncs must only return what changed")

    @pytest.mark.parametrize("case", sorted(ERRORS))
    def test_error_classification(self, connector, error_cases, case):
        if case not in error_cases:
            pytest.skip(f"no recorded response for a {case} failure (fixture error_cases)")
        error_cases[case]()
        with pytest.raises(ERRORS[case]):
            collect(connector, {})


def sample_message(**overrides: Any) -> Message:
    from hub.contracts import Address, CompanyInfo, InvoiceLine, Recipient

    data = dict(
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
    data.update(overrides)
    return Message(**data)


def _carries(request, key: str) -> bool:
    if any(key in v for v in request.headers.values()):
        return True
    return key in request.content.decode("utf-8", "replace")


class ChannelConformance:
    """Fixtures to provide:

    - `channel`: an instance whose provider calls are answered by recorded responses;
    - `sent_requests`: a callable returning the `httpx.Request`s sent so far (e.g.
      `lambda: [c.request for c in router.calls]`), for channels that call an HTTP API;
    - `error_cases` (optional): `{"transient" | "permanent" | "auth": arrange}`;
    - `webhook_cases` (optional): `(valid WebhookRequest, forged WebhookRequest)`.
    """

    @pytest.fixture
    def message(self) -> Message:
        return sample_message()

    @pytest.fixture
    def sent_requests(self):
        return lambda: []

    @pytest.fixture
    def error_cases(self) -> dict[str, Callable[[], None]]:
        return {}

    @pytest.fixture
    def webhook_cases(self) -> tuple[WebhookRequest, WebhookRequest] | None:
        return None

    def test_send_returns_provider_ref(self, channel, message):
        assert isinstance(channel, Channel)
        assert not channel.problems(message), f"problems() refused the sample: {channel.problems(message)}"
        result = run(channel.send(message))
        assert isinstance(result, SendResult) and result.provider_ref, \
            "send() must return a SendResult with the provider's reference"

    def test_idempotency_key_reaches_provider(self, channel, message, sent_requests):
        if not channel.idempotent:
            pytest.skip("the channel does not declare idempotent = True")
        run(channel.send(message))
        requests = sent_requests()
        assert requests, "no request recorded: provide the sent_requests fixture"
        assert any(_carries(r, message.idempotency_key) for r in requests), (
            "your channel declares idempotent = True but the idempotency key reached the "
            "provider in no header or body: a retry after a crash could send twice")

    @pytest.mark.parametrize("case", sorted(ERRORS))
    def test_permanent_vs_transient(self, channel, message, error_cases, case):
        if case not in error_cases:
            pytest.skip(f"no recorded response for a {case} failure (fixture error_cases)")
        error_cases[case]()
        with pytest.raises(ERRORS[case]):
            run(channel.send(message))

    def test_webhook_verify(self, channel, webhook_cases):
        if not channel.supports_webhooks:
            pytest.skip("the channel does not declare supports_webhooks")
        if webhook_cases is None:
            pytest.skip("provide webhook_cases = (valid request, forged request)")
        good, forged = webhook_cases
        assert isinstance(channel.verify_webhook(good), WebhookResult)
        with pytest.raises(SignatureError):
            channel.verify_webhook(forged)


class PaymentProviderConformance:
    """Fixtures: `provider_plugin` (an instance), `sent_requests` as for channels."""

    @pytest.fixture
    def link_request(self) -> PaymentLinkRequest:
        return PaymentLinkRequest(idempotency_key="rl-x:stripe:120.00", amount=Decimal("120.00"),
                                  currency="EUR", description="Acme — F-1", invoice_refs=("books:F-1",),
                                  customer_name="Camille Martin SARL")

    @pytest.fixture
    def sent_requests(self):
        return lambda: []

    def test_create_link(self, provider_plugin, link_request):
        assert isinstance(provider_plugin, PaymentProvider)
        link = run(provider_plugin.create_link(link_request))
        assert isinstance(link, PaymentLink) and link.url.startswith("http")
        assert link.amount == link_request.amount and link.currency == link_request.currency

    def test_idempotency_key_reaches_provider(self, provider_plugin, link_request, sent_requests):
        run(provider_plugin.create_link(link_request))
        requests = sent_requests()
        assert requests and all(
            _carries(r, link_request.idempotency_key) for r in requests if r.method == "POST"), \
            "every create must carry the idempotency key so a retry never creates two links"


__all__ = ["ChannelConformance", "ConnectorConformance", "PaymentProviderConformance",
           "collect", "json", "sample_message"]
