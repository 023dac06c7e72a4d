"""`relance serve`: the ASGI app — webhooks, health, readiness, metrics — and the clock.

Webhooks are routed to the plugin's `verify_webhook`; a bad signature gets 401 and is
logged without its body; a good one is answered at once and processed in the
background. The lifespan runs the leader loop: the lease holder runs the scheduler,
the others wait as hot standbys. On SIGTERM uvicorn stops accepting requests, the
lifespan sets `stopping` (no new dispatch is claimed), waits for the sends in flight, then
shuts the scheduler down (`graceful_stop`), so nothing is left `sending`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from hub.contracts import DeliveryUpdate, LedgerChanged, PaymentReceived, WebhookRequest
from hub.errors import SignatureError
from hub.feedback import apply as feedback
from hub.send import outbox
from hub.send.dispatcher import worker_name
from hub.serve.leader import LeaseHolder
from hub.serve.metrics import render
from hub.serve.scheduler import RUNTIMES, Runtime, run_now, start_scheduler
from hub.store.db import session
from hub.store.models import Connection
from hub.workspace import Workspace

log = logging.getLogger("relance.serve")
KINDS = (("connector", "connections"), ("channel", "channels"),
         ("payment_provider", "payment_providers"))


def _find(ws: Workspace, plugin: str, name: str):
    for kind, section in KINDS:
        entry = getattr(ws.config, section).get(name)
        if entry is not None and (entry.plugin or name) == plugin:
            return kind, getattr(ws, kind)(name)
    return None, None


async def _process(rt: Runtime, kind: str, name: str, events) -> None:
    for ev in events:
        try:
            if isinstance(ev, LedgerChanged) and kind == "connector":
                feedback.ledger_changed(rt.ws, name, ev, lambda job: _sync_soon(rt, name, job))
            elif isinstance(ev, DeliveryUpdate):
                feedback.apply_delivery(rt.ws, ev)
            elif isinstance(ev, PaymentReceived):
                await feedback.apply_payment(rt.ws, ev, source=f"{kind}:{name}")
        except Exception:
            log.exception("webhook event from %s/%s failed", kind, name)


def _sync_soon(rt: Runtime, name: str, job_id: str) -> None:
    if not run_now(rt, job_id):  # a standby (or no scheduler): sync here, now
        from hub.serve.scheduler import job_sync

        asyncio.get_running_loop().create_task(job_sync(str(rt.ws.root), name))


MAX_WEBHOOK_BYTES = 1 << 20  # no provider sends more in one callback


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None when it is over the cap (read no further than the cap)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(rt: Runtime, *, lease_ttl: float = 15.0, clock: bool = True) -> Starlette:
    """`clock=False`: pages and webhooks only (a dashboard host, the demo); another process
    runs the cycles."""
    return create_service({None: rt}, lease_ttl=lease_ttl, clock=clock)


def create_service(runtimes: dict[str | None, Runtime], *, firm=None, lease_ttl: float = 15.0,
                   clock: bool = True) -> Starlette:
    """One company (`{None: rt}`) or a firm's (`{company: rt}`): webhooks at
    /webhooks/<plugin>/<name>, or /webhooks/<company>/<plugin>/<name> in a firm, each
    handled by its own company's plugins and store only."""
    for rt in runtimes.values():
        RUNTIMES[str(rt.ws.root)] = rt
    one = next(iter(runtimes.values()))

    async def webhook(request: Request) -> Response:
        rt = runtimes.get(request.path_params.get("company"))
        if rt is None:
            return PlainTextResponse("unknown company", status_code=404)
        return await _webhook(rt, request)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        problems, body = [], {}
        for company, rt in runtimes.items():
            ok, state = await asyncio.to_thread(_readiness, rt)
            if ok is None:
                return JSONResponse({"ready": False, "problems": state}, 503)
            problems += [f"{company}: {p}" if company else p for p in state["problems"]]
            body[company or ""] = state
        body = body[""] if firm is None else {"companies": body}
        body = {**body, "ready": not problems, "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    async def metrics(_: Request) -> Response:
        data = await asyncio.to_thread(render, runtimes)
        return Response(data, media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if not clock:
            yield
            for rt in runtimes.values():
                await rt.ws.aclose()
            return
        holders = {company: LeaseHolder(rt.ws.engine, ttl=lease_ttl)
                   for company, rt in runtimes.items()}
        loops = [asyncio.create_task(_leader_loop(rt, holders[c], lease_ttl))
                 for c, rt in runtimes.items()]
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.gather(*(graceful_stop(rt) for rt in runtimes.values()))
            for company, rt in runtimes.items():
                if rt.is_leader:
                    holders[company].release()
                await rt.ws.aclose()

    hook = "/webhooks/{plugin}/{name}" if firm is None else "/webhooks/{company}/{plugin}/{name}"
    routes = [
        Route(hook, webhook, methods=["POST", "GET"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    if one.ws.config.serve.dashboard:  # the accountants' pages, behind their sign-in
        if firm is None:
            from hub.web.app import dashboard

            routes.append(Mount("/", app=dashboard(one.ws)))
        else:
            from hub.web.firm import firm_dashboard

            routes.append(Mount("/", app=firm_dashboard(
                firm, {c: rt.ws for c, rt in runtimes.items()})))
    return Starlette(routes=routes, lifespan=lifespan)


async def _webhook(rt: Runtime, request: Request) -> Response:
    ws = rt.ws
    plugin, name = request.path_params["plugin"], request.path_params["name"]
    kind, instance = _find(ws, plugin, name)
    if instance is None:
        return PlainTextResponse("unknown webhook endpoint", status_code=404)
    body = await _capped_body(request)
    if body is None:
        return PlainTextResponse(f"body over {MAX_WEBHOOK_BYTES} bytes", status_code=413)
    public = ws.config.serve.public_url
    url = (public.rstrip("/") + request.url.path +
           (f"?{request.url.query}" if request.url.query else "")) if public else str(request.url)
    req = WebhookRequest(method=request.method, path=request.url.path,
                         headers=dict(request.headers), query=dict(request.query_params),
                         body=body, url=url)
    try:
        result = instance.verify_webhook(req)
    except SignatureError as exc:
        log.warning("webhook %s/%s refused: %s (%d bytes, body not logged)",
                    plugin, name, exc, len(body))
        return PlainTextResponse("invalid signature", status_code=401)
    except NotImplementedError:
        return PlainTextResponse("this plugin takes no webhooks", status_code=404)
    except Exception as exc:  # signed but not what the provider sends: the sender's fault
        log.warning("webhook %s/%s refused as malformed: %s: %s (%d bytes, body not logged)",
                    plugin, name, type(exc).__name__, exc, len(body))
        return PlainTextResponse("malformed webhook body", status_code=400)
    task = BackgroundTask(_process, rt, kind, name, result.events) if result.events else None
    return Response(result.body, status_code=result.status_code,
                    media_type=result.content_type, background=task)


def _readiness(rt: Runtime) -> tuple[bool | None, Any]:
    """(None, problems) when the store cannot be read; else (ready, state)."""
    ws = rt.ws
    try:
        with session(ws.engine) as s:
            s.execute(text("SELECT 1"))
            reauth = s.execute(select(Connection.name).where(
                Connection.state == "needs_reauth")).scalars().all()
    except Exception as exc:
        return None, [f"database: {exc}"]
    problems = []
    if rt.is_leader and not (rt.scheduler and rt.scheduler.running):
        problems.append("scheduler is not running")
    if reauth and ws.config.serve.require_connections_ok:
        problems += [f"connection {n} needs re-authorisation: relance connect {n}" for n in reauth]
    if rt.alert:
        problems.append(f"watchdog: {rt.alert}")
    return not problems, {"leader": rt.is_leader, "problems": problems,
                          "last_cycle": rt.last_cycle}


def freeze_startup() -> None:
    """What start-up built (config, plugins, calendars, the ORM's metadata) lives as long as
    the process: moved out of the garbage collector's full passes, which then stay short
    while a page renders (gc.freeze, as the Python docs advise for long-lived servers)."""
    import gc

    gc.collect()
    gc.freeze()


async def graceful_stop(rt: Runtime, grace: float = 60.0) -> int:
    """Stop claiming, let the sends in flight finish (up to `grace` seconds), then stop the
    clock — in that order: the scheduler's shutdown cancels the jobs still running, and a
    send cancelled after its claim would stay `sending`. A dispatch this process still
    holds after the grace becomes `uncertain` (settled by `relance resolve`, never re-sent
    blindly). Returns how many were left so."""
    rt.stopping.set()
    deadline = asyncio.get_running_loop().time() + grace
    while rt.busy and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    if rt.scheduler is not None and rt.scheduler.running:
        rt.scheduler.shutdown(wait=False)
    left = outbox.abandon(rt.ws.engine, worker_name())
    if left:
        log.error("stopped with %d dispatch(es) mid-send: they are uncertain; see "
                  "`relance resolve`", left)
    else:
        log.info("stopped cleanly: nothing left sending")
    return left


async def _leader_loop(rt: Runtime, holder: LeaseHolder, ttl: float) -> None:
    while not rt.stopping.is_set():
        try:
            leader = await asyncio.to_thread(holder.try_acquire)
        except Exception as exc:
            log.warning("lease check failed: %s", exc)
            leader = False
        if leader and not rt.is_leader:
            log.info("this process holds the scheduler lease (%s): starting the clock", holder.owner)
            start_scheduler(rt)
            rt.is_leader = True
        elif not leader and rt.is_leader:
            log.error("lease lost: stopping the clock")
            if rt.scheduler:
                rt.scheduler.shutdown(wait=False)
            rt.is_leader = False
        elif not leader:
            log.debug("standby: the scheduler runs elsewhere")
        await asyncio.sleep(ttl / 3)
