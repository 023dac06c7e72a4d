"""Stripe payment links in reminders, and payments reported back by webhook.

A link is created for the amount due of one invoice or a consolidated statement: a
Price (minor units computed from Decimal, currency-aware) then a Payment Link limited to
one completed session. Every create carries an `Idempotency-Key` derived from the
dispatch, so a retry never creates two links. `checkout.session.completed` and
`checkout.session.async_payment_succeeded` (SEPA, ACH; signature
and timestamp checked) becomes `PaymentReceived`; the hub marks the invoices paid at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr

from hub.contracts import (
    HttpPaymentProvider,
    PaymentLink,
    PaymentLinkRequest,
    PaymentReceived,
    PluginSettings,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import PermanentError, SignatureError
from hub.hookspecs import hookimpl

# Stripe's documented special currencies
ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
                "VND", "VUV", "XAF", "XOF", "XPF"}
THREE_DECIMAL = {"BHD", "JOD", "KWD", "OMR", "TND"}


def exponent(currency: str) -> int:
    c = currency.upper()
    return 0 if c in ZERO_DECIMAL else 3 if c in THREE_DECIMAL else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal → Stripe's integer amount, refusing sub-unit precision (never via float)."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise PermanentError(f"{amount} {currency} has more decimals than {currency} allows")
    minor = int(scaled)
    if exponent(currency) == 3 and minor % 10:
        raise PermanentError(f"Stripe requires {currency} amounts to end in 0 (got {amount})")
    return minor


def from_minor_units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


class StripeSettings(PluginSettings):
    api_key: SecretStr
    webhook_secret: SecretStr | None = None
    stripe_version: str = "2024-06-20"
    product_name: str | None = Field(None, description="default: the link's description")
    after_completion_url: str | None = None
    signature_tolerance: int = 300
    base_url: str = "https://api.stripe.com"


class StripePaymentProvider(HttpPaymentProvider):
    name = "stripe"
    description = "Stripe payment links"
    Settings: ClassVar = StripeSettings
    provider = "Stripe"
    default_retry_after = 2.0
    idempotent = True
    supports_deactivate = True
    supports_webhooks = True

    def _headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_key.get_secret_value()}",
                "Stripe-Version": self.settings.stripe_version, "Idempotency-Key": key}

    async def _post(self, path: str, data: dict[str, str], key: str) -> dict[str, Any]:
        # every call carries an idempotency key: a retry after a timeout is safe
        r = await self.request("POST", f"{self.settings.base_url.rstrip('/')}{path}", data=data,
                               headers=self._headers(key), where=f"POST {path}")
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else {}

    async def check(self) -> list[str]:
        """The key is live and accepted (GET /v1/balance, which every key may read)."""
        headers = {k: v for k, v in self._headers("").items() if k != "Idempotency-Key"}
        return await self.probe("GET", f"{self.settings.base_url.rstrip('/')}/v1/balance",
                                headers=headers, where="reading the balance")

    def error_message(self, response: httpx.Response) -> str:
        try:
            err = response.json().get("error", {})
        except (ValueError, AttributeError):
            return response.text[:200]
        return (f"{err.get('type', '')}: {err.get('message', response.text[:200])}"
                + (f" (param {err['param']})" if err.get("param") else ""))

    def auth_hint(self) -> str:
        return f"check api_key of payment provider {self.context.name}"

    async def create_link(self, request: PaymentLinkRequest) -> PaymentLink:
        refs = ",".join(request.invoice_refs)[:500]
        price = await self._post("/v1/prices", {
            "currency": request.currency.lower(),
            "unit_amount": str(to_minor_units(request.amount, request.currency)),
            "product_data[name]": (self.settings.product_name or request.description)[:250],
            "metadata[relance_invoices]": refs,
        }, f"{request.idempotency_key}:price")
        data = {"line_items[0][price]": price["id"], "line_items[0][quantity]": "1",
                "metadata[relance_invoices]": refs,
                "payment_intent_data[metadata][relance_invoices]": refs,
                "restrictions[completed_sessions][limit]": "1"}
        if self.settings.after_completion_url:
            data["after_completion[type]"] = "redirect"
            data["after_completion[redirect][url]"] = self.settings.after_completion_url
        link = await self._post("/v1/payment_links", data, f"{request.idempotency_key}:link")
        return PaymentLink(provider_ref=link["id"], url=link["url"], amount=request.amount,
                           currency=request.currency)

    async def deactivate_link(self, provider_ref: str) -> None:
        await self._post(f"/v1/payment_links/{provider_ref}", {"active": "false"},
                         f"deactivate:{provider_ref}")

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        secret = self.settings.webhook_secret
        header = request.header("Stripe-Signature") or ""
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        ts = next((v for k, v in parts if k == "t"), None)
        sigs = [v for k, v in parts if k == "v1"]
        if not (secret and ts and sigs):
            raise SignatureError("missing Stripe-Signature (or webhook_secret not configured)")
        expected = hmac.new(secret.get_secret_value().encode(), f"{ts}.".encode() + request.body,
                            hashlib.sha256).hexdigest()
        if not any(hmac.compare_digest(expected, s) for s in sigs):
            raise SignatureError("Stripe-Signature does not match (check webhook_secret)")
        if abs(time.time() - int(ts)) > self.settings.signature_tolerance:
            raise SignatureError(f"Stripe-Signature timestamp outside the "
                                 f"{self.settings.signature_tolerance}s tolerance")
        event = json.loads(request.body)
        obj = event.get("data", {}).get("object", {})
        # card payments complete at once; SEPA and ACH debits succeed later, asynchronously
        paid = (event.get("type") == "checkout.session.completed" and obj.get("payment_status") == "paid"
                ) or event.get("type") == "checkout.session.async_payment_succeeded"
        if not paid:
            return WebhookResult()
        refs = tuple(filter(None, (obj.get("metadata") or {}).get("relance_invoices", "").split(",")))
        currency = (obj.get("currency") or "eur").upper()
        return WebhookResult(events=(PaymentReceived(
            provider_ref=obj.get("payment_link") or obj.get("id", ""), invoice_refs=refs,
            amount=from_minor_units(int(obj.get("amount_total") or 0), currency),
            currency=currency, event_id=event.get("id")),))


@hookimpl
def register_payment_providers(register):
    register(StripePaymentProvider)
