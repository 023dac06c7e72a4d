"""The channel suite: sends carry a provider reference and the idempotency key."""


from __future__ import annotations

from typing import ClassVar

import pytest

from hub.contracts import (
    Channel,
    DeliveryStatus,
    Message,
    Plugin,
    SendResult,
)
from hub.testing.conformance.base import PluginConformance
from hub.testing.recorded import (
    carries,
    run,
    run_recorded,
    sample_message,
)


class ChannelConformance(PluginConformance):
    """Fixtures to provide:

    - `channel`: an instance whose provider calls are answered by recorded responses;
    - `sent_requests`: a callable returning the `httpx.Request`s sent so far (e.g.
      `lambda: [c.request for c in router.calls]`), for channels that call an HTTP API;
    - `message` (optional): the `Message` to send (default: `sample_message`);
    - `error_cases` (optional): `{"auth" | "transient" | "rate_limited" | "permanent" |
      "uncertain": arrange}`;
    - `webhook_cases` (optional, with `supports_webhooks`): `(valid, forged)` requests.
    """

    base: ClassVar[type[Plugin]] = Channel
    error_kinds: ClassVar[tuple[str, ...]] = ("auth", "permanent", "rate_limited", "transient", "uncertain")

    @pytest.fixture
    def relance_plugin(self, channel):
        return channel

    @pytest.fixture
    def message(self) -> Message:
        return sample_message()

    @pytest.fixture
    def sent_requests(self):
        return lambda: []

    @pytest.fixture
    def relance_exercise(self, channel, message):
        return lambda: channel.send(message)

    def test_requires_known_fields(self, channel):
        unknown = set(type(channel).requires) - {"email", "phone", "address"}
        assert not unknown, f"requires = {type(channel).requires}: the hub knows email, phone, address"

    def test_send_returns_provider_ref(self, channel, message):
        problems = channel.problems(message)
        assert not problems, f"problems() refused the sample message, so nothing is tested: {problems}"
        result = run(channel.send(message))
        assert isinstance(result, SendResult), f"send() must return a SendResult, got {type(result).__name__}"
        assert result.provider_ref.strip(), (
            "send() returned an empty provider_ref: the hub needs the provider's reference to "
            "match delivery webhooks and to resolve uncertain dispatches")

    def test_idempotency_key_reaches_provider(self, channel, message, sent_requests):
        if not type(channel).idempotent:
            pytest.skip(f"{type(channel).__name__} does not declare idempotent = True")

        async def twice():
            await channel.send(message)
            await channel.send(message)

        run(twice())
        requests = sent_requests()
        if not requests:
            pytest.skip("no request recorded: provide the sent_requests fixture")
        posts = [r for r in requests if r.method != "GET"] or requests
        assert all(carries(r, message.idempotency_key) for r in posts), (
            f"your channel declares idempotent = True but the idempotency key "
            f"{message.idempotency_key!r} did not reach the provider in every request (header or "
            "body): after a crash the hub re-sends, and the customer would get two reminders")

    def test_status(self, channel, message):
        if not type(channel).supports_status:
            pytest.skip(f"{type(channel).__name__} does not declare supports_status")

        async def go():
            ref = (await channel.send(message)).provider_ref
            return ref, await channel.status(ref)

        ref, status = run_recorded(go())
        assert isinstance(status, DeliveryStatus) and status.provider_ref == ref, \
            f"status({ref!r}) must return a DeliveryStatus for that reference, got {status!r}"

    # for a channel the same test reads better under this name
    test_permanent_vs_transient = PluginConformance.test_error_classification
    test_error_classification = None


