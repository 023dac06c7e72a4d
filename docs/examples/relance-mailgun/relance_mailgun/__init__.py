"""Mailgun e-mail channel for Relance — a third-party plugin, written from the guide.

Sends with `POST {base}/v3/{domain}/messages` (form fields, multipart when there are
attachments; HTTP basic auth `api:<key>`) and reads delivery events from Mailgun's
signed webhooks. Mailgun does not deduplicate by a client key, so `idempotent = False`:
after a timeout or a 5xx the hub marks the dispatch uncertain instead of sending twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from typing import ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from hub.contracts import (
    DeliveryUpdate,
    HttpChannel,
    Message,
    PluginSettings,
    SendResult,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import PermanentError, SignatureError
from hub.hookspecs import hookimpl

REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class Settings(PluginSettings):
    api_key: SecretStr = Field(description="a Mailgun sending or private API key")
    domain: str = Field(description="the sending domain, e.g. mg.example.com")
    from_address: str = Field(description='e.g. "Acme Accounts <ar@example.com>"')
    region: Literal["us", "eu"] = Field("us", description="where the domain was created")
    base_url: str | None = Field(None, description="overrides the region's API (a proxy or a mock)")
    webhook_signing_key: SecretStr | None = Field(None, description="to verify delivery webhooks")
    tag: str = "relance"
    test_mode: bool = Field(False, description="Mailgun accepts but does not deliver (o:testmode)")
    signature_tolerance: int = Field(300, description="seconds a webhook's timestamp may be old")


class MailgunChannel(HttpChannel):
    name = "mailgun"
    description = "E-mail through Mailgun's HTTP API"
    api_version = "1.0"
    Settings: ClassVar = Settings
    provider = "Mailgun"
    auth_statuses = (401, 403)
    unprocessed_statuses = (503,)  # Mailgun: "service unavailable", nothing was queued
    supports_attachments = True
    supports_webhooks = True
    requires = ("email",)

    def url(self) -> str:
        base = (self.settings.base_url or REGIONS[self.settings.region]).rstrip("/")
        return f"{base}/v3/{self.settings.domain}/messages"

    def problems(self, message: Message) -> list[str]:
        if not message.recipient.email:
            return [f"customer {message.recipient.name!r} has no e-mail address"]
        return []

    def form(self, message: Message) -> dict[str, str]:
        """The documented form fields. `h:Message-Id` is derived from the idempotency key,
        so the provider reference of a dispatch is known before Mailgun answers."""
        digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
        data = {"from": self.settings.from_address, "to": message.recipient.email or "",
                "subject": message.subject, "text": message.text, "o:tag": self.settings.tag,
                "h:Message-Id": f"<{digest}@{self.settings.domain}>",
                "v:relance-dispatch": str(message.dispatch_id)}
        if message.recipient.cc_emails:
            data["cc"] = ", ".join(message.recipient.cc_emails)
        if message.html:
            data["html"] = message.html
        if self.settings.test_mode:
            data["o:testmode"] = "yes"
        return data

    async def send(self, message: Message) -> SendResult:
        data = self.form(message)
        files = [("attachment", (a.filename, a.data, a.content_type)) for a in message.attachments]
        # HttpChannel maps the answer: 401/403 → re-connect, 429 → later, 503 → retried
        # (Mailgun's "nothing was queued"), other 5xx and timeouts → uncertain, 4xx → refused
        r = await self.request("POST", self.url(), where=f"send to {message.recipient.email}",
                               sending=True, data=data, files=files or None,
                               auth=("api", self.settings.api_key.get_secret_value()))
        ref = self.json_object(r).get("id") or data["h:Message-Id"]
        return SendResult(provider_ref=ref.strip("<>"), status="queued")

    def error_for(self, response: httpx.Response, where: str, *, sending: bool = False):
        if response.status_code == 404:
            return PermanentError(f"Mailgun does not know the domain {self.settings.domain!r} in "
                                  f"region {self.settings.region!r}: check `domain` and `region`")
        return super().error_for(response, where, sending=sending)

    def auth_hint(self) -> str:
        return f"check api_key and region ({self.settings.region}) for domain {self.settings.domain}"

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Mailgun signs `timestamp + token` with the webhook signing key (HMAC-SHA256);
        the signature travels in the JSON body, not in a header."""
        key = self.settings.webhook_signing_key
        if key is None:
            raise SignatureError("set webhook_signing_key (Mailgun → Sending → Webhooks) to "
                                 "receive Mailgun delivery events")
        try:
            payload = json.loads(request.body)
            sig, event = payload["signature"], payload["event-data"]
            timestamp, token, signature = str(sig["timestamp"]), str(sig["token"]), str(sig["signature"])
        except (ValueError, KeyError, TypeError):
            raise SignatureError("not a Mailgun webhook: expected JSON with signature and event-data") from None
        expected = hmac.new(key.get_secret_value().encode(), (timestamp + token).encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("Mailgun webhook signature does not match webhook_signing_key")
        if abs(time.time() - float(timestamp)) > self.settings.signature_tolerance:
            raise SignatureError(f"Mailgun webhook timestamp {timestamp} is too old (a replay?)")
        update = _delivery(event)
        return WebhookResult(events=(update,) if update else ())


def _delivery(event: dict) -> DeliveryUpdate | None:
    """Delivered / failed (permanent or temporary) become updates; opens and clicks do not."""
    kind = event.get("event")
    ref = (event.get("message", {}).get("headers", {}).get("message-id") or "").strip("<>")
    if not ref or kind not in ("accepted", "delivered", "failed"):
        return None
    status = {"accepted": "queued", "delivered": "delivered"}.get(kind)
    if kind == "failed":
        status = "failed" if event.get("severity") == "permanent" else "queued"
    ds = event.get("delivery-status") or {}
    detail = ds.get("description") or ds.get("message") or event.get("reason")
    at = dt.datetime.fromtimestamp(float(event["timestamp"]), dt.UTC) if event.get("timestamp") else None
    return DeliveryUpdate(provider_ref=ref, status=status, detail=detail or None, at=at)


@hookimpl
def register_channels(register):
    register(MailgunChannel)
