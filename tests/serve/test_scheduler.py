"""The clock's rules without subprocesses: missed cycles run once, the watchdog speaks."""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.testclient import TestClient

from hub.serve.scheduler import RUNTIMES, Runtime, _cycle, start_scheduler
from tests import memory_plugins
from tests.conftest import BASE_CONFIG, customer, invoice
from tests.send.test_dispatcher import setup

TODAY = dt.date.today()


def test_watchdog_alerts_when_a_cycle_sends_nothing(make_ws):
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=3)))
    memory_plugins.FAIL["email"] += ["permanent"]
    rt = Runtime(ws)

    async def go():
        await _cycle(rt, TODAY)
        await ws.aclose()

    asyncio.run(go())
    assert rt.alert and "none sent" in rt.alert and "1 failed" in rt.alert
    from hub.serve.app import create_app

    with TestClient(create_app(rt)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and any("watchdog" in p for p in ready.json()["problems"])
        assert "relance_watchdog_alert 1.0" in client.get("/metrics").text


def test_a_missed_cycle_runs_once_at_start_up(make_ws):
    cfg = BASE_CONFIG + "serve: {daily_at: '09:00'}\n"
    ws = make_ws(cfg)
    ran: list[str] = []

    async def first_start():
        rt = Runtime(ws)
        RUNTIMES[str(ws.root)] = rt
        sched = start_scheduler(rt)
        assert sched.get_job("cycle") is not None
        sched.shutdown(wait=False)

    def service_was_down_three_days():
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        store = SQLAlchemyJobStore(engine=ws.engine)
        store.start(None, "default")
        job = store.lookup_job("cycle")
        job.next_run_time = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
        store.update_job(job)

    async def second_start():
        import hub.serve.scheduler as s

        original = s.job_cycle

        async def counting(root):
            ran.append(root)

        rt = Runtime(ws)
        RUNTIMES[str(ws.root)] = rt
        sched = s.build_scheduler(rt)
        s.job_cycle = counting
        try:
            sched.start()  # the stored job refers to hub.serve.scheduler:job_cycle, resolved now
            await asyncio.sleep(1.5)
            nxt = sched.get_job("cycle").next_run_time
        finally:
            s.job_cycle = original
            sched.shutdown(wait=False)
        return nxt

    asyncio.run(first_start())
    service_was_down_three_days()
    nxt = asyncio.run(second_start())
    assert len(ran) == 1  # coalesced: three missed days, one run
    assert nxt > dt.datetime.now(dt.UTC)


def test_the_service_cycle_syncs_before_it_plans_and_sends(make_ws):
    """An invoice the ledger gained and one it marked paid since the last sync: the
    service's cycle reads them first, as `relance run` does."""
    ws = make_ws()
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=3)))
    memory_plugins.LEDGERS["default"][:] = [
        customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=3), amount="0", status="paid"),
        customer("C2"), invoice("2", "C2", TODAY - dt.timedelta(days=3))]
    rt = Runtime(ws)

    async def go():
        await _cycle(rt, TODAY)
        await ws.aclose()

    asyncio.run(go())
    sent = [m.invoices[0].number for m in memory_plugins.SENT["email"]]
    assert sent == ["INV-2"], sent  # the new invoice, and not the one paid meanwhile


def test_the_daily_cycle_runs_on_the_company_s_closed_days_too(make_ws, monkeypatch):
    """A Saturday in Paris: the service still syncs and plans. Each debtor's calendar says
    what goes out (a step of a `closed_days: ignore` scenario, a debtor whose country is
    open): skipping the whole cycle on the company's weekend sent none of it."""
    import hub.serve.scheduler as scheduler

    saturday = TODAY + dt.timedelta(days=(5 - TODAY.weekday()) % 7)
    ws = make_ws()
    rt = Runtime(ws)
    ran = []

    async def cycle(rt_, today):
        ran.append(today)

    monkeypatch.setattr(scheduler, "today_in", lambda tz: saturday)
    monkeypatch.setattr(scheduler, "_cycle", cycle)
    monkeypatch.setitem(RUNTIMES, str(ws.root), rt)
    asyncio.run(scheduler.job_cycle(str(ws.root)))
    assert ran == [saturday]
