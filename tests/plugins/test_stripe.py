"""Stripe payment links: exact form bodies, idempotency, minor units, webhooks."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from hub.contracts import PaymentLinkRequest, WebhookRequest
from hub.errors import AuthError, PermanentError, RetriableError, SignatureError
from hub.testing import make_context
from hub.testing.conformance import PaymentProviderConformance
from plugins.stripe import StripePaymentProvider, StripeSettings, from_minor_units, to_minor_units
from tests.specs import JsonFixtures

FIX = JsonFixtures("stripe/fixtures3.json", "resources")
API = "https://api.stripe.com"


def price(amount, currency):
    return {**FIX["price"], "id": "price_123", "unit_amount": amount, "currency": currency}


def plink():
    return {**FIX["payment_link"], "id": "plink_123", "url": "https://buy.stripe.com/test_abc"}


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        r.post(f"{API}/v1/prices").mock(side_effect=lambda req: httpx.Response(
            200, json=price(int(parse_qs(req.content.decode())["unit_amount"][0]), "eur")))
        r.post(f"{API}/v1/payment_links").mock(return_value=httpx.Response(200, json=plink()))
        r.post(f"{API}/v1/payment_links/plink_123").mock(
            return_value=httpx.Response(200, json={**plink(), "active": False}))
        yield r


def stripe() -> StripePaymentProvider:
    return StripePaymentProvider(StripeSettings(api_key="sk_test_1", webhook_secret="whsec_1"),
                                 make_context("stripe"))


def req(amount="1234.56", currency="EUR") -> PaymentLinkRequest:
    return PaymentLinkRequest(idempotency_key="rl-standard:due+3d:c7:2026-11-24:0:stripe:1234.56",
                              amount=Decimal(amount), currency=currency,
                              description="Acme — F-1, F-2", invoice_refs=("books:F-1", "books:F-2"),
                              customer_name="Camille")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.content.decode()).items()}


@pytest.mark.parametrize("amount,currency,minor", [
    ("1234.56", "EUR", 123456), ("120000", "JPY", 120000), ("12.340", "KWD", 12340),
    ("0.5", "USD", 50)])
def test_minor_units_from_decimal(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor
    assert from_minor_units(minor, currency) == Decimal(amount)


@pytest.mark.parametrize("amount,currency", [("10.5", "JPY"), ("1.001", "EUR"), ("1.235", "KWD")])
def test_sub_unit_amounts_are_refused(amount, currency):
    with pytest.raises(PermanentError):
        to_minor_units(Decimal(amount), currency)


def test_create_link_requests(router):
    link = asyncio.run(stripe().create_link(req()))
    price_call, link_call = router.calls
    assert form(price_call) == {"currency": "eur", "unit_amount": "123456",
                                "product_data[name]": "Acme — F-1, F-2",
                                "metadata[relance_invoices]": "books:F-1,books:F-2"}
    body = form(link_call)
    assert body["line_items[0][price]"] == "price_123" and body["line_items[0][quantity]"] == "1"
    assert body["restrictions[completed_sessions][limit]"] == "1"
    assert body["metadata[relance_invoices]"] == "books:F-1,books:F-2"
    assert price_call.request.headers["Idempotency-Key"].endswith(":price")
    assert link_call.request.headers["Idempotency-Key"].endswith(":link")
    assert price_call.request.headers["authorization"] == "Bearer sk_test_1"
    assert link.url == "https://buy.stripe.com/test_abc" and link.amount == Decimal("1234.56")


def test_retry_sends_the_same_idempotency_keys(router):
    router.post(f"{API}/v1/payment_links").mock(side_effect=[
        httpx.ConnectError("reset"), httpx.Response(200, json=plink())])
    with pytest.raises(RetriableError):
        asyncio.run(stripe().create_link(req()))
    asyncio.run(stripe().create_link(req()))
    keys = [c.request.headers["Idempotency-Key"] for c in router.calls]
    assert keys[0] == keys[2] and keys[1] == keys[3]  # price, link, price again, link again


def test_deactivate(router):
    asyncio.run(stripe().deactivate_link("plink_123"))
    assert form(router.calls.last) == {"active": "false"}


@pytest.mark.parametrize("code,error", [(400, PermanentError), (401, AuthError), (500, RetriableError)])
def test_errors(router, code, error):
    router.post(f"{API}/v1/prices").mock(return_value=httpx.Response(code, json={"error": {
        "type": "invalid_request_error", "message": "Invalid currency: eurx", "param": "currency"}}))
    with pytest.raises(error) as e:
        asyncio.run(stripe().create_link(req()))
    if code == 400:
        assert "Invalid currency" in str(e.value) and "param currency" in str(e.value)


def completed(amount=123456, currency="eur", status="paid"):
    session = copy.deepcopy(FIX["checkout.session"])
    session.update(amount_total=amount, currency=currency, payment_status=status,
                   status="complete", payment_link="plink_123",
                   metadata={"relance_invoices": "books:F-1,books:F-2"})
    return {**FIX["event"], "type": "checkout.session.completed", "data": {"object": session}}


def signed(event, secret="whsec_1", ts=None) -> WebhookRequest:
    body = json.dumps(event).encode()
    ts = ts or int(time.time())
    sig = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return WebhookRequest(method="POST", path="/webhooks/stripe/stripe", body=body,
                          headers={"Stripe-Signature": f"t={ts},v1=deadbeef,v1={sig}"})


def test_checkout_completed_reports_the_payment():
    [ev] = stripe().verify_webhook(signed(completed())).events
    assert ev.invoice_refs == ("books:F-1", "books:F-2") and ev.provider_ref == "plink_123"
    assert ev.amount == Decimal("1234.56") and ev.currency == "EUR"
    assert stripe().verify_webhook(signed(completed(status="unpaid"))).events == ()


def test_bad_or_stale_signatures_are_refused():
    with pytest.raises(SignatureError, match="does not match"):
        stripe().verify_webhook(signed(completed(), secret="whsec_other"))
    with pytest.raises(SignatureError, match="tolerance"):
        stripe().verify_webhook(signed(completed(), ts=int(time.time()) - 3600))


class TestStripeConformance(PaymentProviderConformance):
    @pytest.fixture
    def provider_plugin(self, router):
        return stripe()

    @pytest.fixture
    def sent_requests(self, router):
        return lambda: [c.request for c in router.calls]

    @pytest.fixture
    def link_request(self):
        return req()


def test_check_reads_the_balance_with_the_key():
    import asyncio

    import httpx
    import respx

    from hub.testing import make_context
    from plugins.stripe import StripePaymentProvider, StripeSettings

    provider = StripePaymentProvider(StripeSettings(api_key="sk_test_bad", webhook_secret="w"),
                                     make_context("stripe"))
    with respx.mock() as r:
        route = r.get("https://api.stripe.com/v1/balance").mock(return_value=httpx.Response(
            401, json={"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}))
        [problem] = asyncio.run(provider.check())
    assert "credentials refused" in problem and "Invalid API Key" in problem
    assert route.calls.last.request.headers["authorization"] == "Bearer sk_test_bad"
