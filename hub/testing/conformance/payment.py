"""The payment-provider suite: links for the amount, idempotent creation."""


from __future__ import annotations

from typing import ClassVar

import pytest

from hub.contracts import (
    PaymentLink,
    PaymentLinkRequest,
    PaymentProvider,
    Plugin,
)
from hub.testing.conformance.base import PluginConformance
from hub.testing.recorded import (
    carries,
    run,
    sample_link_request,
)


class PaymentProviderConformance(PluginConformance):
    """Fixtures: `provider_plugin` (an instance), `sent_requests` as for channels,
    `link_request` (optional), `error_cases` and `webhook_cases` (optional)."""

    base: ClassVar[type[Plugin]] = PaymentProvider

    @pytest.fixture
    def relance_plugin(self, provider_plugin):
        return provider_plugin

    @pytest.fixture
    def link_request(self) -> PaymentLinkRequest:
        return sample_link_request()

    @pytest.fixture
    def sent_requests(self):
        return lambda: []

    @pytest.fixture
    def relance_exercise(self, provider_plugin, link_request):
        return lambda: provider_plugin.create_link(link_request)

    def test_create_link(self, provider_plugin, link_request):
        link = run(provider_plugin.create_link(link_request))
        assert isinstance(link, PaymentLink), f"create_link() must return a PaymentLink, got {type(link)}"
        assert link.url.startswith("https://") or link.url.startswith("http://"), \
            f"the link {link.url!r} is not a URL a customer can open"
        assert (link.amount, link.currency) == (link_request.amount, link_request.currency), (
            f"asked for {link_request.amount} {link_request.currency}, the link says "
            f"{link.amount} {link.currency}: convert minor units with Decimal, never float")

    def test_idempotency_key_reaches_provider(self, provider_plugin, link_request, sent_requests):
        if not type(provider_plugin).idempotent:
            pytest.skip(f"{type(provider_plugin).__name__} declares idempotent = False")
        run(provider_plugin.create_link(link_request))
        requests = [r for r in sent_requests() if r.method == "POST"]
        if not requests:
            pytest.skip("no POST recorded: provide the sent_requests fixture")
        assert all(carries(r, link_request.idempotency_key) for r in requests), (
            "every create must carry the request's idempotency_key (e.g. an Idempotency-Key header) "
            "so a retry after a timeout never creates two links")
