"""What a person does in the dashboard lands in the store, named after them."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from hub.store.db import session
from hub.store.models import CaseState, Customer, Dispatch, Event
from tests.web.conftest import signed_in


def _dispatch_of(ws, customer: str) -> Dispatch:
    with session(ws.engine) as s:
        return s.execute(select(Dispatch).join(Customer, Customer.id == Dispatch.customer_id)
                         .where(Customer.name == customer)).scalars().one()


def _customer(ws, name: str) -> Customer:
    with session(ws.engine) as s:
        return s.execute(select(Customer).where(Customer.name == name)).scalars().one()


def test_today_shows_each_waiting_reminder_with_its_message_and_why(ws):
    c, _ = signed_in(ws, "vera")
    page = c.get("/today").text
    assert "Waiting for approval (3)" in page
    assert "Dear Customer C2" in page  # the rendered message, not only its name
    assert "waits because: above 50 EUR" in page
    filtered = c.get("/today", params={"customer": "C3"}).text
    assert "Customer C3" in filtered and "Dear Customer C2" not in filtered


def test_approve_reject_and_hold_act_on_the_store_and_name_the_person(ws):
    c, csrf = signed_in(ws, "alice")
    one, two, three = (_dispatch_of(ws, f"Customer C{n}") for n in (1, 2, 3))
    assert c.post(f"/dispatches/{one.id}/approve", data={"csrf_token": csrf}).status_code == 303
    r = c.post(f"/dispatches/{two.id}/reject", data={"csrf_token": csrf, "reason": ""})
    shown = c.get(r.headers["location"]).text
    assert "say why" in shown, [x for x in shown.splitlines() if "flash" in x]
    c.post(f"/dispatches/{two.id}/reject", data={"csrf_token": csrf, "reason": "in talks"})
    until = dt.date.today() + dt.timedelta(days=10)
    c.post(f"/dispatches/{three.id}/hold", data={"csrf_token": csrf, "until": until.isoformat(),
                                                 "reason": "new CFO"})
    with session(ws.engine) as s:
        status = {d.id: d.status for d in s.execute(select(Dispatch)).scalars()}
        messages = set(s.execute(select(Event.message).where(
            Event.dispatch_id.in_([one.id, two.id, three.id]))).scalars())
        hold = s.execute(select(CaseState).where(CaseState.kind == "hold")).scalars().one()
    assert status == {one.id: "approved", two.id: "cancelled", three.id: "cancelled"}
    assert "approved by alice" in messages and "rejected by alice: in talks" in messages
    assert hold.opened_by == "alice" and hold.until == until and hold.reason == "new CFO"
    assert hold.customer_id == three.customer_id


def test_bulk_approve_takes_a_filter_and_refuses_without_one(ws):
    c, csrf = signed_in(ws, "alice")
    r = c.post("/dispatches/approve", data={"csrf_token": csrf})
    assert "say which" in c.get(r.headers["location"]).text
    c.post("/dispatches/approve", data={"csrf_token": csrf, "above": "6000"})
    with session(ws.engine) as s:
        approved = list(s.execute(select(Dispatch.amount).where(Dispatch.status == "approved")
                                  ).scalars())
    assert [str(a.normalize()) for a in approved] == ["8E+3"]


def test_the_customer_page_tells_the_story_and_takes_promises_and_notes(ws):
    c, csrf = signed_in(ws, "alice")
    cust = _customer(ws, "Customer C2")
    page = c.get(f"/customers/{cust.id}").text
    assert "INV-2" in page and "planned standard step" in page  # the timeline
    until = dt.date.today() + dt.timedelta(days=5)
    c.post(f"/customers/{cust.id}/cases", data={
        "csrf_token": csrf, "kind": "promise", "until": until.isoformat(), "amount": "5000.00",
        "reason": "on the phone"})
    c.post(f"/customers/{cust.id}/notes", data={"csrf_token": csrf, "text": "calls back Monday"})
    bad = c.post(f"/customers/{cust.id}/cases", data={"csrf_token": csrf, "kind": "promise"})
    assert "needs its date" in c.get(bad.headers["location"]).text
    with session(ws.engine) as s:
        promise = s.execute(select(CaseState).where(CaseState.kind == "promise")).scalars().one()
        note = s.execute(select(Event).where(Event.kind == "note")).scalars().one()
    assert (promise.opened_by, promise.until, promise.customer_id) == ("alice", until, cust.id)
    assert note.message == "alice: calls back Monday" and note.customer_id == cust.id
    page = c.get(f"/customers/{cust.id}").text
    assert "Not reminded while: promise" in page and "calls back Monday" in page
    listing = c.get("/customers", params={"q": "C2"}).text
    assert "Customer C2" in listing and "promise" in listing and "Customer C3" not in listing


def test_the_invoice_page_answers_explain(ws):
    c, _ = signed_in(ws, "vera")
    with session(ws.engine) as s:
        iid = s.execute(select(Dispatch.id)).scalars().first()
        from hub.store.models import Invoice

        inv = s.execute(select(Invoice).where(Invoice.number == "INV-1")).scalars().one()
    page = c.get(f"/invoices/{inv.id}").text
    assert "Why — and what next" in page and "standard" in page and iid
    assert c.get("/invoices/999999").status_code == 404


def test_overview_reports_and_audit_show_the_figures(ws):
    c, _ = signed_in(ws, "vera")
    page = c.get("/").text
    shown = re.search(r'data-figure="outstanding-EUR">([^<]+)<', page).group(1)
    assert re.sub(r"\D", "", shown) == "1310000"  # 100 + 5000 + 8000, in the company's locale
    assert "Aged balance" in page and "data-chart" in page
    assert "DSO by month" in c.get("/reports").text
    audit = c.get("/audit", params={"kind": "planned"}).text
    assert "planned standard step" in audit


def test_the_enhanced_forms_get_the_line_that_replaces_the_card(ws):
    """With htmx the page is not reloaded: the answer is the line shown in the card's place
    (a refusal is put above the card, whose buttons stay)."""
    c, csrf = signed_in(ws, "alice")
    one, two = _dispatch_of(ws, "Customer C1"), _dispatch_of(ws, "Customer C2")
    hx = {"hx-request": "true", "x-csrf-token": csrf}
    r = c.post(f"/dispatches/{one.id}/approve", headers=hx)
    assert r.status_code == 200 and "approved: it goes in the next send pass" in r.text
    assert "<html" not in r.text
    r = c.post(f"/dispatches/{two.id}/reject", headers=hx, data={"reason": ""})
    assert "say why" in r.text and r.headers["hx-reswap"] == "afterbegin"
    assert 'hx-post="/dispatches/' in c.get("/today").text
