"""Webhook endpoints: a bad signature gets 401, a malformed body 400, an oversized one 413 —
never a 500, and nothing is applied."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from starlette.testclient import TestClient

from hub.serve.app import MAX_WEBHOOK_BYTES, create_app
from hub.serve.scheduler import Runtime
from tests.feedback.test_payments import CONFIG

URL = "/webhooks/stripe/stripe"


def signed(body: bytes, secret: bytes = b"whsec_1") -> dict[str, str]:
    ts = str(int(time.time()))
    sig = hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={ts},v1={sig}", "Content-Type": "application/json"}


@pytest.fixture
def client(make_ws):
    ws = make_ws(CONFIG)
    with TestClient(create_app(Runtime(ws)), raise_server_exceptions=False) as c:
        yield c


def test_a_bad_signature_is_401(client):
    body = b'{"id": "evt_1", "type": "checkout.session.completed"}'
    assert client.post(URL, content=body, headers=signed(body, b"wrong")).status_code == 401


def test_a_signed_body_that_is_not_json_is_400(client):
    body = b"not json at all"
    reply = client.post(URL, content=body, headers=signed(body))
    assert reply.status_code == 400 and "malformed" in reply.text


def test_an_oversized_body_is_413_and_is_not_read_whole(client):
    body = b"{" + b" " * MAX_WEBHOOK_BYTES + b"}"
    assert client.post(URL, content=body, headers=signed(body)).status_code == 413


def test_a_good_event_is_accepted(client):
    body = b'{"id": "evt_2", "type": "customer.created", "data": {"object": {}}}'
    assert client.post(URL, content=body, headers=signed(body)).status_code == 200
