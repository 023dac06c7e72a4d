"""A firm's dashboard: one sign-in, a page listing the companies the user sees, and each
company's dashboard under /c/<company>/ (its own pages, scoped to its own store)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from hub.web.app import STATIC, dashboard, login_endpoint, logout_endpoint, session_middleware
from hub.web.render import render
from hub.web.security import LoginLimiter, current_user
from hub.web.users import sees
from hub.workspace import Workspace


def firm_dashboard(firm, workspaces: dict[str, Workspace]) -> Starlette:
    from starlette.staticfiles import StaticFiles

    first = next(iter(workspaces.values()))

    page = {"company": firm.name, "firm": None, "nav": []}  # the firm's pages, not a company's

    async def index(request: Request) -> Response:
        user = await run_in_threadpool(current_user, request, first)
        root = request.scope.get("root_path", "")
        if user is None:
            return RedirectResponse(f"{root}/login?next=/", status_code=303)
        mine = [(slug, ws.config.company.name) for slug, ws in workspaces.items()
                if sees(user, slug)]
        if len(mine) == 1:
            return RedirectResponse(f"{root}/c/{mine[0][0]}/", status_code=303)
        return render(request, first, user, "firm.html", companies=mine, home=root, **page)

    # one count of sign-in attempts for the firm: a company's page is not a fresh try
    limiter = LoginLimiter(first.config.serve.login_limit, first.config.scale.limits_url)
    routes = [Route("/", index),
              Route("/login", login_endpoint(first, limiter, audit=firm.users_engine(),
                                             **page), methods=["GET", "POST"]),
              Route("/logout", logout_endpoint(first), methods=["POST"]),
              Mount("/static", app=StaticFiles(directory=STATIC))]
    routes += [Mount(f"/c/{slug}", app=dashboard(ws, sessions=False, limiter=limiter))
               for slug, ws in workspaces.items()]
    return Starlette(routes=routes, middleware=[session_middleware(firm.box, first.config.serve)])

