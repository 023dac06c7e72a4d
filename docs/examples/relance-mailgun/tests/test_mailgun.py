"""The example plugin tested the way the guide says: respx + the conformance suite."""

import httpx
import pytest
import respx
from relance_mailgun import MailgunChannel

from hub.errors import AuthError, PermanentError, RateLimitedError
from hub.testing.conformance import ChannelConformance

URL = "https://api.eu.mailgun.net/v3/mg.acme.example/messages"


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        r.post(URL).mock(return_value=httpx.Response(
            200, json={"id": "<20261124.1@mg.acme.example>", "message": "Queued. Thank you."}))
        yield r


class TestMailgun(ChannelConformance):
    @pytest.fixture
    def channel(self, relance_context, router):
        return MailgunChannel(MailgunChannel.Settings(
            api_key="key-test", domain="mg.acme.example", from_address="ar@acme.example",
            region="eu"), relance_context)

    @pytest.fixture
    def sent_requests(self, router):
        return lambda: [c.request for c in router.calls]

    @pytest.fixture
    def error_cases(self, router):
        def status(code, body):
            return lambda: router.post(URL).mock(return_value=httpx.Response(code, json=body))
        return {"permanent": status(400, {"message": "'to' parameter is not a valid address"}),
                "auth": status(401, {"message": "Invalid private key"}),
                "transient": status(429, {"message": "Too many requests"})}


def test_request_shape(relance_context, router, sample_message):
    import asyncio

    ch = MailgunChannel(MailgunChannel.Settings(api_key="key-test", domain="mg.acme.example",
                                                from_address="ar@acme.example", region="eu"),
                        relance_context)
    result = asyncio.run(ch.send(sample_message))
    request = router.calls.last.request
    assert request.headers["authorization"].startswith("Basic ")
    # Mailgun takes form fields: urlencoded without attachments, multipart with them
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    from urllib.parse import parse_qs

    fields = parse_qs(request.content.decode())
    assert set(fields) == {"from", "to", "subject", "text", "html", "o:tag", "h:Message-Id",
                           "v:relance-dispatch"}
    assert fields["to"] == ["camille@example.com"]
    assert result.provider_ref == "<20261124.1@mg.acme.example>"


def test_attachments_go_multipart(relance_context, router, sample_message):
    import asyncio

    from hub.contracts import Attachment

    ch = MailgunChannel(MailgunChannel.Settings(api_key="k", domain="mg.acme.example",
                                                from_address="ar@acme.example", region="eu"),
                        relance_context)
    msg = sample_message.model_copy(update={"attachments": (
        Attachment(filename="F-1.pdf", content_type="application/pdf", data=b"%PDF-1.4"),)})
    asyncio.run(ch.send(msg))
    request = router.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="F-1.pdf"' in request.content


@pytest.mark.parametrize("code,error", [(401, AuthError), (400, PermanentError),
                                        (429, RateLimitedError)])
def test_errors_are_classified(relance_context, router, sample_message, code, error):
    import asyncio

    router.post(URL).mock(return_value=httpx.Response(code, json={"message": "nope"}))
    ch = MailgunChannel(MailgunChannel.Settings(api_key="k", domain="mg.acme.example",
                                                from_address="ar@acme.example", region="eu"),
                        relance_context)
    with pytest.raises(error):
        asyncio.run(ch.send(sample_message))
