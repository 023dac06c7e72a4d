"""Incremental planning (`plan_agenda`, the daily plan's and `relance simulate`'s) takes on
each day exactly the reminders a full read of every open invoice takes — across business
days, `when:` conditions fixed in time and counted in days overdue, courtesy steps, one
voice, `escalation: latest`, `closed_days: previous`, a blackout, debtors' holidays,
credits, holds that lapse and a broken promise."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from hub.contracts.records import Address
from hub.plan.cases import close_case, open_case
from hub.plan.planner import plan
from hub.send import outbox
from hub.store.copy import copy_to_sqlite
from hub.store.db import migrate, session
from hub.store.models import CaseState, Dispatch, DispatchInvoice, Invoice, PlanAgenda
from hub.sync.engine import sync_all
from hub.workspace import Workspace
from tests import memory_plugins
from tests.conftest import TODAY, customer, invoice
from tests.plan.test_planner import load

D = dt.timedelta

CONFIG = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory}}
channels: {email: {plugin: capture}}
scenarios:
  standard:
    min_gap: 5
    steps:
      - {at: due-5bd, channel: email, template: courtesy}
      - {at: due+3d, channel: email, template: first_reminder}
      - {at: due+10bd, channel: email, template: second_reminder, when: "amount_due < 500"}
      - {at: due+20d, channel: email, template: second_reminder, id: late,
         when: "days_overdue > 26"}
      - {at: due+30d, channel: email, template: formal_notice}
  strict:
    escalation: latest
    one_voice: false
    consolidate: per_customer
    closed_days: previous
    blackout: [12-24..01-02]
    steps:
      - {at: due+1d, channel: email, template: first_reminder}
      - {at: due+8bd, channel: email, template: second_reminder}
      - {at: due+21d, channel: email, template: formal_notice}
assign:
  - {when: "segment == 'key'", scenario: strict}
  - {scenario: standard}
"""

PLACES = [("FR", None), ("DE", "BY"), ("GB", None), ("FR", None)]


def _records(seed: int = 7):
    rng = random.Random(seed)
    records = []
    for c in range(40):
        country, region = PLACES[c % len(PLACES)]
        records.append(customer(f"C{c}", segment="key" if c % 5 == 0 else "std",
                                address=Address(line1="1 Main St", city="X", postcode="1",
                                                country=country, region=region)))
        for i in range(rng.randint(1, 5)):
            due = TODAY + D(days=rng.randint(-45, 35))
            records.append(invoice(f"I{c}-{i}", f"C{c}", due,
                                   amount=f"{rng.choice([90, 250, 480, 900, 2400])}.00"))
        if c % 7 == 3:  # a credit that covers some of these customers, not others
            records.append(invoice(f"CN{c}", f"C{c}", TODAY - D(days=50), kind="credit_note",
                                   amount=f"{rng.choice([100, 3000])}.00"))
    return records


def _replay(ws: Workspace, folder: Path, days: int, *, incremental_: bool):
    url = copy_to_sqlite(ws.engine, folder / f"{'inc' if incremental_ else 'full'}.db")
    sim = Workspace(ws.root, ws.loaded, ws.registry, database_url=url)
    migrate(sim.engine)
    out, looked = [], []
    for n in range(days):
        day = TODAY + D(days=n)
        with session(sim.engine) as s:
            looked.append(s.execute(select(func.count(PlanAgenda.invoice_id.distinct())).where(
                PlanAgenda.day <= day)).scalar_one())
        report = plan(sim, today=day, incremental=incremental_)
        with session(sim.engine, immediate=True) as s:
            for did, cust, step in s.execute(select(Dispatch.id, Dispatch.customer_id,
                                                    Dispatch.step).where(
                    Dispatch.id.in_(report.dispatch_ids))):
                numbers = sorted(s.execute(select(Invoice.number).join(
                    DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id).where(
                    DispatchInvoice.dispatch_id == did)).scalars())
                out.append((day, cust, step, tuple(numbers)))
            if report.dispatch_ids:
                outbox.settle_simulated(s, min(report.dispatch_ids),
                                        dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))
    sim.engine.dispose()
    return sorted(out), looked


def test_incremental_days_take_exactly_what_a_full_read_takes(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    load(ws, *_records())
    with session(ws.engine, immediate=True) as s:
        open_case(s, "hold", customer="Customer C1", until=TODAY + D(days=12), by="marie")
        open_case(s, "dispute", invoice="INV-I2-0", by="marie")
        open_case(s, "promise", customer="Customer C6", until=TODAY + D(days=4),
                  amount=Decimal("50"), by="marie")
    full, _ = _replay(ws, tmp_path, 70, incremental_=False)
    inc, looked = _replay(ws, tmp_path, 70, incremental_=True)
    assert len(full) > 60  # the replay does plan: a comparison of two empty lists proves nothing
    assert {step for *_, step, _ in full} >= {"due-5bd", "due+3d", "late", "due+30d",
                                              "due+1d", "due+8bd", "due+21d"}
    assert inc == full
    with session(ws.engine) as s:
        open_invoices = s.execute(select(func.count()).select_from(Invoice)).scalar_one()
    # after the first day (which reads everything) a day reads a small part of the store
    assert looked[0] == open_invoices
    assert sum(looked[1:]) / (len(looked) - 1) < open_invoices / 4


def test_a_broken_promise_is_taken_at_once_when_planning_incrementally(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    load(ws, customer("B"), invoice("1", "B", TODAY - D(days=2)))
    with session(ws.engine, immediate=True) as s:
        open_case(s, "promise", customer="Customer B", until=TODAY + D(days=1), by="marie")
    inc, _ = _replay(ws, tmp_path, 20, incremental_=True)
    # due Sunday 22 November; the promise (until the 25th) holds due+3d; judged broken on
    # the 26th, that step goes the same day; due+10bd (100 < 500) is Friday 4 December
    assert [(day, step) for day, _, step, _ in inc][:2] == [
        (TODAY + D(days=2), "due+3d"), (TODAY + D(days=10), "due+10bd")]
    assert inc == _replay(ws, tmp_path, 20, incremental_=False)[0]


HEAD = """
company: {name: Acme SAS, country: FR, timezone: Europe/Paris, language: en}
connections: {ledger: {plugin: memory}}
channels: {email: {plugin: capture}}
assign: [{scenario: s}]
scenarios:
  s:
"""


def test_business_and_calendar_steps_mixed_are_taken_on_the_earliest(make_ws, tmp_path):
    # due+15bd sorts before due+18d but never falls before day 19; due+18d is day 18
    ws = make_ws(HEAD + """    min_gap: 0
    steps:
      - {at: due+3d, channel: email, template: first_reminder}
      - {at: due+15bd, channel: email, template: second_reminder}
      - {at: due+18d, channel: email, template: formal_notice}
""")
    load(ws, customer("A"), invoice("1", "A", TODAY + D(days=2)))  # Thursday 26 November
    inc, _ = _replay(ws, tmp_path, 30, incremental_=True)
    assert (TODAY + D(days=20), "due+18d") in [(day, step) for day, _, step, _ in inc]
    assert inc == _replay(ws, tmp_path, 30, incremental_=False)[0]


def test_the_gap_runs_only_from_a_step_of_this_scenario(make_ws, tmp_path):
    # planned yesterday under another scenario, or released back to no step: no wait
    ws = make_ws(HEAD + """    min_gap: 10
    steps:
      - {at: due+3d, channel: email, template: first_reminder}
      - {at: due+30d, channel: email, template: formal_notice}
""")
    load(ws, customer("A"), invoice("1", "A", TODAY), customer("B"), invoice("2", "B", TODAY))
    with session(ws.engine, immediate=True) as s:
        a, b = s.execute(select(Invoice.id).order_by(Invoice.number)).scalars().all()
        for n, (inv, scenario) in enumerate(((a, "old"), (b, "s")), start=1):
            s.add(Dispatch(id=n, idempotency_key=f"k{n}", customer_id=n, scenario=scenario,
                           step="due+3d", step_index=0, channel="email", template="t",
                           status="sent", planned_on=TODAY - D(days=1)))
            s.flush()
            s.add(DispatchInvoice(dispatch_id=n, invoice_id=inv, scenario=scenario,
                                  step="due+3d", step_index=0))
        s.flush()
        outbox.release(s, 2, [b])  # b's step in this scenario let go: where it stands is -1
    inc, _ = _replay(ws, tmp_path, 20, incremental_=True)
    assert [(day, step) for day, _, step, _ in inc] == [(TODAY + D(days=3), "due+3d")] * 2
    assert inc == _replay(ws, tmp_path, 20, incremental_=False)[0]


def test_a_customer_moved_back_picks_up_where_it_stood_in_the_scenario(make_ws, tmp_path):
    # first reminder under `standard`; moved to `strict` (its own first step); moved back:
    # the next `standard` step comes, never the first one again as a message without its
    # invoice (the step's link exists: it was planned once, ever)
    ws = make_ws(CONFIG)
    due = TODAY - D(days=3)  # due+3d today (Tuesday 24 November)

    def segment(name: str) -> None:
        memory_plugins.LEDGERS["default"][:] = [customer("A", segment=name),
                                                invoice("1", "A", due, amount="900.00")]
        assert all(r.ok for r in asyncio.run(sync_all(ws, full=True)))

    segment("std")
    plan(ws, today=TODAY)
    segment("key")
    plan(ws, today=TODAY + D(days=3))  # Friday: strict's due+1d (its latest step due)
    segment("std")
    for n in range(4, 40):
        plan(ws, today=TODAY + D(days=n))
    with session(ws.engine) as s:
        rows = s.execute(select(Dispatch.planned_on, Dispatch.scenario, Dispatch.step)
                         .order_by(Dispatch.id)).all()
        assert s.execute(select(Dispatch.id).where(~Dispatch.id.in_(
            select(DispatchInvoice.dispatch_id)))).all() == []
    assert [(sc, step) for _, sc, step in rows] == [
        ("standard", "due+3d"), ("strict", "due+1d"), ("standard", "late"),
        ("standard", "due+30d")]
    assert rows[2][0] == due + D(days=27)  # `late` waits for its `days_overdue > 26`


# in the order steps_of sorts them; due+15bd sorts before due+18d yet falls after it
OFFSETS = ["due-7d", "due-5bd", "due+1d", "due+3d", "due+8bd", "due+10d", "due+15bd",
           "due+18d", "due+30d", "due+45bd"]
WHENS = [None, None, "amount_due < 500", "days_overdue > 20", "currency == 'EUR'"]


def _random_config(rng: random.Random) -> str:
    lines = [HEAD.replace("  s:\n", "")]
    for name in ("s", "key"):
        lines.append(f"  {name}:")
        lines.append(f"    escalation: {rng.choice(['earned', 'latest'])}")
        catch_up = rng.choice(["latest", "all", "none"])
        lines.append(f"    catch_up: {catch_up}" + ("\n    catch_up_window: 3"
                                                      if catch_up == "none" else ""))
        lines.append(f"    min_gap: {rng.choice([0, 3, 7])}")
        lines.append(f"    one_voice: {rng.choice(['true', 'false'])}")
        lines.append(f"    consolidate: {rng.choice(['none', 'per_customer'])}")
        lines.append(f"    closed_days: {rng.choice(['next', 'previous', 'ignore'])}")
        lines.append(f"    remind_undisputed: {rng.choice(['true', 'false'])}")
        if rng.random() < 0.5:
            lines.append("    blackout: [12-24..01-02]")
        lines.append("    steps:")
        for at in sorted(rng.sample(OFFSETS, rng.randint(3, 5)), key=OFFSETS.index):
            when = rng.choice(WHENS)
            lines.append(f"      - {{at: {at}, channel: email, template: first_reminder"
                         + (f', when: "{when}"' if when else "") + "}")
    text = "\n".join(lines) + "\n"
    return text.replace("assign: [{scenario: s}]",
                        "assign: [{when: \"segment == 'key'\", scenario: key}, {scenario: s}]")


def _random_records(rng: random.Random):
    records = []
    for c in range(12):
        country, region = PLACES[c % len(PLACES)]
        records.append(customer(f"C{c}", segment=rng.choice(["key", "std", "std"]),
                                address=Address(line1="1 Main St", city="X", postcode="1",
                                                country=country, region=region)))
        for i in range(rng.randint(1, 4)):
            records.append(invoice(f"I{c}-{i}", f"C{c}", TODAY + D(days=rng.randint(-40, 30)),
                                   amount=f"{rng.choice([90, 250, 480, 900])}.00",
                                   currency=rng.choice(["EUR", "EUR", "GBP"])))
        if rng.random() < 0.2:
            records.append(invoice(f"CN{c}", f"C{c}", TODAY - D(days=50), kind="credit_note",
                                   amount=f"{rng.choice([100, 2000])}.00"))
    return records


@pytest.mark.parametrize("seed", range(6, 10))  # 9 mixes due+15bd and due+18d
def test_random_scenarios_plan_the_same_both_ways(make_ws, tmp_path, seed):
    rng = random.Random(seed)
    ws = make_ws(_random_config(rng))
    load(ws, *_random_records(rng))
    with session(ws.engine, immediate=True) as s:
        open_case(s, "hold", customer="Customer C1", until=TODAY + D(days=rng.randint(2, 15)),
                  by="t")
        open_case(s, "dispute", invoice="INV-I2-0", amount=Decimal("40"), by="t")
        open_case(s, "promise", customer="Customer C3", until=TODAY + D(days=3),
                  amount=Decimal("10"), by="t")
    full, _ = _replay(ws, tmp_path, 30, incremental_=False)
    assert full  # something is planned: equal empty lists would prove nothing
    assert _replay(ws, tmp_path, 30, incremental_=True)[0] == full


def _change(records: dict, s, rng: random.Random, day: dt.date) -> None:
    """One day's change in the ledger or in the hub, as people and syncs make them."""
    kind = rng.choice(["amount", "earlier", "new", "paid", "reopen", "segment", "hold",
                       "release", "promise", "promised", "nothing"])
    invoices = sorted(k for k, r in records.items() if hasattr(r, "due_date"))
    pick = records[rng.choice(invoices)]
    if kind == "amount":  # now under 500: `when: amount_due < 500` holds
        records[pick.external_id] = pick.model_copy(update={"amount_due": Decimal("90"),
                                                            "total": Decimal("90")})
    elif kind == "earlier":  # the due date corrected to three weeks earlier
        records[pick.external_id] = pick.model_copy(update={"due_date": pick.due_date - D(21)})
    elif kind == "new":
        ext = f"N{day.toordinal()}"
        records[ext] = invoice(ext, f"C{rng.randrange(40)}", day - D(days=rng.randint(0, 40)),
                               amount="250.00")
    elif kind == "paid":
        records[pick.external_id] = pick.model_copy(update={"status": "paid",
                                                            "amount_due": Decimal(0)})
    elif kind == "reopen":  # a payment reversed: owed again
        paid = [k for k in invoices if records[k].status == "paid"]
        if paid:
            records[paid[0]] = records[paid[0]].model_copy(update={
                "status": "open", "amount_due": records[paid[0]].total})
    elif kind == "segment":  # the customer becomes (or stops being) a key account
        ext = f"C{rng.randrange(40)}"
        was = records[ext]
        records[ext] = was.model_copy(update={"segment": "std" if was.segment == "key"
                                              else "key"})
    elif kind == "hold":
        open_case(s, "hold", customer=f"Customer C{rng.randrange(40)}",
                  until=day + D(days=rng.randint(1, 6)), by="t")
    elif kind == "release":
        held = s.execute(select(CaseState.id).where(CaseState.closed_at.is_(None))).scalars().first()
        if held:
            close_case(s, held, by="t")
    elif kind == "promise":
        open_case(s, "promise", invoice=pick.number, until=day + D(days=2), by="t")
    elif kind == "promised":  # the ledger notes a promise to pay by a date
        records[pick.external_id] = pick.model_copy(update={
            "promised_until": day + D(days=rng.randint(0, 4))})


def _replay_changing(ws: Workspace, folder: Path, days: int, seed: int, *, incremental_: bool):
    url = copy_to_sqlite(ws.engine, folder / f"changing-{incremental_}.db")
    sim = Workspace(ws.root, ws.loaded, ws.registry, database_url=url)
    sim.settings = ws.settings  # (it syncs)
    records = {r.external_id: r for r in _records()}
    out, looked = [], []
    for n in range(days):
        day, rng = TODAY + D(days=n), random.Random(seed * 1000 + n)
        with session(sim.engine, immediate=True) as s:
            for _ in range(3):
                _change(records, s, rng, day)
        memory_plugins.LEDGERS["default"][:] = list(records.values())
        assert all(r.ok for r in asyncio.run(sync_all(sim, full=True)))
        with session(sim.engine) as s:
            looked.append(s.execute(select(func.count(PlanAgenda.invoice_id.distinct())).where(
                PlanAgenda.day <= day)).scalar_one())
        report = plan(sim, today=day, incremental=incremental_)
        with session(sim.engine, immediate=True) as s:
            out += [(day, cust, step, tuple(sorted(numbers.split(","))))
                    for cust, step, numbers in s.execute(text(
                        "SELECT d.customer_id, d.step, group_concat(i.number) FROM dispatch d "
                        "JOIN dispatch_invoice di ON di.dispatch_id = d.id JOIN invoice i "
                        "ON i.id = di.invoice_id WHERE d.id IN (SELECT value FROM json_each(:ids))"
                        " GROUP BY d.id"), {"ids": json.dumps(report.dispatch_ids)})]
            if report.dispatch_ids:
                outbox.settle_simulated(s, min(report.dispatch_ids),
                                        dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))
    sim.engine.dispose()
    return sorted(out), looked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_what_syncs_and_people_change_is_read_the_next_day(make_ws, tmp_path, seed):
    # the daily plan reads only its agenda: an amount now under a `when:`, a due date
    # moved earlier, a new invoice, a payment reversed, a customer moved to another
    # scenario, holds and promises opened and released — each is planned on the day a
    # full read of every invoice plans it, no later
    ws = make_ws(CONFIG)
    load(ws, *_records())
    full, _ = _replay_changing(ws, tmp_path, 45, seed, incremental_=False)
    daily, looked = _replay_changing(ws, tmp_path, 45, seed, incremental_=True)
    assert len(full) > 60
    assert daily == full
    assert sum(looked[1:]) / (len(looked) - 1) < looked[0] / 3  # and reads a small part
