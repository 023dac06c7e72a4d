"""Celery tasks (Redis broker) that run one connection's sync or a send pass on any host.

Today nothing enqueues them: `relance serve` runs its jobs in its own process, and these
tasks are started by hand or by an operator's own beat (`celery call relance.send`).
Wiring the scheduler to enqueue them is the scale-out work still to come. Safety does not
come from Celery (a task may run twice): it comes from the store — compare-and-set
dispatch states and the (invoice, scenario, step) key on a shared PostgreSQL — so two
workers can never both send one dispatch.

    RELANCE_WORKSPACE=/srv/relance celery -A hub.serve.worker worker --concurrency 4
"""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

from celery import Celery

from hub.config import CONFIG_FILE, load


def _broker() -> str:
    root = Path(os.environ.get("RELANCE_WORKSPACE", "."))
    if os.environ.get("RELANCE_BROKER"):
        return os.environ["RELANCE_BROKER"]
    cfg = load(root / CONFIG_FILE).model
    return cfg.scale.broker or "redis://127.0.0.1:6379/0"


app = Celery("relance", broker=_broker() if os.environ.get("RELANCE_WORKSPACE")
             or os.environ.get("RELANCE_BROKER") else "memory://")
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_serializer="json",
                accept_content=["json"], broker_connection_retry_on_startup=True)


@functools.cache
def _workspace(root: str):
    from hub.workspace import Workspace

    return Workspace.open(Path(root), database_url=os.environ.get("RELANCE_DATABASE_URL"))


def _run(coro_factory):
    async def go():
        return await coro_factory()
    return asyncio.run(go())


@app.task(name="relance.sync")
def sync_task(root: str, connection: str) -> dict:
    from hub.sync.engine import sync_connection

    ws = _workspace(root)

    async def go():
        try:
            r = await sync_connection(ws, connection)
        finally:
            await ws.aclose()
        return {"ok": r.ok, "records": r.records, "error": r.error}
    return _run(go)


@app.task(name="relance.send")
def send_task(root: str, limit: int | None = None) -> dict:
    from hub.send.dispatcher import Dispatcher

    ws = _workspace(root)

    async def go():
        try:
            r = await Dispatcher(ws).run(limit=limit)
        finally:
            await ws.aclose()
        return {"sent": r.sent, "failed": r.failed, "busy": r.skipped_busy}
    return _run(go)
