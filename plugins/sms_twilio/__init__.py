"""SMS through Twilio Programmable Messaging.

Numbers are normalised to E.164 with `phonenumbers` (region: the customer's country, then
the company's); invalid or fixed-line-only numbers are refused with the reason, never
retried. Segments are counted before sending and `max_segments` refuses long messages.
Twilio does not deduplicate POSTs, so a timeout is *uncertain* (the hub holds it and asks
Twilio for the message's status later), never blindly repeated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import httpx
import phonenumbers
from pydantic import Field, SecretStr

from hub.contracts import (
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
from plugins.sms_twilio.segments import count, normalise

STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
            "sent": "sent", "delivered": "delivered", "read": "delivered",
            "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
            # some segments of a long message arrived: the customer has it, in part
            "partially_delivered": "delivered",
            # inbound states: not ours, never a delivery
            "receiving": "unknown", "received": "unknown"}


class TwilioSettings(PluginSettings):
    account_sid: str
    auth_token: SecretStr = Field(description="also verifies X-Twilio-Signature")
    api_key_sid: str | None = Field(None, description="API key auth instead of the auth token")
    api_key_secret: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    max_segments: int = 3
    base_url: str = "https://api.twilio.com"


class TwilioSmsChannel(HttpChannel):
    name = "sms_twilio"
    description = "SMS through Twilio"
    Settings: ClassVar = TwilioSettings
    provider = "Twilio"
    default_retry_after = 1.0
    supports_status = True
    supports_webhooks = True
    quiet_hours_relevant = True
    requires = ("phone",)

    def budget_key(self) -> str:
        """Twilio's rate is per sending number (or Messaging Service): a `rate_limit` is
        shared by every channel, company and worker sending from it."""
        s = self.settings
        return f"twilio:{s.messaging_service_sid or s.from_number or self.context.name}"

    # ------------------------------------------------------------------ checks
    def e164(self, message: Message) -> str:
        r = message.recipient
        raw = r.mobile or r.phone
        if not raw:
            raise PermanentError(f"customer {r.name!r} has no phone number")
        region = (r.country or message.company.country or "GB").upper()
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException as exc:
            raise PermanentError(f"customer {r.name!r}: {raw!r} is not a phone number ({exc})") from None
        if not phonenumbers.is_valid_number(number):
            raise PermanentError(f"customer {r.name!r}: {raw!r} is not a valid number for {region}")
        if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise PermanentError(f"customer {r.name!r}: {raw!r} is a landline; it cannot receive SMS")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def preview(self, message: Message) -> dict[str, Any]:
        segments, enc, _ = count(message.text)
        return {"segments": segments, "encoding": enc}

    def problems(self, message: Message) -> list[str]:
        out = []
        try:
            self.e164(message)
        except PermanentError as exc:
            out.append(str(exc))
        segments, enc, culprit = count(message.text)
        limit = int(message.options.get("max_segments", self.settings.max_segments))
        if segments > limit:
            why = f" (UCS-2 because of {culprit!r})" if culprit else ""
            out.append(f"SMS for {message.recipient.name!r} is {segments} segments{why}; "
                       f"max_segments is {limit}: shorten template {message.template} "
                       "or raise max_segments")
        return out

    # ------------------------------------------------------------------ wire
    def _auth(self) -> tuple[str, str]:
        s = self.settings
        if s.api_key_sid and s.api_key_secret:
            return s.api_key_sid, s.api_key_secret.get_secret_value()
        return s.account_sid, s.auth_token.get_secret_value()

    def _messages_url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/2010-04-01/Accounts/{self.settings.account_sid}/Messages"

    async def send(self, message: Message) -> SendResult:
        problems = self.problems(message)
        if problems:
            raise PermanentError("; ".join(problems))
        s = self.settings
        data = {"To": self.e164(message), "Body": normalise(message.text)}
        if s.messaging_service_sid:
            data["MessagingServiceSid"] = s.messaging_service_sid
        elif s.from_number:
            data["From"] = s.from_number
        else:
            raise PermanentError(f"channel {self.context.name}: set from_number or messaging_service_sid")
        if self.context.public_url:
            data["StatusCallback"] = (f"{self.context.public_url.rstrip('/')}/webhooks/"
                                      f"{self.name}/{self.context.name}")
        r = await self.request("POST", self._messages_url() + ".json", where="send", sending=True,
                               data=data, auth=self._auth())
        body = self.json_object(r)
        return SendResult(provider_ref=body["sid"], status=STATUSES.get(body.get("status"), "queued"))

    async def check(self) -> list[str]:
        """The account answers with these credentials (GET the Account resource)."""
        url = f"{self.settings.base_url.rstrip('/')}/2010-04-01/Accounts/{self.settings.account_sid}.json"
        return await self.probe("GET", url, auth=self._auth(), where="reading the account")

    def error_message(self, response: httpx.Response) -> str:
        body = self.json_object(response)
        message = body.get("message") or response.text[:200]
        return f"{message} (error {body['code']})" if body.get("code") else message

    def auth_hint(self) -> str:
        return f"check account_sid/auth_token of channel {self.context.name}"

    async def status(self, provider_ref: str) -> DeliveryStatus:
        r = await self.http.get(f"{self._messages_url()}/{provider_ref}.json", auth=self._auth())
        if r.status_code == 404:
            return DeliveryStatus(provider_ref=provider_ref, status="unknown", detail="not found")
        body = self.json_object(self.checked(r, f"reading message {provider_ref}"))
        return DeliveryStatus(provider_ref=provider_ref,
                              status=STATUSES.get(body.get("status"), "unknown"),
                              detail=body.get("error_message"))

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        params = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        payload = request.url + "".join(k + v for k, v in sorted(params.items()))
        expected = base64.b64encode(hmac.new(
            self.settings.auth_token.get_secret_value().encode(), payload.encode(),
            hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, request.header("X-Twilio-Signature") or ""):
            raise SignatureError("X-Twilio-Signature does not match (check auth_token and "
                                 "serve.public_url: Twilio signs the public URL)")
        sid = params.get("MessageSid") or params.get("SmsSid", "")
        raw = params.get("MessageStatus", "")
        status = STATUSES.get(raw, "queued")
        if status == "unknown":  # an inbound message's state: nothing about our sends
            return WebhookResult()
        code = params.get("ErrorCode")
        detail = "; ".join(filter(None, ("partially delivered: some segments were lost"
                                         if raw == "partially_delivered" else None,
                                         f"error {code}" if code else None))) or None
        return WebhookResult(events=(DeliveryUpdate(provider_ref=sid, status=status,
                                                    detail=detail),))


@hookimpl
def register_channels(register):
    register(TwilioSmsChannel)
