"""The dashboard as an ASGI app, mounted by `relance serve` under its webhooks and health
endpoints: sign-in, the pages (hub.web.views.*), and the vendored static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hub.store.db import session
from hub.store.events import record_event
from hub.web.render import render
from hub.web.security import LoginLimiter, SessionBySchemeMiddleware, form_allowed
from hub.web.users import authenticate
from hub.workspace import Workspace

STATIC = Path(__file__).parent / "static"


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never `//evil.example` or `https://…` (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or urlsplit(value).netloc:
        return "/"
    return value


def dashboard(ws: Workspace, *, sessions: bool = True,
              limiter: LoginLimiter | None = None) -> Starlette:
    """`sessions=False`: the firm's app around it keeps the sessions (one sign-in for every
    company the user sees) and passes its `limiter` (one count for every company's page)."""
    from hub.web.views import accounts, admin, overview, today

    limiter = limiter or LoginLimiter(ws.config.serve.login_limit, ws.config.scale.limits_url)

    login, logout = login_endpoint(ws, limiter), logout_endpoint(ws)
    routes = [Route("/login", login, methods=["GET", "POST"]),
              Route("/logout", logout, methods=["POST"]),
              Mount("/static", app=StaticFiles(directory=STATIC), name="static")]
    for module in (overview, today, accounts, admin):
        routes += module.routes(ws)
    if not sessions:
        return Starlette(routes=routes)
    return Starlette(routes=routes, middleware=[session_middleware(ws.box, ws.config.serve)])


def session_middleware(box, serve) -> Middleware:
    """Signed session cookies with a key derived from the workspace's (or firm's) secret."""
    return Middleware(SessionBySchemeMiddleware, secret_key=box.derive("relance dashboard sessions"),
                      max_age=serve.session_hours * 3600, path=(serve.root_path or "") + "/")


def login_endpoint(ws: Workspace, limiter: LoginLimiter, *, audit=None, **page: Any):
    """The sign-in page and its form: a company's (its audit trail records the attempt), or
    the firm's (`audit`: the firm's store; `page`: what the page shows instead)."""
    audit = audit if audit is not None else ws.engine

    async def login(request: Request) -> Response:
        nxt = _safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return render(request, ws, None, "login.html", next=nxt, error=None, **page)
        form = await request.form()
        why = form_allowed(request, form, ws.config.serve.public_url)
        if why:
            return PlainTextResponse(why, status_code=403)
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        address = request.client.host if request.client else "?"
        if not limiter.allow(name, address):
            await run_in_threadpool(_audit, audit, "login_refused",
                                    f"sign-in of {name!r} from {address} refused: too many "
                                    "attempts")
            return render(request, ws, None, "login.html", status_code=429, next=nxt,
                          error="Too many attempts: wait a minute and try again.", **page)
        user = await run_in_threadpool(_sign_in, ws.users_engine, audit, name, password, address)
        if user is None:
            return render(request, ws, None, "login.html", status_code=401, next=nxt,
                          error="Wrong user name or password.", **page)
        request.session.clear()  # a fresh session (and CSRF token) at each sign-in
        request.session.update({"uid": user[0], "epoch": user[1], "name": user[2]})
        return RedirectResponse(request.scope.get("root_path", "") + nxt, status_code=303)
    return login


def logout_endpoint(ws: Workspace):
    """Signing out needs no role or company, only a same-origin form with its token."""
    async def logout(request: Request) -> Response:
        form = await request.form()
        why = form_allowed(request, form, ws.config.serve.public_url)
        if why:
            return PlainTextResponse(why, status_code=403)
        request.session.clear()
        return RedirectResponse(request.scope.get("root_path", "") + "/login", status_code=303)
    return logout


def _audit(engine, kind: str, message: str) -> None:
    with session(engine, immediate=True) as s:
        record_event(s, kind, message, level="warning")


def _sign_in(users, audit, name: str, password: str, address: str
             ) -> tuple[int, int, str] | None:
    with session(users, immediate=True) as s:
        user = authenticate(s, name, password)
        found = (user.id, user.session_epoch, user.username) if user else None
    with session(audit, immediate=True) as s:  # the company's (or firm's) audit trail
        if found is None:
            record_event(s, "login_failed", f"sign-in of {name!r} from {address} failed",
                         level="warning", data={"user": name, "address": address})
        else:
            record_event(s, "login", f"{name} signed in from {address}",
                         data={"user": name, "address": address})
    return found
