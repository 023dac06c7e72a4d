"""Odoo: JSON-RPC and JSON-2 wire shapes, keyset paging with write_date ties, companies,
faults, resume after a crash, fresh-check and chatter notes."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
import respx

from hub.contracts import CustomerRecord, InvoiceRecord, LedgerNote
from hub.errors import AuthError
from hub.testing import make_context
from hub.testing.conformance import ConnectorConformance
from plugins.odoo import OdooConnector, OdooSettings
from tests.fakes.odoo_server import FakeOdoo

URL = "https://acme.odoo.example"
KEY = "k" * 40


@pytest.fixture
def fake():
    return FakeOdoo(invoices=23, partners=5)


@pytest.fixture
def router(fake):
    def respond(request: httpx.Request):
        status, body = fake.handle(request.url.path, json.loads(request.content), dict(request.headers))
        return httpx.Response(status, json=body)

    with respx.mock(assert_all_called=False) as r:
        r.post(url__startswith=URL).mock(side_effect=respond)
        yield r


def odoo(**kw) -> OdooConnector:
    settings = OdooSettings(url=URL, database="acme", login="ar@acme.example",
                            api_key=kw.pop("api_key", KEY), page_size=kw.pop("page_size", 5), **kw)
    return OdooConnector(settings, make_context("odoo"))


def pages(conn, cursor=None):
    async def go():
        return [p async for p in conn.sync(cursor or {})]
    return asyncio.run(go())


def records(ps, kind):
    return [r for p in ps for r in p.records if isinstance(r, kind)]


@pytest.mark.parametrize("version,protocol", [(16, "jsonrpc"), (17, "jsonrpc"), (18, "jsonrpc"),
                                              (19, "json2")])
def test_protocol_detection_and_initial_sync(fake, router, version, protocol):
    fake.version = version
    conn = odoo()
    ps = pages(conn)
    assert conn.rpc.protocol == protocol
    invoices = records(ps, InvoiceRecord)
    assert sorted(int(i.external_id) for i in invoices) == list(range(1, 24))  # none lost or repeated
    assert len(records(ps, CustomerRecord)) == 5
    partial = next(i for i in invoices if i.external_id == "3")
    assert partial.amount_due == Decimal("60.25") and partial.total == Decimal("120.5")
    assert {i.external_id for i in invoices if i.kind == "credit_note"} == {"10", "20"}
    last = router.calls.last.request
    if protocol == "json2":
        assert last.url.path == "/json/2/account.move/search_read"
        assert last.headers["authorization"] == f"bearer {KEY}" and last.headers["x-odoo-database"] == "acme"
        body = json.loads(last.content)
        assert body["order"] == "write_date asc, id asc" and body["limit"] == 5
    else:
        body = json.loads(last.content)
        assert last.url.path == "/jsonrpc" and body["params"]["service"] == "object"
        assert body["params"]["args"][3:5] == ["account.move", "search_read"]


def test_calls_are_one_per_page_plus_version_and_login(fake, router):
    pages(odoo())
    # version + authenticate + partners (5 → 1 full page, 1 empty) + moves (23 → 5 pages)
    assert fake.calls == 2 + 2 + 5


def test_incremental_nothing_changed_then_changes(fake, router):
    conn = odoo()
    cursor = {}
    for p in pages(conn):
        cursor.update(p.cursor)
    fake.calls = 0
    assert records(pages(conn, cursor), InvoiceRecord) == []
    assert fake.calls == 2  # one empty search_read per model (version/login cached)
    fake.change(4, payment_state="paid", amount_residual=0.0)
    fake.change(9, state="cancel")
    fake.change(12, payment_state="reversed")
    fake.change(15, payment_state="in_payment")
    changed = {i.external_id: i.status for i in records(pages(conn, cursor), InvoiceRecord)}
    assert changed == {"4": "paid", "9": "void", "12": "void", "15": "paid"}


def test_ties_on_write_date_across_pages_are_not_lost(fake, router):
    # seven moves share each write_date and pages hold 5: every page boundary splits a tie
    ids = [int(i.external_id) for i in records(pages(odoo(page_size=5)), InvoiceRecord)]
    assert ids == sorted(set(ids)) == list(range(1, 24))


def test_resume_after_a_crash(fake, router):
    conn = odoo()
    cursor = {}
    seen = []
    for n, p in enumerate(pages(conn)):
        if n == 3:  # the hub died before committing page 4
            break
        cursor.update(p.cursor)
        seen += [r.external_id for r in p.records if isinstance(r, InvoiceRecord)]
    rest = [i.external_id for i in records(pages(odoo(), cursor), InvoiceRecord)]
    assert sorted(map(int, seen + rest)) == list(range(1, 24))


def test_multi_company_scoping(fake, router):
    fake.companies = 2
    ids = {int(i.external_id) for i in records(pages(odoo(company=2)), InvoiceRecord)}
    assert ids == {i for i in range(1, 24) if i % 2 == 1}


def test_bad_api_key_is_an_auth_error_naming_the_fix(fake, router):
    with pytest.raises(AuthError, match="check login and API key"):
        pages(odoo(api_key="wrong-key-" * 4))
    fake.version = 19
    with pytest.raises(AuthError):
        pages(odoo(api_key="wrong-key-" * 4))


def test_refresh_and_chatter_note(fake, router):
    conn = odoo()
    fake.change(7, payment_state="paid", amount_residual=0.0)
    [inv] = asyncio.run(conn.refresh(["7"]))
    assert inv.status == "paid" and inv.amount_due == Decimal("0.0")
    import datetime as dt

    asyncio.run(conn.write_note(LedgerNote(invoice_external_id="7", text="Reminder sent by email",
                                           channel="email", template="fr/first_reminder.j2",
                                           sent_at=dt.datetime.now(dt.UTC))))
    [(move, body)] = fake.notes
    assert move == 7 and "Reminder sent" in body
    post = json.loads(router.calls.last.request.content)["params"]["args"][6]
    assert post["message_type"] == "comment" and post["subtype_xmlid"] == "mail.mt_note"


class TestOdooConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, router):
        return odoo()

    @pytest.fixture
    def error_cases(self, fake):
        def bad_key():
            fake.api_key = "another"
        return {"auth": bad_key}
