"""Odoo: JSON-RPC and JSON-2 wire shapes, keyset paging with write_date ties, companies,
faults, resume after a crash, fresh-check and chatter notes."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
import respx

from hub.contracts import CustomerRecord, InvoiceRecord, LedgerNote, PaymentRecord
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
    moves = [c.request for c in router.calls if b"account.move" in c.request.content
             or "account.move" in c.request.url.path]
    last = moves[-1]
    if protocol == "json2":
        assert last.url.path == "/json/2/account.move/search_read"
        assert last.headers["authorization"] == f"bearer {KEY}" and last.headers["x-odoo-database"] == "acme"
        body = json.loads(last.content)
        assert body["order"] == "id asc" and body["limit"] == 5
    else:
        body = json.loads(last.content)
        assert last.url.path == "/jsonrpc" and body["params"]["service"] == "object"
        assert body["params"]["args"][3:5] == ["account.move", "search_read"]


def test_calls_are_one_per_page_plus_version_login_and_a_mark_per_model(fake, router):
    pages(odoo())
    # version + authenticate + for each model its newest write_date, then its pages:
    # partners (5 → 1 full page, 1 empty), moves (23 → 5 pages), payments (none: 1)
    assert fake.calls == 2 + (1 + 2) + (1 + 5) + (1 + 1)


def cursor_of(ps, cursor=None):
    out = dict(cursor or {})
    for p in ps:
        out.update(p.cursor)
    return out


def test_incremental_nothing_changed_then_changes(fake, router):
    conn = odoo()
    cursor = cursor_of(pages(conn))
    fake.calls = 0
    again = pages(conn, cursor)
    assert [r for p in again for r in p.records] == []  # the re-read window reports nothing
    assert fake.calls == 3 + 2 + 5 + 1  # the marks, then the window: everything here
    fake.calls = 0
    quiet = pages(odoo(late_commit_window=0), cursor)
    # the marks, and each model's last second: a full page of partners, then moves, payments
    assert [r for p in quiet for r in p.records] == [] and fake.calls == 3 + 2 + 1 + 1
    fake.change(4, payment_state="paid", amount_residual=0.0)
    fake.change(9, state="cancel")
    fake.change(12, payment_state="reversed")
    fake.change(15, payment_state="in_payment")
    changed = {i.external_id: i.status for i in records(pages(conn, cursor_of(again, cursor)),
                                                        InvoiceRecord)}
    assert changed == {"4": "paid", "9": "void", "12": "void", "15": "paid"}


def test_more_records_on_one_write_date_than_a_page_end_the_sync(fake, router):
    """600 invoices written in one transaction share one write_date (to the microsecond):
    the sync ends, with each once, on a fresh workspace and incrementally."""
    fake.n["account.move"] = 700
    first = pages(odoo(page_size=50))
    cursor = cursor_of(first)
    t = fake.transaction()
    for i in range(50, 650):
        t.change(i, payment_state="paid", amount_residual=0.0)
    t.commit()
    ps = pages(odoo(page_size=50), cursor)  # today: an endless loop
    ids = [int(r.external_id) for r in records(ps, InvoiceRecord)]
    assert sorted(ids) == list(range(50, 650)) and len(ps) < 40


def test_a_late_commit_with_an_earlier_write_date_is_not_skipped(fake, router):
    conn = odoo()
    cursor = cursor_of(pages(conn))
    long = fake.transaction()  # starts first: its records carry this earlier instant
    for i in range(1, 901):
        long.change(i % 23 + 1, amount_residual=float(i))
    fake.change(5, payment_state="paid", amount_residual=0.0)  # commits meanwhile
    cursor = cursor_of(pages(conn, cursor), cursor)  # sees 5 and moves its mark past it
    long.commit()
    late = {i.external_id for i in records(pages(conn, cursor), InvoiceRecord)}
    assert late == {str(i % 23 + 1) for i in range(1, 901)}  # today: skipped for good


def test_a_second_change_in_the_same_second_is_seen(fake, router):
    conn = odoo()
    cursor = cursor_of(pages(conn))
    fake.change(6, amount_residual=10.0)
    cursor = cursor_of(pages(conn, cursor), cursor)
    fake.change(6, amount_residual=0.0, payment_state="paid")  # a millisecond later
    [inv] = records(pages(conn, cursor), InvoiceRecord)
    assert inv.external_id == "6" and inv.status == "paid"


def test_ties_on_write_date_across_pages_are_not_lost(fake, router):
    # seven moves share each second of write_date and pages hold 5
    ids = [int(i.external_id) for i in records(pages(odoo(page_size=5)), InvoiceRecord)]
    assert ids == sorted(set(ids)) == list(range(1, 24))


def test_resume_after_a_crash(fake, router):
    conn = odoo()
    cursor = {}
    seen = []
    for n, p in enumerate(pages(conn)):
        if n == 5:  # the hub died before committing this page
            break
        cursor.update(p.cursor)
        seen += [r.external_id for r in p.records if isinstance(r, InvoiceRecord)]
    rest = [i.external_id for i in records(pages(odoo(), cursor), InvoiceRecord)]
    assert sorted(map(int, seen + rest)) == list(range(1, 24))


def test_customer_payments_are_read_and_supplier_ones_are_not(fake, router):
    fake.n["account.payment"] = 20
    ps = pages(odoo())
    paid = records(ps, PaymentRecord)
    assert sorted(int(p.external_id) for p in paid) == [i for i in range(1, 21) if i % 5]
    one = next(p for p in paid if p.external_id == "3")
    assert one.invoice_external_id == "3" and one.amount == Decimal("40.25") and not one.void
    fake.change(3, model="account.payment", state="cancel")
    [void] = records(pages(odoo(), cursor_of(ps)), PaymentRecord)
    assert void.external_id == "3" and void.void


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
    assert move == 7 and body == "<p>Reminder sent by email</p>"  # markup once, not escaped
    post = json.loads(router.calls.last.request.content)["params"]["args"][6]
    assert post["message_type"] == "comment" and post["subtype_xmlid"] == "mail.mt_note"


class TestOdooConformance(ConnectorConformance):
    opaque_cursors = ("res.partner", "account.move", "account.payment")  # a pass's JSON state

    @pytest.fixture
    def connector(self, router):
        return odoo()

    @pytest.fixture
    def error_cases(self, fake):
        def bad_key():
            fake.api_key = "another"
        return {"auth": bad_key}


ODOO_WS = f"""
company: {{name: Acme, country: FR, timezone: Europe/Paris, language: fr}}
connections:
  books:
    plugin: odoo
    settings: {{url: "{URL}", database: acme, login: ar@acme.example, api_key: "${{ODOO_KEY}}"}}
channels: {{email: {{plugin: capture}}}}
scenarios: {{standard: {{closed_days: ignore, steps: [{{at: due+3d, channel: email, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
"""


def _state(ws) -> str:
    from sqlalchemy import select

    from hub.store.db import session
    from hub.store.models import Connection

    with session(ws.engine) as s:
        return s.execute(select(Connection.state).where(Connection.name == "books")).scalar_one()


def test_a_connection_recovers_once_the_key_is_fixed(fake, router, make_ws, monkeypatch, tmp_path):
    from hub.sync.engine import sync_connection

    monkeypatch.setenv("ODOO_KEY", "wrong-key-" * 4)
    ws = make_ws(ODOO_WS)
    assert not asyncio.run(sync_connection(ws, "books")).ok and _state(ws) == "needs_reauth"
    monkeypatch.setenv("ODOO_KEY", KEY)  # the admin fixes the key: the next sync just works
    ws = make_ws(ODOO_WS)
    assert asyncio.run(sync_connection(ws, "books")).ok and _state(ws) == "ok"


def test_relance_connect_clears_needs_reauth(fake, router, make_ws, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.sync.engine import sync_connection

    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")
    monkeypatch.setenv("ODOO_KEY", "wrong-key-" * 4)
    ws = make_ws(ODOO_WS)
    asyncio.run(sync_connection(ws, "books"))
    monkeypatch.setenv("ODOO_KEY", KEY)
    out = CliRunner().invoke(app, ["connect", "books", "-w", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "no longer needs re-authorisation" in out.output and _state(ws) == "ok"


@pytest.mark.parametrize("version", [16, 17, 18])
def test_the_chatter_note_is_markup_once_on_each_version(fake, router, version):
    import datetime as dt

    fake.version = version
    asyncio.run(odoo().write_note(LedgerNote(invoice_external_id="7", text="Sent to A & B <ar>",
                                             channel="email", template="t",
                                             sent_at=dt.datetime.now(dt.UTC))))
    [(_, body)] = fake.notes
    assert body == "<p>Sent to A &amp; B &lt;ar&gt;</p>"


@pytest.mark.parametrize("version", [17, 18])
def test_invoice_pdf_through_send_and_print_only_when_asked(fake, router, version):
    fake.version = version
    assert asyncio.run(odoo().fetch_pdf("7")) is None and not odoo().supports_pdf
    conn = odoo(pdf_via_send=True)
    assert conn.supports_pdf
    assert asyncio.run(conn.fetch_pdf("7")) == b"%PDF-1.7 odoo invoice 7"
    [(model, values, ctx)] = fake.wizards.values()
    if version >= 18:
        assert model == "account.move.send.wizard" and values["sending_methods"] == ["manual"]
    else:  # download only: never an e-mail to the customer from Odoo
        assert values == {"checkbox_download": True, "checkbox_send_mail": False}
    assert ctx["active_ids"] == [7] and fake.move(7)["is_move_sent"]  # the stated side effect
    asyncio.run(conn.fetch_pdf("7"))  # made once: the next read takes the stored PDF
    assert len(fake.wizards) == 1


def test_a_step_that_attaches_a_pdf_the_connector_cannot_fetch_is_said(fake, router, make_ws,
                                                                        monkeypatch, tmp_path):
    import datetime as dt

    from sqlalchemy import select
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.store.db import session
    from hub.store.models import Event
    from tests.send.test_unknown_is_not_open import run

    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")
    monkeypatch.setenv("ODOO_KEY", KEY)
    cfg = ODOO_WS.replace("template: first_reminder}", "template: first_reminder, "
                          "attach_invoice: true}").replace("due+3d", "due-3000d")
    ws = make_ws(cfg)
    checks = CliRunner().invoke(app, ["doctor", "-w", str(tmp_path), "--offline", "--json"])
    [warn] = [c for c in json.loads(checks.stdout) if "attach the invoice PDF" in c["message"]]
    assert warn["level"] == "warn" and "pdf_via_send" in warn["message"]
    fake.n["account.move"] = 2
    fake.change(1, invoice_date_due=(dt.date.today() + dt.timedelta(days=10)).isoformat())
    summary = run(ws)
    assert summary["sent"] >= 1
    with session(ws.engine) as s:
        msgs = s.execute(select(Event.message).where(Event.kind == "attachment_missing")).all()
    assert msgs and "cannot fetch invoice PDFs" in msgs[0][0]


def test_doctor_warns_when_several_companies_are_mixed_and_a_wrong_name_fails_first(fake, router):
    from hub.errors import PermanentError

    fake.companies = 2
    fake.n["res.company"] = 2
    [warning] = [p for p in asyncio.run(odoo().check()) if p.startswith("warning")]
    assert "2 companies (Company 1, Company 2)" in warning and "company:" in warning
    assert not [p for p in asyncio.run(odoo(company="Company 2").check()) if "companies" in p]
    fake.calls = 0
    with pytest.raises(PermanentError, match="no Odoo company named 'Nope'"):
        pages(odoo(company="Nope"))
    assert not [s for s in fake.searches if s["model"] != "res.company"]  # nothing else read


def test_a_payment_is_registered_for_the_amount_paid(fake, router):
    import datetime as dt

    from hub.contracts import LedgerPayment

    asyncio.run(odoo().record_payment(LedgerPayment(
        invoice_external_id="7", amount=Decimal("80.10"), currency="EUR", date=dt.date(2026, 12, 3),
        reference="cs_1", idempotency_key="rl-ab:pay:1")))
    assert fake.registered == [{"amount": 80.1, "payment_date": "2026-12-03",
                                "communication": "cs_1", "move": 7}]
    assert not OdooConnector.idempotent_payments  # no key at Odoo: a cut-off try is not retried


def test_a_person_without_a_vat_number_is_a_consumer_for_the_late_payment_law():
    from plugins.odoo import OdooConnector

    odoo = object.__new__(OdooConnector)
    person = {"id": 7, "name": "Jean Dupont", "is_company": False, "vat": False}
    assert odoo.customer(person).customer_type == "consumer"
    assert odoo.customer(person | {"vat": "FR40303265045"}).customer_type == "business"
    assert odoo.customer({"id": 8, "name": "Acme", "is_company": True}).customer_type == "business"
