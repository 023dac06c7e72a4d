"""Celery: the tasks `relance worker` runs and `relance serve` enqueues when
`scale.executor: celery` (one connection's sync, a batch of dispatches, the write-backs).

Safety does not come from Celery, whose tasks may run twice (a killed worker's task is
delivered again once `scale.visibility_timeout` passes, or at once on RabbitMQ): it comes
from the store. A send task reserves its batch under its own task id, so a redelivered
task takes the same batch back and tasks side by side take different ones; each dispatch
then moves approved → sending → sent by compare-and-set, so none is sent twice, and one
left `sending` by the kill is settled through the channel (`uncertain`).

    relance worker -w /srv/relance --concurrency 4
    # or: RELANCE_WORKSPACE=/srv/relance celery -A hub.serve.worker worker
"""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path
from typing import Any

from celery import Celery

from hub.config import CONFIG_FILE, load
from hub.config.model import ScaleConfig

app = Celery("relance")


def configure(celery: Celery, scale: ScaleConfig) -> Celery:
    """Broker, results and the redelivery rules of this deployment."""
    broker = os.environ.get("RELANCE_BROKER") or scale.broker or "memory://"
    redis = broker.startswith(("redis://", "rediss://"))
    # Redis: an unacknowledged task is delivered again once `visibility_timeout` has passed,
    # found by a sweep that kombu runs only every 100 s by default; sweep often enough
    # that a dead worker's task comes back close to the timeout (one cheap ZRANGEBYSCORE)
    options = {"visibility_timeout": scale.visibility_timeout,
               "unacked_restore_interval": min(10, max(1, scale.visibility_timeout // 3)),
               "unacked_restore_throttle": 1} if redis else {}
    celery.conf.update(
        broker_url=broker,
        task_default_queue=scale.queue,
        # the clock asks whether its send tasks finished before it enqueues more
        result_backend=broker if redis else "rpc://",
        result_expires=86400,
        task_acks_late=True,  # acknowledged when done: a killed worker's task comes back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds only the task it runs
        broker_transport_options=options,
        result_backend_transport_options=options,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return celery


def _root() -> Path:
    return Path(os.environ.get("RELANCE_WORKSPACE", "."))


def _scale() -> ScaleConfig:
    """The deployment's `scale:` — a firm's file, or the one workspace's."""
    from hub.workspace.firm import Firm

    path = _root() / CONFIG_FILE
    if not os.environ.get("RELANCE_WORKSPACE") or not path.exists():
        return ScaleConfig()
    firm = Firm.at(_root())
    return firm.config.scale if firm else load(path).model.scale


configure(app, _scale())


@functools.cache
def _workspace(company: str | None):
    from hub.workspace import Workspace

    root = _root() if not company else _root() / "companies" / company
    return Workspace.open(root, database_url=os.environ.get("RELANCE_DATABASE_URL"))


def _run(company: str | None, work) -> dict[str, Any]:
    ws = _workspace(company)

    async def go():
        try:
            return await work(ws)
        finally:
            await ws.aclose()
    return asyncio.run(go())


@app.task(name="relance.sync")
def sync_task(company: str | None, connection: str) -> dict:
    from hub.sync.engine import sync_connection

    async def work(ws):
        r = await sync_connection(ws, connection)
        return {"connection": connection, "ok": r.ok, "records": r.records, "error": r.error}
    return _run(company, work)


@app.task(name="relance.send", bind=True)
def send_task(self, company: str | None, limit: int | None = None) -> dict:
    from hub.send.dispatcher import Dispatcher

    async def work(ws):
        # the batch is held under the task's id: delivered again, the task takes it back
        r = await Dispatcher(ws, reservation=f"task:{self.request.id}").run(limit=limit)
        return {"sent": r.sent, "failed": r.failed, "busy": r.skipped_busy,
                "uncertain": r.uncertain}
    return _run(company, work)


@app.task(name="relance.writeback")
def writeback_task(company: str | None) -> dict:
    from hub.send.payment_writeback import process_payment_writebacks
    from hub.send.writeback import process_writebacks

    async def work(ws):
        await process_writebacks(ws)
        await process_payment_writebacks(ws)
        return {}
    return _run(company, work)
