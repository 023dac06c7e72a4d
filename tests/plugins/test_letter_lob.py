"""Lob letters: the documented request, idempotency, registered mail, errors, webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest
import respx

from hub.contracts import WebhookRequest
from hub.errors import AuthError, PermanentError, RetriableError, SignatureError
from hub.testing import make_context
from hub.testing.conformance import ChannelConformance, sample_message
from plugins.letter_lob import LobLetterChannel, LobSettings
from tests.specs import Spec

SPEC = Spec("lob/lob-api-bundled.yml")
URL = "https://api.lob.com/v1/letters"
CREATED = {"id": "ltr_4868c3b754655f90", "object": "letter", "tracking_number": "9407111899560000000000",
           "expected_delivery_date": "2026-12-02"}


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        r.post(URL).mock(return_value=httpx.Response(200, json=CREATED))
        yield r


US_SENDER = {"name": "Acme Inc", "address_line1": "185 Berry St", "address_city": "San Francisco",
             "address_state": "CA", "address_zip": "94107", "address_country": "US"}
US_CUSTOMER = {"line1": "1 Main St", "city": "Austin", "region": "TX", "postcode": "78701",
               "country": "US"}


def lob(**kw) -> LobLetterChannel:
    kw.setdefault("from_address", US_SENDER)  # Lob mails from the US
    return LobLetterChannel(LobSettings(api_key="test_123", webhook_secret="whsec", **kw),
                            make_context("letters"))


def letter(to: str = "FR", **options):
    from hub.contracts import Address

    msg = sample_message(options=options, html="<html><body>Mise en demeure</body></html>")
    if to == "US":
        msg = msg.model_copy(update={"recipient": msg.recipient.model_copy(
            update={"address": Address(**US_CUSTOMER)})})
    return msg


def test_request_shape_and_registered_mail(router):
    result = asyncio.run(lob().send(letter(registered=True)))
    request = router.calls.last.request
    assert SPEC.check(request) == "/letters"
    body = json.loads(request.content)
    assert body["to"]["address_zip"] == "75002" and body["to"]["address_country"] == "FR"
    assert body["from"]["address_city"] == "San Francisco" and body["extra_service"] == "registered"
    assert body["file"].startswith("<html>") and body["use_type"] == "operational"
    assert request.headers["Idempotency-Key"] == "rl-standard:due+3d:i42"
    assert result.provider_ref == "ltr_4868c3b754655f90" and "9407111899560000000000" in result.detail


@pytest.mark.parametrize("options,service", [({"certified": True}, "certified"),
                                             ({"certified": True, "return_receipt": True},
                                              "certified_return_receipt"), ({}, None)])
def test_extra_services(router, options, service):
    asyncio.run(lob().send(letter("US", **options)))
    assert json.loads(router.calls.last.request.content).get("extra_service") == service


def test_incomplete_address_is_refused_naming_the_customer(router):
    from hub.contracts import Address, Recipient

    msg = letter().model_copy(update={"recipient": Recipient(
        customer_id=1, name="Nomad SARL", address=Address(line1="1 rue", city="Paris"))})
    [problem] = lob().problems(msg)
    assert "Nomad SARL" in problem and "postcode, country" in problem
    with pytest.raises(PermanentError):
        asyncio.run(lob().send(msg))
    assert not router.calls


@pytest.mark.parametrize("code,error", [(422, PermanentError), (401, AuthError), (503, RetriableError)])
def test_errors(router, code, error):
    router.post(URL).mock(return_value=httpx.Response(code, json={"error": {
        "message": "to.address_zip is invalid", "status_code": code}}))
    with pytest.raises(error):
        asyncio.run(lob().send(letter()))


def test_a_retry_reuses_the_idempotency_key(router):
    router.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json=CREATED)])
    with pytest.raises(RetriableError):
        asyncio.run(lob().send(letter()))
    asyncio.run(lob().send(letter()))
    keys = {c.request.headers["Idempotency-Key"] for c in router.calls}
    assert keys == {"rl-standard:due+3d:i42"}


def webhook(secret="whsec", ts=None, kind="letter.certified.delivered"):
    body = json.dumps({"event_type": {"id": kind}, "body": {
        "id": "ltr_4868c3b754655f90", "tracking_number": "9407111899560000000000",
        "carrier": "USPS"}}).encode()
    ts = ts or str(int(time.time()))
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return WebhookRequest(method="POST", path="/webhooks/letter_lob/letters", body=body,
                          headers={"Lob-Signature": sig, "Lob-Signature-Timestamp": ts})


def test_tracking_webhook_keeps_proof_of_delivery():
    [event] = lob().verify_webhook(webhook()).events
    assert event.status == "delivered" and event.tracking["tracking_number"] == "9407111899560000000000"
    assert event.detail == "letter.certified.delivered"
    with pytest.raises(SignatureError, match="does not match"):
        lob().verify_webhook(webhook(secret="other"))
    with pytest.raises(SignatureError, match="old"):
        lob().verify_webhook(webhook(ts=str(int(time.time()) - 3600)))


class TestLobConformance(ChannelConformance):
    @pytest.fixture
    def message(self):
        return letter()

    @pytest.fixture
    def channel(self, router):
        return lob()

    @pytest.fixture
    def sent_requests(self, router):
        return lambda: [c.request for c in router.calls]

    @pytest.fixture
    def webhook_cases(self):
        return webhook(), webhook(secret="forged")


@pytest.mark.parametrize("settings,to,options,why", [
    ({"from_address": None}, "US", {}, "Lob mails from the US only, and the sender is in FR"),
    ({}, "FR", {"certified": True}, "certified mail is for US addresses"),
    ({}, "US", {"registered": True}, "registered mail is for addresses outside the US"),
])
def test_what_lob_cannot_mail_is_refused_before_the_call(router, settings, to, options, why):
    channel = lob(**settings)
    problems = channel.problems(letter(to, **options))
    assert any(why in p for p in problems), problems
    with pytest.raises(PermanentError, match=why):
        asyncio.run(channel.send(letter(to, **options)))
    assert not router.calls
