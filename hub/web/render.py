"""Pages from Jinja2 templates (autoescaped: every value a ledger or a person typed is text,
never markup), with what every page needs: the user, the CSRF token, the URL prefix."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hub.money import fmt, fmt_number
from hub.web.security import csrf_token

NAV = (("/", "Overview"), ("/today", "Today"), ("/customers", "Customers"),
       ("/reports", "Reports"), ("/connections", "Connections"), ("/templates", "Templates"),
       ("/audit", "Audit log"))

_env = Environment(loader=PackageLoader("hub.web", "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def _money(amount: Decimal | None, currency: str | None, locale: str = "en_GB") -> str:
    if amount is None or not currency or currency == "MIXED":
        return "—"
    return fmt(Decimal(amount), currency, locale)


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return value.isoformat()


_env.filters.update(when=_when, number=fmt_number)


def render(request: Request, ws, user, name: str, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    locale = ws.config.company.babel_locale
    values = dict(
        request=request, user=user, csrf=csrf_token(request), root=root, nav=NAV,
        path=request.url.path[len(root):] or "/", company=ws.config.company.name,
        firm=ws.firm.name if ws.firm is not None else None,
        firm_home=root.removesuffix(f"/c/{ws.slug}") + "/" if ws.firm is not None else None,
        flashes=request.session.pop("flash", []),
        money=lambda a, c: _money(a, c, locale),
        link=lambda n: "?" + urlencode({**request.query_params, "page": n}))
    page = _env.get_template(name).render({**values, **context})
    return HTMLResponse(page, status_code=status_code,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "same-origin",
                                 "Content-Security-Policy": CSP})


# scripts and styles only from the package's static folder; no inline script runs
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
