"""The daily cycle — sync, plan, send — as one call shared by `relance run`, the demo
and the scheduler, returning a summary a person (or a monitor) can read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from hub.plan.planner import plan
from hub.send.dispatcher import Dispatcher, SendReport
from hub.send.outbox import Status
from hub.store.db import session
from hub.store.models import Dispatch
from hub.sync.engine import sync_all
from hub.workspace import Workspace


async def daily_cycle(ws: Workspace, *, sync: bool = True, limit: int | None = None,
                      on_progress: Callable[[SendReport], None] | None = None,
                      today=None, stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Sync (unless `sync=False`), plan today, send what is due. `stop` (set on SIGTERM)
    lets the sends in flight finish and claims nothing new."""
    syncs = await sync_all(ws) if sync else []
    planned = plan(ws, today=today)
    report = await Dispatcher(ws, on_progress=on_progress, stop=stop).run(limit=limit)
    return {
        "date": planned.today,
        "sync": [{"connection": r.connection, "ok": r.ok, "invoices": r.invoices,
                  "customers": r.customers, "problems": r.problems, "error": r.error,
                  "skipped": r.skipped} for r in syncs],
        "planned": planned.created, "closed_today": planned.closed,
        "sent": report.sent, "failed": report.failed, "retried": report.retried,
        "held": report.held, "cancelled": report.cancelled, "uncertain": report.uncertain,
        "hold_reasons": dict(report.hold_reasons),
        "by_step": [{"scenario": k[0], "step": k[1], "channel": k[2], "sent": v}
                    for k, v in sorted(report.by_step.items())],
        "amount_reminded": {c: Decimal(a) for c, a in sorted(report.amounts.items())},
        "errors": report.errors,
        **outstanding(ws),
    }


def outstanding(ws: Workspace) -> dict[str, Any]:
    """What still waits in the outbox after the cycle, whichever run left it there: a run
    that sent nothing must not say "all gone out" while earlier reminders are held."""
    held = Dispatch.hold_reason.is_not(None) & (Dispatch.status == Status.APPROVED.value)
    with session(ws.engine) as s:
        by_status = dict(s.execute(select(Dispatch.status, func.count()).where(
            Dispatch.status.in_([Status.PLANNED.value, Status.FAILED.value,
                                 Status.UNCERTAIN.value])).group_by(Dispatch.status)).all())
        n_held = s.execute(select(func.count()).select_from(Dispatch).where(held)).scalar_one()
    return {"awaiting_approval": by_status.get(Status.PLANNED.value, 0),
            "waiting": {"held": n_held, "failed": by_status.get(Status.FAILED.value, 0),
                        "uncertain": by_status.get(Status.UNCERTAIN.value, 0),
                        "waiting for approval": by_status.get(Status.PLANNED.value, 0)}}
