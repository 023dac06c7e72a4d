"""The email channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hub.contracts import Attachment, CompanyInfo, Message, Recipient
from hub.demo.smtp import free_port
from hub.errors import AuthError, PermanentError, RetriableError
from hub.testing import make_context
from plugins.email import EmailChannel, EmailSettings


class Handler:
    def __init__(self, reject: dict[str, str] | None = None):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.connections = 0
        self.reject = reject or {}

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp():
    started = []

    def start(**kw):
        handler = Handler(kw.pop("reject", None))
        ctl = Controller(handler, hostname="127.0.0.1", port=free_port(), **kw)
        ctl.start()
        started.append(ctl)
        return handler, ctl.port

    yield start
    for ctl in started:
        ctl.stop()


def message(n: int = 1, email_addr: str = "client@example.com") -> Message:
    return Message(
        idempotency_key=f"rl-standard:due+3d:i{n}", dispatch_id=n, scenario="standard",
        step="due+3d", template="fr/first_reminder.j2",
        recipient=Recipient(customer_id=1, name="Société Générale <script>", email=email_addr),
        company=CompanyInfo(name="Acme SAS"), subject="Relance — facture F-1 échue",
        text="Bonjour,\nla facture F-1 de 1 234,56 € est échue.", html="<p>Bonjour</p>",
        attachments=(Attachment(filename="F-1.pdf", content_type="application/pdf",
                                data=b"%PDF-1.4 test"),))


def channel(port: int, **kw) -> EmailChannel:
    settings = EmailSettings(host="127.0.0.1", port=port, security="none",
                             from_address="compta@acme.example", from_name="Acme compta",
                             reply_to="recouvrement@acme.example", bcc=["archive@acme.example"], **kw)
    return EmailChannel(settings, make_context("email"))


def run(coro):
    return asyncio.run(coro)


def test_sends_a_complete_message(smtp):
    handler, port = smtp()
    ch = channel(port)

    async def go():
        try:
            return await ch.send(message())
        finally:
            await ch.aclose()

    result = run(go())
    [(rcpts, msg)] = handler.messages
    assert sorted(rcpts) == ["archive@acme.example", "client@example.com"]
    assert "Bcc" not in msg and msg["Reply-To"] == "recouvrement@acme.example"
    assert msg["Subject"] == "Relance — facture F-1 échue"
    assert msg["Message-ID"] == result.provider_ref == ch.message_id("rl-standard:due+3d:i1")
    assert msg.get_body(("plain",)).get_content().startswith("Bonjour,")
    assert msg.get_body(("html",)).get_content().strip() == "<p>Bonjour</p>"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "F-1.pdf" and att.get_content() == b"%PDF-1.4 test"
    assert msg["Date"].datetime.utcoffset() == dt.timedelta(0) and "+0000" in str(msg["Date"])


def test_body_that_quotes_our_boundary_prefix_still_parses(smtp):
    handler, port = smtp()
    ch = channel(port)
    tricky = message().model_copy(update={"text": "--=_relance_\n=_relance_ coupe ici ?"})

    async def go():
        try:
            await ch.send(tricky)
        finally:
            await ch.aclose()

    run(go())
    [(_, msg)] = handler.messages
    assert msg.get_body(("plain",)).get_content() == "--=_relance_\n=_relance_ coupe ici ?"
    assert len(list(msg.iter_attachments())) == 1
    # the same dispatch always gets the same boundaries (reproducible .eml files)
    assert ch.boundary(tricky, "alt") == ch.boundary(message(), "alt") != ch.boundary(tricky, "mix")


def test_message_id_is_deterministic_per_dispatch(smtp):
    ch = channel(1)
    assert ch.message_id("rl-x") == ch.message_id("rl-x") != ch.message_id("rl-y")


@pytest.mark.parametrize("pool", [1, 3])
def test_connections_are_reused_across_a_batch(smtp, pool):
    handler, port = smtp()
    ch = channel(port, connections=pool)

    async def go():
        try:
            await asyncio.gather(*(ch.send(message(n)) for n in range(30)))
        finally:
            await ch.aclose()

    run(go())
    assert len(handler.messages) == 30 and handler.connections == pool


def test_refused_recipient_is_permanent_with_the_server_text(smtp):
    handler, port = smtp(reject={"gone@example.com": "550 5.1.1 mailbox unavailable"})
    with pytest.raises(PermanentError, match="mailbox unavailable"):
        run(channel(port).send(message(email_addr="gone@example.com")))


def test_greylisting_is_transient(smtp):
    handler, port = smtp(reject={"grey@example.com": "451 4.7.1 try again later"})
    with pytest.raises(RetriableError, match="451"):
        run(channel(port).send(message(email_addr="grey@example.com")))


def test_unreachable_server_is_transient():
    with pytest.raises(RetriableError, match="cannot reach"):
        run(channel(free_port()).send(message()))


def test_wrong_password_is_an_auth_error():
    """A minimal SMTP peer that refuses AUTH with 535, as real servers do."""
    port = free_port()

    async def session(reader, writer):
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            cmd = line.decode().strip().upper()
            if cmd.startswith(("EHLO", "HELO")):
                writer.write(b"250-test\r\n250 AUTH PLAIN LOGIN\r\n")
            elif cmd.startswith("AUTH"):
                writer.write(b"535 5.7.8 Authentication credentials invalid\r\n")
            elif cmd.startswith("QUIT"):
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 OK\r\n")
            await writer.drain()
        writer.close()

    async def go():
        server = await asyncio.start_server(session, "127.0.0.1", port)
        async with server:
            await channel(port, username="u", password="wrong").send(message())

    with pytest.raises(AuthError, match="check username/password"):
        run(go())


def test_problems_explain_missing_or_invalid_addresses():
    ch = channel(1)
    assert "no e-mail address" in ch.problems(message(email_addr=None))[0]
    assert "invalid e-mail address" in ch.problems(message(email_addr="not-an-email"))[0]
    assert ch.problems(message()) == []
    assert isinstance(message().recipient.name, str) and Decimal("1") == 1


@pytest.mark.parametrize("name", ["Dupont\r\nBcc: attacker@example.com", "Dupont, \"Jean\"",
                                  "Société Générale\n", "A\rB"])
def test_names_from_the_ledger_cannot_break_the_headers(name):
    import email

    ch = channel(2525)
    msg = message(1)
    msg = msg.model_copy(update={"recipient": msg.recipient.model_copy(update={"name": name}),
                                 "subject": f"Reminder for {name}"})
    parsed = email.message_from_bytes(ch.build(msg).as_bytes())
    assert parsed["Bcc"] is None
    for header in ("Subject", "Date", "Message-ID", "To", "From"):
        assert len(parsed.get_all(header)) == 1 and "\n" not in str(parsed[header]).strip()
    display, addr = email.utils.parseaddr(str(email.header.make_header(
        email.header.decode_header(parsed["To"]))))
    assert addr == msg.recipient.email and display == " ".join(name.split())


@pytest.mark.sqlite_only("two installations are two workspace folders, each its own SQLite file")
def test_message_ids_differ_between_installations(make_ws, tmp_path):
    """Two fresh workspaces with the same data plan the same steps under different keys,
    so their Message-IDs (derived from the key) never collide."""
    import asyncio
    import datetime as dt

    from hub.plan.planner import plan
    from hub.store.db import session
    from hub.store.models import Dispatch
    from hub.sync.engine import sync_all
    from tests import memory_plugins
    from tests.conftest import customer, invoice

    keys = []
    for n in range(2):
        root = tmp_path / f"ws{n}"
        root.mkdir()
        ws = make_ws(root=root)
        memory_plugins.LEDGERS["default"][:] = [customer("C1"), invoice(
            "1", "C1", dt.date.today() - dt.timedelta(days=3))]
        asyncio.run(sync_all(ws))
        plan(ws)
        with session(ws.engine) as s:
            keys += list(s.execute(select(Dispatch.idempotency_key)).scalars())
    assert len(keys) == 2 and keys[0] != keys[1]
    ch = channel(2525)
    assert ch.message_id(keys[0]) != ch.message_id(keys[1])


@pytest.mark.parametrize("settings", [{"username": "u", "password": "p"}, {"security": "starttls"}])
def test_a_server_that_offers_no_auth_or_starttls_fails_the_send_as_retriable(smtp, settings):
    """Nothing was sent: a failure to retry once the configuration is fixed, never an
    `uncertain` dispatch held for a person."""
    handler, port = smtp()
    ch = channel(port, **{k: v for k, v in settings.items() if k != "security"})
    if "security" in settings:
        ch = EmailChannel(ch.settings.model_copy(update=settings), make_context("email"))
    with pytest.raises(RetriableError, match="nothing was sent"):
        run(ch.send(message()))
    assert handler.messages == []
