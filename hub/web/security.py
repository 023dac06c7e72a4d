"""Who is asking, and may they: signed session cookies, CSRF tokens, same-origin checks,
roles, company scope and a rate limit on sign-in attempts.

Every dashboard endpoint goes through `guarded`: no page renders for someone not signed in,
no change is made by a request without the session's CSRF token or from another site, and
a user sees only the companies they were given. Sessions are signed with a key derived from
the workspace's secret key, so every `relance serve` sharing it shares sign-ins; a password
change or a removed user ends the sessions signed before.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from hub.store.db import session as db_session
from hub.store.models import User
from hub.web.users import may, sees

COOKIE = "relance_session"


class SessionBySchemeMiddleware:
    """Starlette's signed-cookie sessions (HttpOnly, SameSite=Lax), `Secure` when the request
    came over TLS (directly, or as a trusted proxy's X-Forwarded-Proto says)."""

    def __init__(self, app, secret_key: str, max_age: int, path: str = "/"):
        kw = {"secret_key": secret_key, "session_cookie": COOKIE, "max_age": max_age,
              "same_site": "lax", "path": path}
        self.plain = SessionMiddleware(app, https_only=False, **kw)
        self.tls = SessionMiddleware(app, https_only=True, **kw)

    async def __call__(self, scope, receive, send):
        tls = scope.get("scheme") in ("https", "wss")
        await (self.tls if tls else self.plain)(scope, receive, send)


class LoginLimiter:
    """Sign-in attempts per user name and per address, in a moving window (the `limits`
    library): in Redis when the deployment has one (`scale.limits`), so every `relance
    serve` behind the load balancer counts the same attempts; else in this process."""

    def __init__(self, rate: str, storage_url: str | None = None):
        self.per_name, self.per_address = parse(rate), parse(_times(rate, 4))
        storage = storage_from_string(storage_url) if storage_url else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)

    def allow(self, username: str, address: str) -> bool:
        return (self.limiter.hit(self.per_address, "addr", address)
                and self.limiter.hit(self.per_name, "name", username.lower()))


def _times(rate: str, k: int) -> str:
    amount, _, per = rate.partition("/")
    return f"{int(amount) * k}/{per}"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def same_origin(request: Request, public_url: str | None) -> bool:
    """False for a request another site made the browser send (Fetch metadata, else the
    Origin header); requests without either (old clients, curl) rely on the CSRF token."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    allowed = {request.url.netloc}
    if public_url:
        allowed.add(urlsplit(public_url).netloc)
    return urlsplit(origin).netloc in allowed


def form_allowed(request: Request, form, public_url: str | None) -> str | None:
    """Why this state-changing request is refused (None: it may go on)."""
    if not same_origin(request, public_url):
        return "cross-site request refused"
    sent = request.headers.get("x-csrf-token") or (form.get("csrf_token") if form else None)
    expected = request.session.get("csrf")
    if not sent or not expected or not hmac.compare_digest(str(sent), expected):
        return "missing or wrong CSRF token: reload the page and try again"
    return None


def current_user(request: Request, ws) -> User | None:
    uid, epoch = request.session.get("uid"), request.session.get("epoch")
    if uid is None:
        return None
    with db_session(ws.users_engine) as s:
        user = s.get(User, uid)
        if user is None or user.disabled or user.session_epoch != epoch \
                or user.username != request.session.get("name"):
            request.session.clear()
            return None
        s.expunge(user)
    return user


def guarded(ws, role: str = "viewer") -> Callable:
    """A dashboard endpoint: signed in, allowed the role and the company; for a POST, the
    same origin and the CSRF token. The handler `fn(request, user, form)` is plain sync code
    (database work), run in the thread pool."""
    def wrap(fn: Callable[..., Response]) -> Callable[[Request], Any]:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            user = await run_in_threadpool(current_user, request, ws)
            root = request.scope.get("root_path", "")
            if user is None:
                if request.method == "GET":
                    nxt = request.url.path[len(root):] or "/"
                    return RedirectResponse(f"{root}/login?next={nxt}", status_code=303)
                return PlainTextResponse("sign in first", status_code=401)
            if not sees(user, ws.company_key):
                return PlainTextResponse(f"{user.username} may not see this company",
                                         status_code=403)
            if not may(user.role, role):
                return PlainTextResponse(f"this needs the {role} role; {user.username} is "
                                         f"{user.role}", status_code=403)
            form = None
            if request.method == "POST":
                form = await request.form()
                why = form_allowed(request, form, ws.config.serve.public_url)
                if why:
                    return PlainTextResponse(why, status_code=403)
            return await run_in_threadpool(fn, request, user, form)
        return endpoint
    return wrap


def flash(request: Request, message: str, level: str = "ok") -> None:
    # reassigned, not appended in place: the session is written only when it is set
    request.session["flash"] = [*request.session.get("flash", []), [level, message]]


def answer(request: Request, message: str, level: str = "ok", default: str = "/",
           keep: bool = False) -> Response:
    """After an action: for htmx (the page's enhanced forms), the line that replaces the
    card acted on (`keep`: put above its content, which stays — a refusal); without
    JavaScript, the message flashed and the page again."""
    if request.headers.get("hx-request") == "true":
        from html import escape

        return HTMLResponse(f'<p class="flash {escape(level)}" role="status">'
                            f"{escape(message)}</p>",
                            headers={"HX-Reswap": "afterbegin"} if keep else None)
    flash(request, message, level)
    return back(request, default)


def back(request: Request, default: str = "/") -> RedirectResponse:
    """Back where the form was (a path on this site only), after a POST."""
    root = request.scope.get("root_path", "")
    ref = urlsplit(request.headers.get("referer", ""))
    path = ref.path if ref.netloc == request.url.netloc and ref.path.startswith(root) else ""
    target = path + (f"?{ref.query}" if path and ref.query else "") if path else root + default
    return RedirectResponse(target, status_code=303)
