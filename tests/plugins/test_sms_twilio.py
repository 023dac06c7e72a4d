"""Twilio SMS: the documented wire format, numbers, segments, errors, signatures, status."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from urllib.parse import urlencode

import httpx
import pytest
import respx

from hub.contracts import Recipient, WebhookRequest
from hub.errors import AuthError, DeliveryUncertainError, PermanentError, RateLimitedError, SignatureError
from hub.testing import make_context
from hub.testing.conformance import ChannelConformance, sample_message
from plugins.sms_twilio import TwilioSettings, TwilioSmsChannel
from plugins.sms_twilio.segments import count
from tests.specs import Spec

SPEC = Spec("twilio/twilio_api_v2010.json")
URL = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
CREATED = {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+33612345678",
           "from": "+15005550006", "body": "x", "num_segments": "1", "error_code": None}


def channel(**kw) -> TwilioSmsChannel:
    settings = TwilioSettings(account_sid="AC123", auth_token="tok", from_number="+15005550006", **kw)
    return TwilioSmsChannel(settings, make_context("sms", public_url="https://relance.example"))


def sms(text="Acme : 1 facture impayée, 120,00 €.", mobile="06 12 34 56 78", **kw):
    rcpt = Recipient(customer_id=1, name="Camille", mobile=mobile, country="FR")
    return sample_message(text=text, recipient=rcpt, template="fr/short_reminder.j2", **kw)


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as r:
        r.post(URL).mock(return_value=httpx.Response(201, json=CREATED))
        yield r


def test_request_is_the_documented_one(router):
    result = asyncio.run(channel().send(sms()))
    request = router.calls.last.request
    assert SPEC.check(request) == "/2010-04-01/Accounts/{AccountSid}/Messages.json"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form == {"To": "+33612345678", "From": "+15005550006",
                    "Body": "Acme : 1 facture impayée, 120,00 €.",
                    "StatusCallback": "https://relance.example/webhooks/sms_twilio/sms"}
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert result.provider_ref == CREATED["sid"] and result.status == "queued"


@pytest.mark.parametrize("mobile,reason", [("01 23 45 67 89", "landline"),
                                           ("12", "not a valid number"),
                                           ("hello", "not a phone number")])
def test_bad_numbers_are_permanent_and_explained(router, mobile, reason):
    ch = channel()
    assert reason in ch.problems(sms(mobile=mobile))[0]
    with pytest.raises(PermanentError, match=reason):
        asyncio.run(ch.send(sms(mobile=mobile)))
    assert not router.calls


def test_typographic_spaces_do_not_force_ucs2(router):
    text = "Acme : 1 facture impayée, 1\u202f234,56\u00a0€."
    assert count(text)[:2] == (1, "GSM-7")
    asyncio.run(channel().send(sms(text=text)))
    assert dict(httpx.QueryParams(router.calls.last.request.content.decode()))["Body"] == \
        "Acme : 1 facture impayée, 1 234,56 €."


def test_segments_gsm7_ucs2_and_extension_characters():
    assert count("a" * 160)[:2] == (1, "GSM-7")
    assert count("a" * 161)[:2] == (2, "GSM-7")
    assert count("€" * 80)[:2] == (1, "GSM-7") and count("€" * 81)[:2] == (2, "GSM-7")
    assert count("ê" + "a" * 69) == (1, "UCS-2", "ê")
    assert count("ê" + "a" * 70)[0] == 2 and count("ê" + "a" * 134)[0] == 3


def test_max_segments_refuses_long_messages_with_the_reason(router):
    ch = channel(max_segments=1)
    text = "Relance : " + "ê" * 80
    assert ch.preview(sms(text=text)) == {"segments": 2, "encoding": "UCS-2"}
    [problem] = ch.problems(sms(text=text))
    assert "2 segments (UCS-2 because of 'ê')" in problem and "max_segments is 1" in problem


@pytest.mark.parametrize("code,body,error", [
    (400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}, PermanentError),
    (401, {"code": 20003, "message": "Authenticate"}, AuthError),
    (429, {"code": 20429, "message": "Too Many Requests"}, RateLimitedError),
    (500, {"code": 20500, "message": "Internal Server Error"}, DeliveryUncertainError),
])
def test_errors_are_classified(router, code, body, error):
    router.post(URL).mock(return_value=httpx.Response(code, json=body))
    with pytest.raises(error, match=str(body["code"])):
        asyncio.run(channel().send(sms()))


def signed(url: str, params: dict, token: str = "tok") -> WebhookRequest:
    payload = url + "".join(k + v for k, v in sorted(params.items()))
    sig = base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    return WebhookRequest(method="POST", path="/webhooks/sms_twilio/sms", url=url,
                          headers={"X-Twilio-Signature": sig,
                                   "Content-Type": "application/x-www-form-urlencoded"},
                          body=urlencode(params).encode())


def test_status_callback_signature_accepted_and_refused():
    url = "https://relance.example/webhooks/sms_twilio/sms"
    params = {"MessageSid": CREATED["sid"], "MessageStatus": "delivered", "AccountSid": "AC123"}
    [event] = channel().verify_webhook(signed(url, params)).events
    assert event.provider_ref == CREATED["sid"] and event.status == "delivered"
    with pytest.raises(SignatureError):
        channel().verify_webhook(signed(url, params, token="wrong"))
    tampered = signed(url, params).model_copy(update={"body": b"MessageStatus=failed"})
    with pytest.raises(SignatureError):
        channel().verify_webhook(tampered)


def test_status_polling_for_uncertain_dispatches(router):
    router.get(URL.replace(".json", f"/{CREATED['sid']}.json")).mock(
        return_value=httpx.Response(200, json={**CREATED, "status": "undelivered",
                                               "error_message": "Unknown destination"}))
    st = asyncio.run(channel().status(CREATED["sid"]))
    assert st.status == "undelivered" and st.detail == "Unknown destination"
    assert SPEC.check(router.calls.last.request)


class TestTwilioConformance(ChannelConformance):
    @pytest.fixture
    def message(self):
        return sms()

    @pytest.fixture
    def channel(self, router):
        return channel()

    @pytest.fixture
    def error_cases(self, router):
        return {"permanent": lambda: router.post(URL).mock(return_value=httpx.Response(
            400, json={"code": 21211, "message": "invalid To"})),
            "auth": lambda: router.post(URL).mock(return_value=httpx.Response(401, json={}))}


def test_every_message_status_the_spec_lists_is_known():
    import json

    from plugins.sms_twilio import STATUSES
    from tests.specs import need

    doc = json.loads(need("twilio/twilio_api_v2010.json").read_text())
    listed = set(doc["components"]["schemas"]["message_enum_status"]["enum"])
    assert listed <= set(STATUSES), f"unknown to the channel: {listed - set(STATUSES)}"
    assert STATUSES["partially_delivered"] == "delivered"


def test_check_reads_the_account_and_names_refused_credentials():
    with respx.mock() as r:
        route = r.get("https://api.twilio.com/2010-04-01/Accounts/AC123.json").mock(
            return_value=httpx.Response(401, json={"code": 20003, "message": "Authenticate"}))
        [problem] = asyncio.run(channel().check())
        assert "credentials refused" in problem and "auth_token" in problem
        SPEC.check(route.calls.last.request)
        route.mock(return_value=httpx.Response(200, json={"sid": "AC123", "status": "active"}))
        assert asyncio.run(channel().check()) == []
