"""The example plugin tested the way the guide says: respx for the wire format, the
conformance suite for the contract. Responses are shaped like Mailgun's documented ones."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from relance_mailgun import MailgunChannel

from hub.contracts import Attachment, WebhookRequest
from hub.errors import SignatureError
from hub.testing.conformance import ChannelConformance

URL = "https://api.eu.mailgun.net/v3/mg.acme.example/messages"
QUEUED = {"id": "<20261124093000.1.ABCD@mg.acme.example>", "message": "Queued. Thank you."}
SIGNING_KEY = "whsk-signing-key-test"


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        r.post(URL).respond(200, json=QUEUED)
        yield r


def mailgun(context, **kw) -> MailgunChannel:
    settings = {"api_key": "key-3ax6xnjp29jd6fds4gc373sgvjxteol0", "domain": "mg.acme.example",
                "from_address": "Acme <ar@acme.example>", "region": "eu",
                "webhook_signing_key": SIGNING_KEY} | kw
    return MailgunChannel(MailgunChannel.Settings(**settings), context)


def webhook(event: dict, key: str = SIGNING_KEY, timestamp: int | None = None) -> WebhookRequest:
    ts, token = str(timestamp or int(time.time())), "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    body = {"signature": {"timestamp": ts, "token": token, "signature": sig}, "event-data": event}
    return WebhookRequest(method="POST", path="/webhooks/mailgun/email",
                          headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def delivered(message_id="20261124093000.1.ABCD@mg.acme.example", **kw) -> dict:
    return {"event": "delivered", "timestamp": 1764063000.5, "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "message": {"headers": {"message-id": message_id}},
            "delivery-status": {"code": 250, "message": "OK", "description": ""}} | kw


class TestMailgun(ChannelConformance):
    @pytest.fixture
    def channel(self, relance_context, router):
        return mailgun(relance_context)

    @pytest.fixture
    def sent_requests(self, router):
        return lambda: [c.request for c in router.calls]

    @pytest.fixture
    def error_cases(self, router):
        def answer(status, body, headers=None):
            return lambda: router.post(URL).respond(status, json=body, headers=headers)

        return {"auth": answer(401, {"message": "Invalid private key"}),
                "permanent": answer(400, {"message": "'to' parameter is not a valid address"}),
                "rate_limited": answer(429, {"message": "Too many requests"}, {"Retry-After": "12"}),
                "transient": answer(503, {"message": "Service unavailable"}),
                "uncertain": answer(500, {"message": "Internal Server Error"})}

    @pytest.fixture
    def webhook_cases(self):
        return webhook(delivered()), webhook(delivered(), key="forged-key")


def test_request_is_the_documented_form(relance_context, router, sample_message):
    result = asyncio.run(mailgun(relance_context).send(sample_message))
    request = router.calls.last.request
    assert request.url == URL  # region eu → api.eu.mailgun.net
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        b"api:key-3ax6xnjp29jd6fds4gc373sgvjxteol0").decode()
    # Mailgun takes form fields: urlencoded without attachments, multipart with them
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert fields.keys() == {"from", "to", "subject", "text", "html", "o:tag", "h:Message-Id",
                             "v:relance-dispatch"}
    assert fields["to"] == "camille@example.com" and fields["subject"] == "Relance : facture F-1"
    assert fields["h:Message-Id"].endswith("@mg.acme.example>") and fields["v:relance-dispatch"] == "42"
    assert result.provider_ref == "20261124093000.1.ABCD@mg.acme.example" and result.status == "queued"


def test_us_region_base_url_override_and_test_mode(relance_context, sample_message):
    with respx.mock() as r:
        us = r.post("https://api.mailgun.net/v3/mg.acme.example/messages").respond(200, json=QUEUED)
        asyncio.run(mailgun(relance_context, region="us", test_mode=True).send(sample_message))
        mock = r.post("http://127.0.0.1:8025/v3/mg.acme.example/messages").respond(200, json=QUEUED)
        asyncio.run(mailgun(relance_context, base_url="http://127.0.0.1:8025/").send(sample_message))
    assert b"o%3Atestmode=yes" in us.calls.last.request.content and mock.called


def test_attachments_go_multipart(relance_context, router, sample_message):
    msg = sample_message.model_copy(update={"attachments": (
        Attachment(filename="F-1.pdf", content_type="application/pdf", data=b"%PDF-1.4"),)})
    asyncio.run(mailgun(relance_context).send(msg))
    request = router.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="F-1.pdf"' in request.content and b'name="to"' in request.content


def test_unknown_domain_says_which_setting_to_fix(relance_context, router, sample_message):
    router.post(URL).respond(404, json={"message": "Domain not found: mg.acme.example"})
    with pytest.raises(Exception, match="check `domain` and `region`"):
        asyncio.run(mailgun(relance_context).send(sample_message))


@pytest.mark.parametrize("event,status", [
    (delivered(), "delivered"),
    (delivered(event="failed", severity="permanent",
               **{"delivery-status": {"code": 550, "description": "No such user"}}), "failed"),
    (delivered(event="failed", severity="temporary"), "queued"),  # Mailgun retries itself
])
def test_delivery_events(relance_context, event, status):
    result = mailgun(relance_context).verify_webhook(webhook(event))
    (update,) = result.events
    assert update.provider_ref == "20261124093000.1.ABCD@mg.acme.example" and update.status == status
    if status == "failed":
        assert update.detail == "No such user"


def test_opens_are_acknowledged_without_events_and_replays_refused(relance_context):
    ch = mailgun(relance_context)
    assert ch.verify_webhook(webhook(delivered(event="opened"))).events == ()
    with pytest.raises(SignatureError, match="too old"):
        ch.verify_webhook(webhook(delivered(), timestamp=int(time.time()) - 3600))
    with pytest.raises(SignatureError, match="webhook_signing_key"):
        mailgun(relance_context, webhook_signing_key=None).verify_webhook(webhook(delivered()))


def test_unreachable_is_retriable(relance_context, sample_message):
    from hub.errors import RetriableError

    with respx.mock() as r:
        r.post(URL).mock(side_effect=httpx.ConnectError("connection refused"))
        with pytest.raises(RetriableError, match="unreachable"):
            asyncio.run(mailgun(relance_context).send(sample_message))
