"""Conformance suites: subclass one in your plugin's tests and pytest runs the contract.

    import pytest
    from hub.testing.conformance import ChannelConformance
    from relance_mybox import MyBoxChannel

    class TestMyBox(ChannelConformance):
        @pytest.fixture
        def channel(self, relance_context, router):   # relance_context: the pytest plugin's
            return MyBoxChannel(MyBoxChannel.Settings(api_key="key-test"), relance_context)

        @pytest.fixture
        def sent_requests(self, router):              # what reached your (recorded) provider
            return lambda: [call.request for call in router.calls]

        @pytest.fixture
        def error_cases(self, router):                # the provider's recorded failures
            return {"auth": lambda: router.post(URL).respond(401, json={...}),
                    "permanent": lambda: router.post(URL).respond(422, json={...})}

Each suite documents the fixtures it asks for and contributes the tests. A test about a
capability your class does not declare is skipped with the reason; a test whose recorded
responses you did not provide is skipped and says which fixture would enable it. To opt
out of one test, override it in your subclass with `@pytest.mark.skip(reason=...)`.
Failure messages are written for you, the plugin author.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

import pytest

from hub.contracts import (
    API_VERSION,
    Channel,
    Connector,
    CustomerRecord,
    DeliveryStatus,
    InvoiceRecord,
    Message,
    PaymentLink,
    PaymentLinkRequest,
    PaymentProvider,
    PaymentRecord,
    Plugin,
    PluginSettings,
    RecordProblem,
    SendResult,
    SyncPage,
    Tombstone,
    WebhookRequest,
    WebhookResult,
)
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RateLimitedError,
    RetriableError,
    SignatureError,
)
from hub.testing.recorded import (
    carries,
    collect,
    leaks,
    merged_cursor,
    moved_back,
    plain_secret_fields,
    records_of,
    run,
    run_recorded,
    sample_link_request,
    sample_message,
    sample_note,
    secret_values,
    sync_pages,
)

#: error case -> (the class the hub needs, what the hub does with it)
ERRORS: dict[str, tuple[type[Exception], str]] = {
    "auth": (AuthError, "marks the connection needs_reauth and asks the user to re-connect"),
    "transient": (RetriableError, "tries again later (e.g. a 500 or 503 before anything was done)"),
    "rate_limited": (RateLimitedError, "pauses until the quota resets (HTTP 429)"),
    "permanent": (PermanentError, "gives up on this item and shows your message (e.g. a 400/422)"),
    "uncertain": (DeliveryUncertainError, "holds the dispatch `uncertain` instead of sending twice"),
}

#: capability flag -> the method a class declaring it must implement
CAPABILITY_METHODS = {
    "supports_refresh": "refresh", "supports_pdf": "fetch_pdf", "supports_writeback": "write_note",
    "supports_payments_writeback": "record_payment", "supports_webhooks": "verify_webhook",
    "supports_status": "status",
}

RECORD_TYPES = (CustomerRecord, InvoiceRecord, PaymentRecord, Tombstone, RecordProblem)


class PluginConformance:
    """What every plugin owes the hub, whatever its kind (uses the `relance_plugin` fixture
    each suite maps to its own: `connector`, `channel` or `provider_plugin`)."""

    pytestmark: ClassVar = [pytest.mark.relance_conformance]
    base: ClassVar[type[Plugin]] = Plugin
    #: the failures that make sense for this kind of plugin (see `ERRORS`)
    error_kinds: ClassVar[tuple[str, ...]] = ("auth", "permanent", "rate_limited", "transient")

    def pytest_generate_tests(self, metafunc):
        if "case" in metafunc.fixturenames:
            metafunc.parametrize("case", self.error_kinds)

    @pytest.fixture
    def error_cases(self) -> dict[str, Callable[[], None]]:
        """`{case: arrange}` where `arrange()` makes the next call meet that failure;
        cases: `error_kinds` (see `ERRORS`)."""
        return {}

    @pytest.fixture
    def webhook_cases(self) -> tuple[WebhookRequest, WebhookRequest] | None:
        """`(a validly signed WebhookRequest, the same request forged)`."""
        return None

    def test_declares_the_contract(self, relance_plugin):
        from hub.contracts.manager import api_compatible

        cls = type(relance_plugin)
        assert isinstance(relance_plugin, self.base), \
            f"{cls.__name__} must subclass hub.contracts.{self.base.__name__}"
        assert isinstance(cls.name, str) and cls.name.isidentifier() and cls.name == cls.name.lower(), \
            f"{cls.__name__}.name = {cls.name!r}: use a lowercase identifier (users write it in `plugin:`)"
        assert api_compatible(cls.api_version), (
            f"{cls.__name__}.api_version = {cls.api_version!r} but this Relance offers {API_VERSION}: "
            f"the hub would refuse to load your plugin; target {API_VERSION}")
        assert issubclass(cls.Settings, PluginSettings), \
            f"{cls.__name__}.Settings must subclass hub.contracts.PluginSettings"
        assert cls.Settings.model_config.get("extra") == "forbid", (
            f"{cls.__name__}.Settings accepts unknown keys: keep extra='forbid' so a typo in "
            "relance.yaml is an error at start-up, not a silently ignored setting")
        plain = plain_secret_fields(cls.Settings)
        assert not plain, (f"{cls.__name__}.Settings field(s) {', '.join(plain)} look like secrets "
                           "but are not SecretStr: declare them SecretStr so they are never printed")
        assert cls.description, f"{cls.__name__}.description is empty: `relance plugins` shows it"

    def test_capabilities_are_implemented(self, relance_plugin):
        cls = type(relance_plugin)
        for flag, method in CAPABILITY_METHODS.items():
            if getattr(cls, flag, False):
                assert getattr(cls, method) is not getattr(self.base, method, None) and \
                       getattr(cls, method) is not getattr(Plugin, method, None), (
                    f"{cls.__name__} declares {flag} = True but does not implement {method}(): "
                    "the hub will call it; implement it or drop the flag")

    def test_secrets_never_logged(self, relance_plugin, relance_exercise, caplog):
        secrets = secret_values(relance_plugin.settings)
        if not secrets:
            pytest.skip("your Settings hold no SecretStr value of 4 characters or more")
        caplog.set_level(logging.DEBUG)
        try:
            run(relance_exercise())
        except Exception as exc:  # the other tests judge the outcome; here only the words
            caplog.records.append(logging.makeLogRecord({"msg": str(exc)}))
        leaked = leaks((r.getMessage() for r in caplog.records), secrets)
        assert not leaked, f"your plugin wrote a secret from its Settings to the logs: {leaked[:3]}"

    def test_error_classification(self, relance_plugin, relance_exercise, error_cases, case):
        if case not in error_cases:
            pytest.skip(f"no recorded response for a {case!r} failure: add it to the error_cases fixture")
        expected, consequence = ERRORS[case]
        error_cases[case]()
        try:
            run(relance_exercise())
        except expected as exc:
            assert str(exc).strip(), (f"your {type(exc).__name__} has no message: say what the "
                                      "provider answered and what the user should do")
            leaked = leaks([str(exc)], secret_values(relance_plugin.settings))
            assert not leaked, f"your error message contains a secret: {leaked[0]}"
        except Exception as exc:
            pytest.fail(f"for the recorded {case!r} response your plugin raised {type(exc).__name__}: "
                        f"{exc}\nraise hub.errors.{expected.__name__} instead: the hub {consequence}")
        else:
            pytest.fail(f"for the recorded {case!r} response your plugin raised nothing; raise "
                        f"hub.errors.{expected.__name__}: the hub {consequence}")

    def test_webhook_verify(self, relance_plugin, webhook_cases):
        if not type(relance_plugin).supports_webhooks:
            pytest.skip(f"{type(relance_plugin).__name__} does not declare supports_webhooks")
        if webhook_cases is None:
            pytest.skip("provide the webhook_cases fixture: (a valid request, a forged one)")
        good, forged = webhook_cases
        result = relance_plugin.verify_webhook(good)
        assert isinstance(result, WebhookResult), \
            f"verify_webhook() must return a WebhookResult, got {type(result).__name__}"
        assert 200 <= result.status_code < 300, \
            f"a validly signed webhook was answered {result.status_code}: the provider will retry it"
        with pytest.raises(SignatureError, match=r"\S"):
            relance_plugin.verify_webhook(forged)


class ConnectorConformance(PluginConformance):
    """Fixtures to provide:

    - `connector`: an instance (built with `relance_context` or `hub.testing.make_context`)
      whose HTTP calls are answered by your recorded responses (respx or a fake server);
    - `error_cases` (optional): `{"auth" | "transient" | "rate_limited" | "permanent": arrange}`
      where `arrange()` makes the next sync meet that failure (a 401, 503, 429, 400 with the
      provider's documented body);
    - `webhook_cases` (optional, with `supports_webhooks`).

    Class attribute `opaque_cursors`: cursor keys holding opaque tokens (not ordered).
    """

    base: ClassVar[type[Plugin]] = Connector
    opaque_cursors: ClassVar[tuple[str, ...]] = ()

    @pytest.fixture
    def relance_plugin(self, connector):
        return connector

    @pytest.fixture
    def relance_exercise(self, connector):
        return lambda: sync_pages(connector, {})

    def test_records_are_valid(self, connector):
        pages = collect(connector, {})
        assert pages, "your connector yielded no page at all for a first sync (empty cursor)"
        for n, page in enumerate(pages):
            assert isinstance(page, SyncPage), f"sync() must yield SyncPage objects; page {n} is {type(page)}"
            for rec in page.records:
                assert isinstance(rec, RECORD_TYPES), \
                    f"page {n} holds a {type(rec).__name__}: yield only {[t.__name__ for t in RECORD_TYPES]}"
                assert type(rec).model_validate(rec.model_dump()) == rec, \
                    f"page {n}: {rec!r} does not validate as {type(rec).__name__} (built with trusted()?)"
                if isinstance(rec, InvoiceRecord):
                    assert isinstance(rec.amount_due, Decimal) and isinstance(rec.total, Decimal), \
                        f"invoice {rec.external_id}: amounts must be Decimal, never float"
                    assert rec.amount_due <= rec.total or rec.kind == "credit_note", (
                        f"invoice {rec.external_id}: amount_due {rec.amount_due} exceeds total {rec.total}")
                if isinstance(rec, RecordProblem):
                    assert rec.place and rec.reason, "a RecordProblem must name its place and the reason"
        assert records_of(pages, InvoiceRecord), \
            "your recorded responses should contain at least one invoice, or nothing is tested"
        invoices = [(r.kind, r.external_id) for r in records_of(pages, InvoiceRecord)]
        dupes = {i for i in invoices if invoices.count(i) > 1}
        assert not dupes, f"one sync yielded the same invoice twice: {sorted(dupes)[:5]} (a paging bug?)"

    def test_cursor_moves_forward(self, connector):
        async def both():
            first = await sync_pages(connector, {})
            return first, await sync_pages(connector, merged_cursor(first))

        first, second = run(both())
        seen: dict[str, str] = {}
        for n, page in enumerate([*first, *second]):
            for key, value in page.cursor.items():
                if key in seen and key not in self.opaque_cursors:
                    assert not moved_back(value, seen[key]), (
                        f"your connector yielded a cursor that moved backwards for stream {key!r}: "
                        f"{seen[key]!r} then {value!r} (page {n}). The hub stores the last cursor; "
                        "going back re-reads data, or with paging loops forever. If this key holds "
                        "an opaque token, list it in opaque_cursors")
                seen[key] = value
        assert seen, "sync() never returned a cursor: the hub could not resume after a crash or go incremental"

    def test_second_sync_yields_nothing_new(self, connector):
        async def both():
            first = await sync_pages(connector, {})
            return first, await sync_pages(connector, merged_cursor(first))

        first, second = run(both())
        known = {(type(r).__name__, getattr(r, "external_id", None)): r
                 for p in first for r in p.records}
        for page in second:
            for r in page.records:
                if isinstance(r, RecordProblem):
                    continue
                key = (type(r).__name__, getattr(r, "external_id", None))
                assert key in known, (f"a second sync from the cursor you returned yielded {key}, which "
                                      "the first sync did not: nothing changed in between")
                assert known[key] == r, (f"a second sync from the cursor you returned yielded {key} with "
                                         f"other values:\n first: {known[key]}\nsecond: {r}")

    def test_refresh_rereads_invoices(self, connector):
        if not type(connector).supports_refresh:
            pytest.skip(f"{type(connector).__name__} does not declare supports_refresh")

        async def go():
            ids = [r.external_id for r in records_of(await sync_pages(connector, {}), InvoiceRecord)][:2]
            return ids, await connector.refresh(ids)

        ids, fresh = run_recorded(go())
        assert all(isinstance(r, InvoiceRecord) for r in fresh), "refresh() must return InvoiceRecords"
        assert {r.external_id for r in fresh} <= set(ids), \
            f"refresh({ids}) returned other invoices: {[r.external_id for r in fresh]}"
        assert fresh, f"refresh({ids}) found none of the invoices the sync just yielded"

    def test_fetch_pdf(self, connector):
        if not type(connector).supports_pdf:
            pytest.skip(f"{type(connector).__name__} does not declare supports_pdf")

        async def go():
            first = records_of(await sync_pages(connector, {}), InvoiceRecord)[0]
            return first.external_id, await connector.fetch_pdf(first.external_id)

        external_id, pdf = run_recorded(go())
        assert pdf is None or (isinstance(pdf, bytes) and pdf.startswith(b"%PDF")), (
            f"fetch_pdf({external_id!r}) must return the PDF's bytes (starting %PDF) or None, "
            f"got {type(pdf).__name__} {bytes(pdf or b'')[:16]!r}")

    def test_write_note(self, connector):
        if not type(connector).supports_writeback:
            pytest.skip(f"{type(connector).__name__} does not declare supports_writeback")

        async def go():
            first = records_of(await sync_pages(connector, {}), InvoiceRecord)[0]
            return await connector.write_note(sample_note(first.external_id))

        assert run_recorded(go()) is None, "write_note() returns nothing; raise a hub.errors class on failure"


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


__all__ = ["ERRORS", "ChannelConformance", "ConnectorConformance", "PaymentProviderConformance",
           "PluginConformance", "collect", "run", "sample_message"]
