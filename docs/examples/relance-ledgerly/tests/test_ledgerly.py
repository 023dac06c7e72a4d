"""The example connector tested the way the guide says: its wire format on a fake server
(respx), and the conformance suite for the contract."""

import asyncio

import pytest
import respx
from fake_ledgerly import KEY, FakeLedgerly
from relance_ledgerly import LedgerlyConnector

from hub.contracts import InvoiceRecord
from hub.testing.conformance import ConnectorConformance

BASE = "https://api.ledgerly.example/v1"


@pytest.fixture
def fake():
    return FakeLedgerly()


@pytest.fixture
def router(fake):
    with respx.mock(assert_all_called=False) as r:
        r.route(host="api.ledgerly.example").mock(side_effect=fake)
        yield r


def ledgerly(context, **kw):
    return LedgerlyConnector(LedgerlyConnector.Settings(api_key=kw.pop("api_key", KEY), **kw),
                             context)


def sync(conn, cursor=None):
    async def go():
        return [p async for p in conn.sync(cursor or {})]
    return asyncio.run(go())


def test_pages_drafts_and_the_incremental_cursor(relance_context, router, fake):
    pages = sync(ledgerly(relance_context))
    invoices = [r for p in pages for r in p.records if isinstance(r, InvoiceRecord)]
    assert len(invoices) == 22 and "LY-0007" not in {i.number for i in invoices}  # a draft
    cursor = {k: v for p in pages for k, v in p.cursor.items()}
    assert cursor["/invoices"] == "2026-11-20T09:00:00Z"
    fake.invoices[0] |= {"state": "paid", "balance": "0.00", "updated_at": "2026-11-25T10:00:00Z"}
    again = [r for p in sync(ledgerly(relance_context), cursor) for r in p.records
             if isinstance(r, InvoiceRecord)]
    assert {(i.number, i.status) for i in again} >= {("LY-0001", "paid")}
    assert router.calls.last.request.url.params["updated_since"] == "2026-11-20T09:00:00Z"


def test_fresh_check_in_one_call_and_an_unknown_id_is_gone(relance_context, router, fake):
    fresh = asyncio.run(ledgerly(relance_context).refresh(["101", "102", "999"]))
    assert [i.external_id for i in fresh] == ["101", "102"]
    assert router.calls.last.request.url.params["ids"] == "101,102,999"


class TestLedgerly(ConnectorConformance):
    @pytest.fixture
    def connector(self, relance_context, router):
        return ledgerly(relance_context)

    @pytest.fixture
    def error_cases(self, fake):
        def answer(status, body):
            return lambda: setattr(fake, "fail", (status, body))
        return {"auth": answer(401, {"error": {"message": "invalid API key"}}),
                "permanent": answer(422, {"error": {"message": "per_page must be <= 100"}}),
                "rate_limited": answer(429, {"error": {"message": "slow down"}}),
                "transient": answer(503, {"error": {"message": "maintenance"}})}
