"""The clock of `relance serve`: APScheduler 3 with its job store in the Relance database.

Jobs: an incremental sync per connection, the daily cycle per company (business days,
company time), a frequent send pass (retries, approvals, holds that expired), the
resolution of `uncertain` dispatches, the expiry of promises, and write-backs. Missed
runs coalesce into one run at start-up (within `serve.misfire_grace`); with the
planner's catch-up policy a hub that was down for days sends what is due now, once.
Only the lease holder (`hub.serve.leader`) runs the scheduler.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import update

from hub.clock import today_in
from hub.send.dispatcher import Dispatcher
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Invoice
from hub.workspace import Workspace

log = logging.getLogger("relance.scheduler")


@dataclass
class Runtime:
    """What the running service shares between its jobs, its web app and its metrics."""

    ws: Workspace
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    scheduler: AsyncIOScheduler | None = None
    is_leader: bool = False
    job_seconds: dict[str, list[float]] = field(default_factory=dict)
    alert: str | None = None
    last_cycle: dict[str, Any] = field(default_factory=dict)
    busy: int = 0
    executor: Any = None  # where the jobs' work runs (`hub.serve.executor`)

    def __post_init__(self) -> None:
        if self.executor is None:
            from hub.serve.executor import executor_for

            self.executor = executor_for(self.ws, self.ws.slug)


RUNTIMES: dict[str, Runtime] = {}


def _rt(root: str) -> Runtime:
    return RUNTIMES[root]


async def _timed(root: str, job: str, coro) -> Any:
    rt = _rt(root)
    if rt.stopping.is_set():
        return None
    rt.busy += 1
    started = time.perf_counter()
    try:
        return await coro
    except Exception:
        log.exception("job %s failed", job)
        return None
    finally:
        rt.busy -= 1
        rt.job_seconds.setdefault(job, []).append(time.perf_counter() - started)


# ---------------------------------------------------------------------------- jobs
# Module-level functions with plain arguments: the persistent job store references them.

async def job_sync(root: str, connection: str) -> None:
    await _timed(root, f"sync:{connection}", _rt(root).executor.sync(connection))


async def job_cycle(root: str) -> None:
    # every day: each debtor's calendar decides what goes out (a French holiday is an open
    # day for a UK debtor; a scenario with `closed_days: ignore` sends on weekends), and a
    # closed day still syncs and judges promises
    rt = _rt(root)
    await _timed(root, "cycle", _cycle(rt, today_in(rt.ws.config.company.timezone)))


async def _cycle(rt: Runtime, today: dt.date) -> None:
    # the same cycle as `relance run`: sync first, so nothing is planned or sent on data
    # older than the ledger (and a source that cannot answer holds the sends)
    summary = await rt.executor.cycle(today, stop=rt.stopping)
    due = summary["planned"] + summary["held"] + summary["failed"] + summary["sent"]
    rt.last_cycle = {"date": today.isoformat(),
                     **{k: summary[k] for k in ("planned", "sent", "failed", "held")}}
    if due and summary["sent"] == 0 and (summary["failed"] or summary["held"]):
        rt.alert = (f"cycle of {today}: {due} dispatch(es) due but none sent "
                    f"({summary['failed']} failed, {summary['held']} held: "
                    f"{summary['hold_reasons']})")
        with session(rt.ws.engine) as s:
            record_event(s, "alert", rt.alert, level="error")
        log.error(rt.alert)
    elif summary["sent"]:
        rt.alert = None


async def job_send(root: str) -> None:
    rt = _rt(root)
    await _timed(root, "send", rt.executor.send(stop=rt.stopping))
    watchdog = getattr(rt.executor, "watchdog", None)  # on workers, the cycle cannot tell
    if watchdog is not None:
        alert = await asyncio.to_thread(watchdog)
        if alert and alert != rt.alert:
            with session(rt.ws.engine) as s:
                record_event(s, "alert", alert, level="error")
            log.error(alert)
        rt.alert = alert


async def job_resolve(root: str) -> None:
    rt = _rt(root)
    d = Dispatcher(rt.ws, stop=rt.stopping)
    d.recover()
    await _timed(root, "resolve", d.resolve_uncertain())


async def job_expire(root: str) -> None:
    """Promises whose date has passed stop pausing reminders; say so in the audit trail."""
    rt = _rt(root)
    today = today_in(rt.ws.config.company.timezone)
    with session(rt.ws.engine) as s:
        n = s.execute(update(Invoice).where(Invoice.promised_until < today)
                      .values(promised_until=None)).rowcount
        if n:
            record_event(s, "promise_expired", f"{n} promise(s) to pay expired before {today}")


async def job_writeback(root: str) -> None:
    await _timed(root, "writeback", _rt(root).executor.writeback())


# ---------------------------------------------------------------------------- wiring

def desired_jobs(ws: Workspace) -> list[tuple[str, Any, Any, tuple]]:
    """(id, function, trigger, args) for every job this configuration wants."""
    root, serve, company = str(ws.root), ws.config.serve, ws.config.company
    jobs = [(f"sync:{name}", job_sync, IntervalTrigger(seconds=c.sync_interval), (root, name))
            for name, c in ws.config.connections.items() if c.enabled]
    if serve.cycle_every:
        cycle = IntervalTrigger(seconds=serve.cycle_every)
    else:
        hour, minute = (int(x) for x in serve.daily_at.split(":"))
        days = ",".join(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in company.workdays)
        cycle = CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=company.timezone)
    jobs += [
        ("cycle", job_cycle, cycle, (root,)),
        ("send", job_send, IntervalTrigger(seconds=serve.tick), (root,)),
        ("resolve", job_resolve, IntervalTrigger(seconds=max(60, serve.tick)), (root,)),
        ("expire", job_expire, CronTrigger(hour=0, minute=5, timezone=company.timezone), (root,)),
        ("writeback", job_writeback, IntervalTrigger(seconds=max(30, serve.tick)), (root,)),
    ]
    return jobs


def build_scheduler(rt: Runtime) -> AsyncIOScheduler:
    ws = rt.ws
    sched = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=ws.engine)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": ws.config.serve.misfire_grace},
        timezone=ws.config.company.timezone,
    )
    return sched


def start_scheduler(rt: Runtime) -> AsyncIOScheduler:
    """Start with the stored jobs (so missed runs are seen), then align them with config."""
    sched = build_scheduler(rt)
    sched.start()
    wanted = desired_jobs(rt.ws)
    for job_id, func, trigger, args in wanted:
        job = sched.get_job(job_id)
        if job is None:
            sched.add_job(func, trigger, args=args, id=job_id, name=job_id,
                          next_run_time=dt.datetime.now(dt.UTC) if job_id.startswith("sync:") else
                          trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC)))
        elif str(job.trigger) != str(trigger) or tuple(job.args) != args:
            sched.modify_job(job_id, args=args)
            sched.reschedule_job(job_id, trigger=trigger)
    ids = {j[0] for j in wanted}
    for job in sched.get_jobs():
        if job.id not in ids:
            job.remove()
    rt.scheduler = sched
    return sched


def run_now(rt: Runtime, job_id: str) -> bool:
    """Bring a job forward (a webhook said the ledger changed)."""
    if rt.scheduler is None or rt.scheduler.get_job(job_id) is None:
        return False
    rt.scheduler.modify_job(job_id, next_run_time=dt.datetime.now(dt.UTC))
    return True
