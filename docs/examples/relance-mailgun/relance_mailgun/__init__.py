"""Mailgun e-mail channel for Relance — a third-party plugin, written from the guide.

`POST {base_url}/v3/{domain}/messages`, multipart/form-data, HTTP basic auth
`api:<key>`. Mailgun does not deduplicate by a client key, so `idempotent = False`:
after a timeout the hub marks the dispatch uncertain instead of sending twice.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

import httpx
from pydantic import SecretStr

from hub.contracts import Channel, Message, PluginSettings, SendResult
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RateLimitedError,
    RetriableError,
)
from hub.hookspecs import hookimpl

REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class Settings(PluginSettings):
    api_key: SecretStr
    domain: str
    from_address: str
    region: Literal["us", "eu"] = "us"
    base_url: str | None = None  # a proxy or a mock; default from the region
    tag: str = "relance"


class MailgunChannel(Channel):
    name = "mailgun"
    description = "E-mail through Mailgun's HTTP API"
    api_version = "1.0"
    Settings: ClassVar = Settings
    supports_attachments = True
    requires = ("email",)

    def url(self) -> str:
        base = (self.settings.base_url or REGIONS[self.settings.region]).rstrip("/")
        return f"{base}/v3/{self.settings.domain}/messages"

    def problems(self, message: Message) -> list[str]:
        if not message.recipient.email:
            return [f"customer {message.recipient.name!r} has no e-mail address"]
        return []

    async def send(self, message: Message) -> SendResult:
        mid = f"<{hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]}" \
              f"@{self.settings.domain}>"
        data = {"from": self.settings.from_address, "to": message.recipient.email,
                "subject": message.subject, "text": message.text, "o:tag": self.settings.tag,
                "h:Message-Id": mid, "v:relance-dispatch": str(message.dispatch_id)}
        if message.html:
            data["html"] = message.html
        files = [("attachment", (a.filename, a.data, a.content_type)) for a in message.attachments]
        try:
            r = await self.http.post(self.url(), data=data, files=files or None,
                                     auth=("api", self.settings.api_key.get_secret_value()))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RetriableError(f"Mailgun unreachable: {exc}") from None
        except httpx.TimeoutException as exc:
            raise DeliveryUncertainError(f"Mailgun did not answer in time: {exc}") from None
        if r.status_code == 200:
            return SendResult(provider_ref=r.json().get("id", mid), status="queued")
        detail = _message(r)
        if r.status_code == 401:
            raise AuthError(f"Mailgun refused the API key for domain {self.settings.domain}")
        if r.status_code == 429:
            raise RateLimitedError(f"Mailgun rate limit: {detail}",
                                   retry_after=float(r.headers.get("Retry-After", 60)))
        if r.status_code >= 500:
            raise DeliveryUncertainError(f"Mailgun {r.status_code}: {detail}")
        raise PermanentError(f"Mailgun {r.status_code}: {detail}")


def _message(r: httpx.Response) -> str:
    try:
        return r.json().get("message", r.text)
    except ValueError:
        return r.text


@hookimpl
def register_channels(register):
    register(MailgunChannel)
