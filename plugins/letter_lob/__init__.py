"""Postal letters through Lob Print & Mail, including certified and registered mail.

Lob honours the `Idempotency-Key` header: the dispatch's key is sent with every create,
so a retry after a crash or a timeout can never print and post twice (`idempotent =
True`). Tracking events arrive by webhook (`Lob-Signature`, HMAC-SHA256 over
`timestamp.body`) and are kept on the dispatch — a registered letter's tracking number
and proof of delivery end up in the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from hub.contracts import (
    Address,
    DeliveryStatus,
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

EVENTS = {"letter.created": "queued", "letter.rendered_pdf": "queued", "letter.mailed": "sent",
          "letter.in_transit": "sent", "letter.in_local_area": "sent",
          "letter.processed_for_delivery": "sent", "letter.re-routed": "sent",
          "letter.delivered": "delivered", "letter.returned_to_sender": "returned",
          "letter.failed": "failed"}


class LobAddress(PluginSettings):
    name: str
    address_line1: str
    address_line2: str | None = None
    address_city: str
    address_state: str | None = None
    address_zip: str
    address_country: str = "US"


class LobSettings(PluginSettings):
    api_key: SecretStr = Field(description="test_… or live_…")
    webhook_secret: SecretStr | None = None
    from_address: LobAddress | None = Field(None, description="default: the company's address")
    color: bool = False
    double_sided: bool = True
    address_placement: Literal["top_first_page", "insert_blank_page", "bottom_first_page_center",
                               "bottom_first_page"] = "insert_blank_page"
    use_type: Literal["marketing", "operational"] = "operational"
    lob_version: str | None = None
    base_url: str = "https://api.lob.com"
    signature_tolerance: int = 300


def lob_address(name: str, a: Address) -> dict[str, Any]:
    out = {"name": name[:40], "address_line1": a.line1, "address_line2": a.line2,
           "address_city": a.city, "address_state": a.region, "address_zip": a.postcode,
           "address_country": a.country}
    return {k: v for k, v in out.items() if v}


class LobLetterChannel(HttpChannel):
    name = "letter_lob"
    description = "Postal letters (certified, registered) through Lob"
    Settings: ClassVar = LobSettings
    provider = "Lob"
    default_retry_after = 5.0
    idempotent = True
    supports_status = True
    supports_webhooks = True
    requires = ("address",)
    rate = "150 per 5 seconds"  # Lob's documented limit per API key

    def budget_key(self) -> str:
        """Lob counts per API key: channels (and companies) sharing one share the budget."""
        key = self.settings.api_key.get_secret_value().encode()
        return f"lob:{hashlib.sha256(key).hexdigest()[:16]}"

    def problems(self, message: Message) -> list[str]:
        a = message.recipient.address
        missing = a.missing_for_post()
        if (a.country or "").upper() == "US" and not a.region:
            missing.append("region (US state)")
        if missing:
            return [f"customer {message.recipient.name!r} has no complete postal address "
                    f"(missing {', '.join(missing)}): complete it in the ledger"]
        if not message.html:
            return [f"template {message.template} has no html block: Lob prints HTML"]
        return self._service_problems(message)

    def _service_problems(self, message: Message) -> list[str]:
        """Lob mails from the US: certified mail goes within the US, registered mail
        abroad. Refused before the call, with what to use instead."""
        s, opts = self.settings, message.options
        sender = (s.from_address.address_country if s.from_address
                  else message.company.address.country) or ""
        to = (message.recipient.address.country or "").upper()
        out = []
        if sender.upper() != "US":
            out.append(f"Lob mails from the US only, and the sender is in {sender or '?'} "
                       "(settings.from_address, else the company's address): outside the US use "
                       "the letter_pdf channel (print and post), or give a US from_address")
        if opts.get("certified") and to != "US":
            out.append(f"certified mail is for US addresses; {message.recipient.name!r} is in "
                       f"{to}: use `registered: true` for mail abroad")
        if opts.get("registered") and to == "US":
            out.append(f"registered mail is for addresses outside the US; {message.recipient.name!r}"
                       " is in the US: use `certified: true`")
        return out

    def body(self, message: Message) -> dict[str, Any]:
        s, opts = self.settings, message.options
        sender = s.from_address.model_dump(exclude_none=True) if s.from_address else \
            lob_address(message.company.name, message.company.address)
        extra = ("registered" if opts.get("registered") else
                 "certified_return_receipt" if opts.get("certified") and opts.get("return_receipt")
                 else "certified" if opts.get("certified") else None)
        body = {"description": f"Relance {message.scenario}/{message.step} #{message.dispatch_id}"[:255],
                "to": lob_address(message.recipient.name, message.recipient.address),
                "from": sender, "file": message.html, "color": bool(opts.get("color", s.color)),
                "double_sided": s.double_sided, "address_placement": s.address_placement,
                "use_type": s.use_type,
                "metadata": {"relance_dispatch": str(message.dispatch_id)}}
        if extra:
            body["extra_service"] = extra
        return body

    def _headers(self, key: str | None = None) -> dict[str, str]:
        h = {"Idempotency-Key": key} if key else {}
        if self.settings.lob_version:
            h["Lob-Version"] = self.settings.lob_version
        return h

    async def send(self, message: Message) -> SendResult:
        problems = self.problems(message)
        if problems:
            raise PermanentError("; ".join(problems))
        # idempotent: Lob deduplicates by Idempotency-Key, so a timeout is retried safely
        r = await self.request("POST", f"{self.settings.base_url.rstrip('/')}/v1/letters",
                               where="send", sending=True, json=self.body(message),
                               auth=(self.settings.api_key.get_secret_value(), ""),
                               headers=self._headers(message.idempotency_key))
        data = self.json_object(r)
        tracking = data.get("tracking_number")
        return SendResult(provider_ref=data["id"], status="queued",
                          detail=f"tracking {tracking}" if tracking else data.get("expected_delivery_date"))

    def auth_hint(self) -> str:
        return f"check api_key of channel {self.context.name}"

    async def status(self, provider_ref: str) -> DeliveryStatus:
        r = await self.http.get(f"{self.settings.base_url.rstrip('/')}/v1/letters/{provider_ref}",
                                auth=(self.settings.api_key.get_secret_value(), ""),
                                headers=self._headers())
        if r.status_code == 404:
            return DeliveryStatus(provider_ref=provider_ref, status="unknown", detail="not found")
        data = self.json_object(self.checked(r, f"reading letter {provider_ref}"))
        events = data.get("tracking_events") or []
        last = events[-1].get("type", "") if events else ""
        status = "delivered" if "delivered" in last.lower() else "sent" if data.get("send_date") else "queued"
        return DeliveryStatus(provider_ref=provider_ref, status=status, detail=last or None)

    async def check(self) -> list[str]:
        key = self.settings.api_key.get_secret_value()
        return [] if key.startswith("live_") else ["note: test API key — Lob will not print or post"]

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        secret = self.settings.webhook_secret
        ts, sig = request.header("Lob-Signature-Timestamp"), request.header("Lob-Signature")
        if not (secret and ts and sig):
            raise SignatureError("missing Lob-Signature / Lob-Signature-Timestamp (or webhook_secret)")
        expected = hmac.new(secret.get_secret_value().encode(), ts.encode() + b"." + request.body,
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig):
            raise SignatureError("Lob-Signature does not match the body")
        try:
            age = abs(time.time() - int(ts) / (1000 if len(ts) > 11 else 1))
        except ValueError:
            raise SignatureError("Lob-Signature-Timestamp is not a timestamp") from None
        if age > self.settings.signature_tolerance:
            raise SignatureError(f"Lob-Signature-Timestamp is {age:.0f}s old "
                                 f"(tolerance {self.settings.signature_tolerance}s)")
        event = json.loads(request.body)
        kind = event.get("event_type", {}).get("id", "")
        body = event.get("body", {})
        status = EVENTS.get(kind.replace(".certified", ""), "sent")
        tracking = {"event": kind, "tracking_number": str(body.get("tracking_number") or ""),
                    "carrier": str(body.get("carrier") or "")}
        return WebhookResult(events=(DeliveryUpdate(provider_ref=body.get("id", ""), status=status,
                                                    detail=kind, tracking=tracking),))


@hookimpl
def register_channels(register):
    register(LobLetterChannel)
