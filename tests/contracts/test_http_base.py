"""The plugin base classes do the shared HTTP work once: error mapping, OAuth refresh on
401, paging that cannot loop, and one bad record reported instead of a failed page."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from decimal import Decimal

import httpx
import pytest

from hub.contracts import (
    Channel,
    HttpChannel,
    HttpConnector,
    InvoiceRecord,
    Message,
    PluginSettings,
    RecordProblem,
    SendResult,
    SyncPage,
    pages,
    retry_after,
)
from hub.errors import (
    AuthError,
    DeliveryUncertainError,
    PermanentError,
    RateLimitedError,
    RetriableError,
)
from hub.testing import StaticTokenProvider, make_context


class Ledger(HttpConnector):
    name = "ledger"
    provider = "Ledger"

    async def sync(self, cursor):
        yield SyncPage()


class Sender(HttpChannel):
    name = "sender"

    async def send(self, message: Message) -> SendResult:
        raise NotImplementedError


class DedupSender(Sender):
    name = "dedup"
    idempotent = True


def plugin(cls, handler, **context):
    return cls(PluginSettings(), make_context(cls.name, transport=httpx.MockTransport(handler),
                                              **context))


def call(p, status, *, sending=False, **respond):
    def handler(request):
        return httpx.Response(status, **respond)

    async def go():
        instance = plugin(p, handler)
        return await instance.request("POST", "https://api.example/v1/things", sending=sending)
    return asyncio.run(go())


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (429, RateLimitedError),
                                               (500, RetriableError), (503, RetriableError),
                                               (404, PermanentError), (422, PermanentError)])
def test_default_mapping_for_reads(status, error):
    with pytest.raises(error) as caught:
        call(Ledger, status, json={"message": "the provider's words"})
    assert type(caught.value) is error
    assert "the provider's words" in str(caught.value) and "Ledger" in str(caught.value)


def test_a_5xx_on_a_send_is_uncertain_unless_the_provider_deduplicates():
    with pytest.raises(DeliveryUncertainError):
        call(Sender, 502, sending=True, json={"message": "gateway"})
    with pytest.raises(RetriableError) as caught:
        call(DedupSender, 502, sending=True, json={"message": "gateway"})
    assert not isinstance(caught.value, DeliveryUncertainError)


def test_unprocessed_statuses_are_retried_even_on_a_send():
    class Documented(Sender):
        name = "documented"
        unprocessed_statuses = (503,)

    with pytest.raises(RetriableError) as caught:
        call(Documented, 503, sending=True, text="maintenance")
    assert not isinstance(caught.value, DeliveryUncertainError)


def test_a_429_carries_the_providers_retry_after_in_seconds_or_as_a_date():
    with pytest.raises(RateLimitedError) as caught:
        call(Ledger, 429, headers={"Retry-After": "7"}, json={})
    assert caught.value.retry_after == 7
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120),
                                        usegmt=True)
    assert 100 < retry_after(httpx.Response(429, headers={"Retry-After": later}), 1) <= 120
    assert retry_after(httpx.Response(429), 60) == 60


def test_an_error_inside_a_200_is_an_error():
    class JsonRpc(Ledger):
        name = "jsonrpc"

        def body_error(self, response):
            body = response.json()
            return PermanentError(body["error"]["message"]) if "error" in body else None

    with pytest.raises(PermanentError, match="no such model"):
        call(JsonRpc, 200, json={"error": {"message": "no such model"}})
    assert call(JsonRpc, 200, json={"result": 1}).json() == {"result": 1}


def test_transport_failures_say_whether_anything_may_have_been_sent():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    def hang(request):
        raise httpx.ReadTimeout("slow", request=request)

    async def go(cls, handler, sending):
        return await plugin(cls, handler).request("POST", "https://api.example/x", sending=sending)

    with pytest.raises(RetriableError):
        asyncio.run(go(Sender, refuse, True))
    with pytest.raises(DeliveryUncertainError):
        asyncio.run(go(Sender, hang, True))
    with pytest.raises(RetriableError) as caught:
        asyncio.run(go(Ledger, hang, False))
    assert not isinstance(caught.value, DeliveryUncertainError)


def test_the_hubs_oauth_auth_refreshes_once_on_a_401_and_repeats_the_request():
    seen = []

    def handler(request):
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(seen) == 1 else 200, json={"ok": True})

    tokens = StaticTokenProvider("tok")

    async def go():
        p = plugin(Ledger, handler, oauth=tokens)
        return await p.request("GET", "https://api.example/me", auth=p.context.auth)

    assert asyncio.run(go()).json() == {"ok": True}
    assert seen == ["Bearer tok", "Bearer tok"] and tokens.refreshes == 1


def test_a_second_401_after_the_refresh_is_an_auth_error():
    tokens = StaticTokenProvider("tok")

    async def go():
        p = plugin(Ledger, lambda r: httpx.Response(401, json={"message": "revoked"}), oauth=tokens)
        return await p.request("GET", "https://api.example/me", auth=p.context.auth)

    with pytest.raises(AuthError, match="revoked"):
        asyncio.run(go())
    assert tokens.refreshes == 1


def test_paging_stops_with_a_clear_error_when_the_cursor_does_not_move():
    async def stuck(cursor):
        return [cursor], min(cursor + 1, 2)  # stuck at 2

    async def go():
        return [page async for page in pages(stuck, 0, where="ledger /things")]

    with pytest.raises(PermanentError, match=r"ledger /things.*cursor 2 again"):
        asyncio.run(go())

    async def moving(cursor):
        return [cursor], (cursor + 1 if cursor < 3 else None)

    async def ok():
        return [page async for page in pages(moving, 0, where="x")]

    assert asyncio.run(ok()) == [[0], [1], [2], [3]]


def test_one_unreadable_record_is_a_problem_and_the_rest_of_the_page_imports():
    p = plugin(Ledger, lambda r: httpx.Response(200))
    rows = [{"id": "1", "total": "10.00", "due": "2026-01-10"},
            {"id": "2", "total": "oops", "due": "2026-01-10"},
            {"id": "3", "due": "2026-01-10"},
            {"id": "4", "total": "5", "due": "2026-01-10", "draft": True}]

    def build(row):
        if row.get("draft"):
            return None
        total = Decimal(row["total"])
        return InvoiceRecord(external_id=row["id"], customer_external_id="C", number=row["id"],
                             currency="EUR", total=total, amount_due=total,
                             due_date=dt.date.fromisoformat(row["due"]))

    records = p.build_records(rows, build, what="invoice", ident=lambda r: r["id"])
    assert [type(r) for r in records] == [InvoiceRecord, RecordProblem, RecordProblem]
    assert records[1].place == "connection ledger: invoice 2"
    assert "'total' is missing" in records[2].reason


def test_the_base_classes_are_plugins_of_their_kind():
    assert issubclass(HttpChannel, Channel)
