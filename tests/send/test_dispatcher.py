"""The outbox: at most once, never to a payer, retries, uncertainty, quiet hours, races."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hub.plan.planner import plan
from hub.send.dispatcher import Dispatcher
from hub.store.db import session
from hub.store.models import Dispatch, Event
from hub.sync.engine import sync_all
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, customer, invoice

LEDGER, SENT, FAIL = memory_plugins.LEDGERS, memory_plugins.SENT, memory_plugins.FAIL
TODAY = dt.date.today()
D = dt.timedelta


def setup(ws, *records):
    LEDGER["default"][:] = list(records)
    assert all(r.ok for r in asyncio.run(sync_all(ws)))
    return plan(ws)


def send(ws, **kw):
    async def go():
        try:
            return await Dispatcher(ws, **kw).run()
        finally:
            await ws.aclose()
    return asyncio.run(go())


def states(ws):
    with session(ws.engine) as s:
        return dict(s.execute(select(Dispatch.status, func.count()).group_by(Dispatch.status)).all())


def test_sends_once_and_running_twice_sends_nothing(make_ws, caplog):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="1234.56"))
    with caplog.at_level("INFO", logger="relance.events"):
        report = send(ws)
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "sent"]
    assert line.dispatch_id == 1 and "via email" in line.getMessage()  # a line to grep
    assert report.sent == 1 and len(SENT["email"]) == 1
    msg = SENT["email"][0]
    assert msg.invoices[0].amount_due == Decimal("1234.56")
    assert msg.recipient.email == "c1@example.com" and "INV-1" in msg.text
    assert send(ws).sent == 0 and plan(ws).created == 0
    assert len(SENT["email"]) == 1 and states(ws) == {"sent": 1}


def test_invoice_paid_since_planning_is_not_reminded(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)),
          invoice("2", "C1", TODAY - D(days=3)))
    # paid an hour ago: the connector's fresh-check sees it just before the send
    LEDGER["default"][1] = invoice("1", "C1", TODAY - D(days=3), status="paid", amount="0.00")
    LEDGER["default"][2] = invoice("2", "C1", TODAY - D(days=3), disputed=True)
    report = send(ws)
    # one voice: the customer's two invoices were one reminder, now dropped
    assert report.sent == 0 and report.cancelled == 1 and SENT["email"] == []
    assert memory_plugins.REFRESHED  # the connector was asked
    with session(ws.engine) as s:
        reasons = sorted(s.execute(select(Event.data).where(Event.kind == "suppressed")).scalars(),
                         key=str)
    assert [r["reason"] for r in reasons] == ["disputed", "paid"]
    with session(ws.engine) as s:
        messages = sorted(s.execute(select(Event.message).where(Event.kind == "suppressed")).scalars())
    assert messages == ["invoice INV-1 not reminded: paid", "invoice INV-2 not reminded: disputed"]
    # and /metrics counts them by reason, not by invoice
    from types import SimpleNamespace

    from hub.serve.metrics import render
    runtime = SimpleNamespace(ws=ws, job_seconds={}, alert=False, is_leader=True)
    text = render(runtime).decode()
    assert 'relance_suppressed_total{reason="paid"} 1.0' in text
    assert 'relance_suppressed_total{reason="disputed"} 1.0' in text


def test_a_promise_is_suppressed_under_one_metric_label_whatever_its_date(make_ws):
    from types import SimpleNamespace

    from hub.serve.metrics import render

    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)),
          customer("C2"), invoice("2", "C2", TODAY - D(days=3)))
    LEDGER["default"][1] = invoice("1", "C1", TODAY - D(days=3), promised_until=TODAY + D(days=5))
    LEDGER["default"][3] = invoice("2", "C2", TODAY - D(days=3), promised_until=TODAY + D(days=9))
    assert send(ws).cancelled == 2
    with session(ws.engine) as s:
        data = s.execute(select(Event.data).where(Event.kind == "suppressed")).scalars().all()
    assert sorted(d["detail"] for d in data) == [
        f"promised until {(TODAY + D(days=n)).isoformat()}" for n in (5, 9)]
    text = render(SimpleNamespace(ws=ws, job_seconds={}, alert=False, is_leader=True)).decode()
    assert 'relance_suppressed_total{reason="promised"} 2.0' in text


def test_changed_amount_is_rendered_as_it_is_now(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3), amount="500.00"))
    LEDGER["default"][1] = invoice("1", "C1", TODAY - D(days=3), amount="125.00")
    send(ws)
    assert SENT["email"][0].invoices[0].amount_due == Decimal("125.00")


def test_transient_failure_is_retried_later_then_sent(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    FAIL["email"] += ["retry"]
    report = send(ws)
    assert report.retried == 1 and states(ws) == {"approved": 1}
    later = lambda: dt.datetime.now(dt.UTC) + D(hours=1)  # noqa: E731
    assert send(ws, now=later).sent == 1 and len(SENT["email"]) == 1


def test_permanent_failure_is_failed_with_the_reason(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    FAIL["email"] += ["permanent"]
    report = send(ws)
    assert report.failed == 1 and "mailbox does not exist" in report.errors[0]
    assert states(ws) == {"failed": 1}


def test_uncertain_send_is_never_blindly_repeated(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    FAIL["email"] += ["uncertain"]
    assert send(ws).uncertain == 1
    assert send(ws).sent == 0 and states(ws) == {"uncertain": 1}


def test_uncertain_on_an_idempotent_channel_is_resent(make_ws):
    ws = make_ws(BASE_CONFIG.replace("plugin: capture", "plugin: capture_idem"))
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    FAIL["email"] += ["uncertain"]
    first = send(ws)
    assert first.retried == 1
    later = lambda: dt.datetime.now(dt.UTC) + D(hours=1)  # noqa: E731
    assert send(ws, now=later).sent == 1


def test_crash_while_sending_becomes_uncertain_after_the_lease(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    with session(ws.engine) as s:  # a worker claimed it and died
        s.execute(Dispatch.__table__.update().values(status="sending"))
    assert send(ws).sent == 0 and states(ws) == {"sending": 1}  # lease not expired yet
    later = lambda: dt.datetime.now(dt.UTC) + D(hours=1)  # noqa: E731
    send(ws, now=later)
    assert states(ws) == {"uncertain": 1} and SENT["email"] == []


def test_a_send_that_cannot_be_recorded_is_reported_and_never_repeated(make_ws, monkeypatch):
    from hub.send import outbox

    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)),
          customer("C2"), invoice("2", "C2", TODAY - D(days=3)))

    def locked(*a, **kw):
        raise RuntimeError("database is locked")
    monkeypatch.setattr(outbox, "record_sent", locked)
    report = send(ws)
    assert len(SENT["email"]) == 2 and report.sent == 0
    assert any("could not be recorded" in e and "database is locked" in e for e in report.errors)
    monkeypatch.undo()
    assert send(ws).sent == 0 and states(ws) == {"sending": 2}  # claimed, so never re-sent
    send(ws, now=lambda: dt.datetime.now(dt.UTC) + D(hours=1))
    assert states(ws) == {"uncertain": 2} and len(SENT["email"]) == 2


def test_sends_claimed_and_recorded_together_are_each_claimed_and_audited_once(make_ws):
    ws = make_ws()
    records = []
    for n in range(30):
        records += [customer(f"C{n}"), invoice(str(n), f"C{n}", TODAY - D(days=3))]
    setup(ws, *records)
    report = send(ws)
    assert report.sent == 30 and states(ws) == {"sent": 30}
    with session(ws.engine) as s:
        events = s.execute(select(Event.dispatch_id).where(Event.kind == "sent")).scalars().all()
        claimed = s.execute(select(Dispatch.attempts, Dispatch.worker).distinct()).all()
    assert sorted(events) == sorted(set(events)) and len(events) == 30  # one audit event each
    assert len(claimed) == 1 and claimed[0][0] == 1  # each claimed once, by this worker


def test_what_a_send_returns_is_recorded_with_it(make_ws):
    """A channel's follow-up task and invoice flags land in the send's own transaction;
    a flag the hub does not let channels set is ignored."""
    from hub.contracts import FollowUp
    from hub.store.models import Invoice, Task

    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)),
          customer("C2"), invoice("2", "C2", TODAY - D(days=3)))
    memory_plugins.RESULT_EXTRAS["email"] = {
        "invoice_updates": {"1": "in_collection", "2": "paid"}, "artifacts": ("bundle.zip",),
        "follow_up": FollowUp(title="Call the customer", script="Ask about the invoice")}
    assert send(ws).sent == 2
    with session(ws.engine) as s:
        flags = {i.external_id: (i.in_collection, i.status) for i in s.execute(select(Invoice)).scalars()}
        tasks = s.execute(select(Task)).scalars().all()
        events = s.execute(select(Event).where(Event.kind == "sent")).scalars().all()
    assert flags == {"1": (True, "open"), "2": (False, "open")}
    assert sorted(t.dispatch_id for t in tasks) == sorted(e.dispatch_id for e in events)
    assert all(t.title == "Call the customer" and t.status == "open" for t in tasks)
    assert all(e.data["artifacts"] == ["bundle.zip"] and e.data["provider_ref"].startswith("cap-")
               for e in events)


def test_template_error_skips_only_that_dispatch(make_ws, tmp_path):
    broken = tmp_path / "templates" / "en"
    broken.mkdir(parents=True)
    (broken / "courtesy.j2").write_text(
        "{% block subject %}Soon{% endblock %}\n{% block text %}\nHello {{ customer.nmae }}\n"
        "{% endblock %}\n")
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY + D(days=7)),
          customer("C2"), invoice("2", "C2", TODAY - D(days=3)))
    report = send(ws)
    assert report.sent == 1 and report.failed == 1
    assert "courtesy.j2:3" in report.errors[0]
    assert [m.template for m in SENT["email"]] == ["en/first_reminder.j2"]


def test_stale_data_holds_the_send(make_ws):
    ws = make_ws(BASE_CONFIG.replace("plugin: memory", "plugin: memory\n    max_staleness: 1h"))
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    later = lambda: dt.datetime.now(dt.UTC) + D(hours=3)  # noqa: E731
    with session(ws.engine) as s:
        s.execute(Dispatch.__table__.update().values(not_before=None))
    from hub.store.models import Connection
    with session(ws.engine) as s:
        s.execute(Connection.__table__.update().values(
            last_sync_ok_at=dt.datetime.now(dt.UTC) - D(hours=2)))
    report = send(ws, now=later)
    assert report.held == 1 and report.hold_reasons["stale_data"] == 1 and SENT["email"] == []


def test_quiet_hours_hold_until_the_window_opens(make_ws):
    from hub.config import QuietHours
    from hub.send.quiet_hours import next_allowed

    quiet = QuietHours(start="20:00", end="08:00", weekends=True)
    # Tuesday 22:00 in Paris (21:00 UTC in winter) → Wednesday 08:00 Paris = 07:00 UTC
    tue_22 = dt.datetime(2026, 11, 24, 21, 0, tzinfo=dt.UTC)
    assert next_allowed(tue_22, quiet, "Europe/Paris") == dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)
    # Saturday noon → Monday 08:00
    sat = dt.datetime(2026, 11, 28, 11, 0, tzinfo=dt.UTC)
    assert next_allowed(sat, quiet, "Europe/Paris") == dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
    assert next_allowed(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), quiet, "Europe/Paris") is None
    # a customer in New York at 10:00 UTC is at 05:00: quiet until 08:00 local
    assert next_allowed(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), quiet,
                        "America/New_York") == dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("workers", [2])
def test_two_dispatchers_racing_on_one_sqlite_file_send_each_once(make_ws, workers):
    ws = make_ws(BASE_CONFIG.replace("plugin: capture", "plugin: capture\n    settings: {delay: 0.01}"))
    records = [customer(f"C{i}") for i in range(30)]
    records += [invoice(str(i), f"C{i}", TODAY - D(days=3)) for i in range(30)]
    setup(ws, *records)
    from hub.workspace import Workspace

    results = []

    def worker(n):
        other = Workspace.open(ws.root, plugins=(memory_plugins.Plugin(),))
        results.append(send(other, worker=f"w{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 30
    ids = [m.dispatch_id for m in SENT["email"]]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert states(ws) == {"sent": 30}


def test_writeback_failure_never_blocks_or_repeats_the_send(make_ws):
    ws = make_ws(BASE_CONFIG.replace("plugin: memory", "plugin: memory\n    writeback: true"))
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - D(days=3)))
    memory_plugins.NOTE_FAILURES.append("ledger API is down")
    assert send(ws).sent == 1 and memory_plugins.NOTES == []
    later = lambda: dt.datetime.now(dt.UTC) + D(hours=1)  # noqa: E731
    assert send(ws, now=later).sent == 0  # the note is retried, the reminder is not
    [note] = memory_plugins.NOTES
    assert note.invoice_external_id == "1" and "first_reminder" in note.template
    assert len(SENT["email"]) == 1


def test_quiet_hours_hold_an_sms_until_morning_in_the_recipients_zone(make_ws):
    from hub.contracts import Channel, PluginSettings, SendResult
    from hub.hookspecs import hookimpl
    from hub.store.models import Dispatch as D_

    class Pager(Channel):
        name = "pager"
        Settings = PluginSettings
        quiet_hours_relevant = True

        async def send(self, message):
            SENT["pager"].append(message)
            return SendResult(provider_ref="p")

    class PagerPlugin:
        @hookimpl
        def register_channels(self, register):
            register(Pager)

    quiet = "    plugin: pager\n    quiet_hours: {start: '20:00', end: '08:00'}"
    cfg = BASE_CONFIG.replace("    plugin: capture", quiet)
    ws = make_ws(cfg, plugins=(memory_plugins.Plugin(), PagerPlugin()))
    setup(ws, customer("C1", timezone="America/New_York"), invoice("1", "C1", TODAY - D(days=3)))
    # 03:00 UTC on a Wednesday is 22:00 in New York: held until 08:00 there (13:00 UTC)
    night = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    report = send(ws, now=lambda: night)
    assert report.held == 1 and report.hold_reasons["quiet_hours"] == 1 and SENT["pager"] == []
    with session(ws.engine) as s:
        held = s.execute(select(D_.not_before, D_.hold_reason)).one()
    assert held[0] == dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC) and held[1] == "quiet_hours"
    morning = dt.datetime(2026, 11, 25, 13, 5, tzinfo=dt.UTC)
    assert send(ws, now=lambda: morning).sent == 1


def test_no_sms_on_the_debtor_s_public_holiday_in_their_own_time_zone(make_ws):
    """A UK debtor on Boxing Day (observed, Monday 28 December 2026): the SMS waits for
    08:00 London time on the 29th; a French debtor that day gets theirs."""
    from hub.contracts import Address
    from hub.send.quiet_hours import country_zone

    assert country_zone("GB") == "Europe/London" and country_zone("US") is None
    ws = make_ws(BASE_CONFIG.replace("plugin: capture", "plugin: capture_sms"))
    setup(ws, customer("UK", address=Address(city="Leeds", country="GB")),
          invoice("1", "UK", TODAY - D(days=3)),
          customer("FR"), invoice("2", "FR", TODAY - D(days=3)))
    monday_28 = dt.datetime(2026, 12, 28, 10, 0, tzinfo=dt.UTC)
    report = send(ws, now=lambda: monday_28)
    assert report.sent == 1 and report.hold_reasons["public_holiday"] == 1
    assert [m.recipient.name for m in SENT["capture_sms"] or SENT["email"]] == ["Customer FR"]
    with session(ws.engine) as s:
        held = s.execute(select(Dispatch).where(Dispatch.status == "approved")).scalar_one()
    assert held.not_before == dt.datetime(2026, 12, 29, 8, 0, tzinfo=dt.UTC)  # 08:00 London
