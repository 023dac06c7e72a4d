"""Where the clock's work runs: in this process (`scale.executor: local`, the default) or
on Celery workers (`celery`), with `relance serve` staying the one clock either way.

On Celery the clock enqueues one task per connection's sync, one per batch of due
dispatches (`scale.send_batch`) and one for the write-backs, and plans itself (one
set-based pass in the database). It keeps the send tasks it enqueued until they finish, so
a backlog larger than the workers can take in one tick is not enqueued again every tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from typing import Any

from sqlalchemy import func, select

from hub.clock import utcnow
from hub.plan.planner import plan
from hub.send import outbox
from hub.send.dispatcher import Dispatcher
from hub.send.outbox import Status
from hub.serve.cycle import daily_cycle, outstanding
from hub.store.db import is_sqlite, session
from hub.store.models import Dispatch
from hub.workspace import Workspace

log = logging.getLogger("relance.executor")

#: at most this many send tasks waiting in the broker for one company
MAX_QUEUED_SENDS = 64
#: due this long with nothing sent meanwhile: the watchdog's alert (`/readyz`, metrics)
STUCK_AFTER = dt.timedelta(minutes=30)


class LocalExecutor:
    """Everything in this process (one host)."""

    name = "local"

    def __init__(self, ws: Workspace):
        self.ws = ws

    async def sync(self, connection: str, stop: asyncio.Event | None = None) -> None:
        from hub.sync.engine import sync_connection

        await sync_connection(self.ws, connection)

    async def send(self, stop: asyncio.Event | None = None) -> Any:
        return await Dispatcher(self.ws, stop=stop).run()

    async def writeback(self) -> None:
        from hub.send.payment_writeback import process_payment_writebacks
        from hub.send.writeback import process_writebacks

        await process_writebacks(self.ws)
        await process_payment_writebacks(self.ws)

    async def cycle(self, today: dt.date, stop: asyncio.Event | None = None) -> dict[str, Any]:
        return await daily_cycle(self.ws, sync=True, today=today, stop=stop)


class CeleryExecutor:
    """Tasks on Celery workers (`relance worker`), for a workspace on PostgreSQL."""

    name = "celery"

    def __init__(self, ws: Workspace, company: str | None = None):
        from hub.serve.worker import app, configure

        if is_sqlite(ws.engine):
            from hub.errors import ConfigError

            raise ConfigError("scale.executor: celery needs the store on PostgreSQL, which every "
                              "worker reaches: set database.url (or RELANCE_DATABASE_URL)",
                              key="database.url")
        self.ws, self.company = ws, company
        self.app = configure(app, ws.config.scale)
        self.pending: list[tuple[Any, float]] = []  # (task, when enqueued)

    def _enqueue(self, task: str, *args: Any):
        return self.app.send_task(task, args=[self.company, *args])

    async def sync(self, connection: str, stop: asyncio.Event | None = None) -> None:
        await asyncio.to_thread(self._enqueue, "relance.sync", connection)

    def due(self) -> int:
        """Approved dispatches due now that no send task holds."""
        with session(self.ws.engine) as s:
            return s.execute(select(func.count()).select_from(Dispatch).where(
                outbox.due_now(utcnow()))).scalar_one()

    def _enqueue_sends(self) -> int:
        # a task not done after two visibility timeouts is taken as lost (a worker killed
        # with it, its redelivery gone): waiting on it would hold its batch forever. A task
        # too many only finds nothing to reserve.
        now, lost_after = time.monotonic(), 2 * self.ws.config.scale.visibility_timeout
        self.pending = [(r, at) for r, at in self.pending
                        if not r.ready() and now - at < lost_after]
        batch = self.ws.config.scale.send_batch
        wanted = min(math.ceil(self.due() / batch), MAX_QUEUED_SENDS) - len(self.pending)
        for _ in range(max(0, wanted)):
            self.pending.append((self._enqueue("relance.send", batch), now))
        return max(0, wanted)

    async def send(self, stop: asyncio.Event | None = None) -> int:
        # what a dead worker left `sending` is the clock's `resolve` job, as on one host
        return await asyncio.to_thread(self._enqueue_sends)

    async def writeback(self) -> None:
        await asyncio.to_thread(self._enqueue, "relance.writeback")

    def watchdog(self, now: dt.datetime | None = None) -> str | None:
        """The clock sees no send: what it can see is dispatches due for half an hour while
        nothing went out meanwhile (the workers are down, or every send fails)."""
        now = now or utcnow()
        since = now - STUCK_AFTER
        with session(self.ws.engine) as s:
            stuck = s.execute(select(func.count()).select_from(Dispatch).where(
                Dispatch.status.in_([Status.APPROVED.value, Status.FAILED.value]),
                Dispatch.hold_reason.is_(None), Dispatch.updated_at < since,
                Dispatch.not_before.is_(None) | (Dispatch.not_before <= since))).scalar_one()
            sent = s.execute(select(func.count()).select_from(Dispatch).where(
                Dispatch.status == Status.SENT.value, Dispatch.sent_at >= since)).scalar_one()
        if stuck and not sent:
            return (f"{stuck} dispatch(es) due for over {STUCK_AFTER.seconds // 60} minutes and "
                    "none sent meanwhile: are the workers (`relance worker`) running? their "
                    "logs say why sends fail")
        return None

    async def cycle(self, today: dt.date, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """Sync every connection on the workers and wait for them (nothing is planned on
        data older than the ledger), plan here, then enqueue the sends."""
        names = [n for n, c in self.ws.config.connections.items() if c.enabled]
        results = await asyncio.to_thread(lambda: [self._enqueue("relance.sync", n) for n in names])
        timeout = self.ws.config.scale.visibility_timeout
        syncs = []
        for name, r in zip(names, results, strict=True):
            try:
                syncs.append(await asyncio.to_thread(r.get, timeout=timeout, propagate=False))
            except Exception as exc:  # the worker never answered: the planner holds its data
                syncs.append({"connection": name, "ok": False, "error": f"no worker answered: {exc}"})
        planned = plan(self.ws, today=today)
        enqueued = await self.send(stop)
        log.info("cycle of %s: %d planned, %d send task(s) enqueued", today, planned.created, enqueued)
        return {"date": planned.today, "sync": syncs, "planned": planned.created,
                "closed_today": planned.closed,
                "enqueued": enqueued, "sent": 0, "failed": 0, "held": 0, "hold_reasons": {},
                **outstanding(self.ws)}


def executor_for(ws: Workspace, company: str | None = None):
    if ws.config.scale.executor == "celery":
        return CeleryExecutor(ws, company)
    return LocalExecutor(ws)
