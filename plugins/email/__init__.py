"""SMTP email channel: multipart text + HTML, PDF attachments, one connection per batch.

The Message-ID is derived from the dispatch's idempotency key, so a message that is
ever sent twice (after a person resolved an uncertain send) threads as the same mail.
SMTP servers do not deduplicate: `idempotent = False`, and the hub never blindly
re-sends. Errors are classified by SMTP reply code: 5xx on a recipient is permanent,
4xx and connection failures before DATA are transient, a failure after DATA is
uncertain, 535 is an authentication problem.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import ssl
from email import encoders
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import ClassVar, Literal

import aiosmtplib
from pydantic import Field, SecretStr

from hub.contracts import Channel, Message, PluginSettings, SendResult
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RetriableError,
)
from hub.hookspecs import hookimpl

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class EmailSettings(PluginSettings):
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str
    from_name: str | None = None
    reply_to: str | None = None
    bcc: list[str] = Field(default_factory=list, description="copies for the accounts team")
    timeout: float = 30.0
    validate_certs: bool = True
    message_id_domain: str | None = None
    connections: int = Field(2, ge=1, le=10, description="SMTP connections kept open per batch")


def valid_address(address: str | None) -> bool:
    return bool(address) and bool(_EMAIL.match(parseaddr(address)[1] or ""))


def one_line(text: str) -> str:
    """Header text on one line: CR, LF and other breaks become single spaces."""
    return " ".join(text.split())


class EmailChannel(Channel):
    name = "email"
    description = "E-mail through any SMTP server"
    Settings: ClassVar = EmailSettings
    supports_attachments = True
    requires = ("email",)

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self._idle: asyncio.Queue | None = None  # SMTP conversations not in use
        self._all: list[aiosmtplib.SMTP] = []

    # ------------------------------------------------------------------ building
    def message_id(self, key: str) -> str:
        domain = self.settings.message_id_domain or self.settings.from_address.rsplit("@", 1)[-1]
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"

    @staticmethod
    def boundary(message: Message, part: str) -> str:
        """Our own MIME boundary: `=_` never occurs in base64 or quoted-printable parts (the
        only encodings used here), so it needs no scan of the body — the scan the email
        package does otherwise compiles a new regex for every message."""
        digest = hashlib.sha256(f"{message.idempotency_key}/{part}".encode()).hexdigest()[:24]
        return f"=_relance_{digest}"

    def build(self, message: Message) -> MIMEMultipart:
        """The MIME message. Built with the compat32 classes: five times faster than
        `EmailMessage` for the same bytes, which matters at a few hundred mails a second."""
        s, r = self.settings, message.recipient
        body = MIMEMultipart("alternative", boundary=self.boundary(message, "alt"))
        body.attach(MIMEText(message.text or "", "plain", "utf-8"))
        if message.html:
            body.attach(MIMEText(message.html, "html", "utf-8"))
        if message.attachments:
            mail = MIMEMultipart("mixed", boundary=self.boundary(message, "mix"))
            mail.attach(body)
            for att in message.attachments:
                maintype, _, subtype = att.content_type.partition("/")
                part = MIMEApplication(att.data, _subtype=subtype or "octet-stream") \
                    if maintype == "application" else MIMEBase(maintype, subtype or "octet-stream")
                if maintype != "application":
                    part.set_payload(att.data)
                    encoders.encode_base64(part)
                part.add_header("Content-Disposition", "attachment", filename=att.filename)
                mail.attach(part)
        else:
            mail = body
        # names come from the ledger: a line break in one must not end the header (it
        # would inject headers and break Subject, Date, Message-ID); formataddr quotes
        # commas and quotes and encodes non-ASCII (RFC 2047)
        mail["From"] = formataddr((one_line(s.from_name or message.company.name), s.from_address),
                                  "utf-8")
        mail["To"] = formataddr((one_line(r.name), one_line(r.email or "")), "utf-8")
        if r.cc_emails:
            mail["Cc"] = ", ".join(formataddr(("", one_line(a)), "utf-8") for a in r.cc_emails)
        if s.reply_to:
            mail["Reply-To"] = s.reply_to
        mail["Subject"] = Header(one_line(message.subject), "utf-8")
        mail["Date"] = format_datetime(dt.datetime.now(dt.UTC))  # "+0000": UTC, said so
        mail["Message-ID"] = self.message_id(message.idempotency_key)
        mail["X-Relance-Dispatch"] = str(message.dispatch_id)
        return mail

    def problems(self, message: Message) -> list[str]:
        r = message.recipient
        if not r.email:
            return [f"customer {r.name!r} has no e-mail address: add one in the ledger"]
        if not valid_address(r.email):
            return [f"customer {r.name!r} has an invalid e-mail address {r.email!r}"]
        return []

    # ------------------------------------------------------------------ SMTP
    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if not s.validate_certs:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        smtp = aiosmtplib.SMTP(hostname=s.host, port=s.port, timeout=s.timeout,
                               use_tls=s.security == "ssl",
                               start_tls=s.security == "starttls",
                               tls_context=context)
        try:
            await smtp.connect()
            if s.username:
                await smtp.login(s.username, s.password.get_secret_value() if s.password else "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"channel {self.context.name}: the SMTP server refused the login "
                            f"({exc.code} {exc.message}); check username/password") from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError,
                aiosmtplib.SMTPTimeoutError) as exc:
            raise RetriableError(f"channel {self.context.name}: cannot reach "
                                 f"{s.host}:{s.port}: {exc}") from None
        except aiosmtplib.SMTPException as exc:  # no AUTH, no STARTTLS offered: nothing sent
            smtp.close()
            raise RetriableError(f"channel {self.context.name}: the SMTP server at "
                                 f"{s.host}:{s.port} cannot be used as configured ({exc}); "
                                 "nothing was sent. Check `security`, `username` and the "
                                 "server's settings") from None
        self._all.append(smtp)
        return smtp

    async def _acquire(self) -> aiosmtplib.SMTP:
        """A connected SMTP client of the pool (each carries one conversation at a time)."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.settings.connections):
                self._idle.put_nowait(None)  # a free slot, connected on first use
        smtp = await self._idle.get()
        if smtp is None or not smtp.is_connected:
            try:
                smtp = await self._connect()
            except BaseException:
                self._idle.put_nowait(None)
                raise
        return smtp

    async def send(self, message: Message) -> SendResult:
        mail = self.build(message)
        recipients = [message.recipient.email, *message.recipient.cc_emails, *self.settings.bcc]
        smtp = await self._acquire()
        try:
            try:
                errors, _ = await smtp.send_message(mail, sender=self.settings.from_address,
                                                    recipients=recipients)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                raise PermanentError("; ".join(f"{e.recipient}: {e.code} {e.message}"
                                               for e in exc.recipients)) from None
            except aiosmtplib.SMTPResponseException as exc:
                if 500 <= exc.code < 600:
                    raise PermanentError(f"SMTP {exc.code}: {exc.message}") from None
                raise RetriableError(f"SMTP {exc.code}: {exc.message}") from None
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
                smtp.close()
                raise DeliveryUncertainError(f"connection lost during the send: {exc}",
                                             provider_ref=mail["Message-ID"]) from None
        finally:
            self._idle.put_nowait(smtp if smtp.is_connected else None)
        if message.recipient.email in errors:
            code, text = errors[message.recipient.email]
            error = RetriableError if 400 <= int(code) < 500 else PermanentError
            raise error(f"{message.recipient.email}: {code} {text}")
        return SendResult(provider_ref=mail["Message-ID"], status="sent")

    async def aclose(self) -> None:
        for smtp in self._all:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except aiosmtplib.SMTPException:
                    smtp.close()
        self._all.clear()
        self._idle = None

    async def check(self) -> list[str]:
        try:
            await self._connect()
        except (AuthError, RetriableError) as exc:
            return [str(exc)]
        finally:
            await self.aclose()
        return []


@hookimpl
def register_channels(register):
    register(EmailChannel)
