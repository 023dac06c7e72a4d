"""Connections (status, lag, errors, re-authorise), templates (preview for any customer,
send a test) and the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from hub.clock import today_in, utcnow
from hub.errors import RelanceError
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import Connection, Customer, Event
from hub.web.render import render
from hub.web.security import back, flash, guarded

AUDIT_PAGE = 100


def _callback_url(request: Request, ws, name: str) -> str:
    public = ws.config.serve.public_url
    base = (public or f"{request.url.scheme}://{request.url.netloc}").rstrip("/")
    root = request.scope.get("root_path", "")
    if public:  # public_url already ends with the proxy's prefix; keep a firm's /c/<company>
        root = f"/c/{ws.slug}" if ws.slug else ""
    return f"{base}{root}/connections/{name}/callback"


def routes(ws) -> list[Route]:
    @guarded(ws)
    def connections(request, user, form):
        now = utcnow()
        with session(ws.engine) as s:
            stored = {c.name: c for c in s.execute(select(Connection)).scalars()}
        rows = []
        for name, cfg in ws.config.connections.items():
            c = stored.get(name)
            cls = ws.plugin_class("connector", name)
            last = c.last_sync_ok_at if c else None
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            rows.append({"name": name, "plugin": cfg.plugin or name,
                         "state": c.state if c else "never synced",
                         "detail": c.state_detail if c else None,
                         "error": c.last_error if c else None, "last_ok": last,
                         "lag_hours": round((now - last).total_seconds() / 3600, 1)
                         if last else None, "oauth": getattr(cls, "auth", "") == "oauth2"})
        return render(request, ws, user, "connections.html", rows=rows)

    @guarded(ws, "admin")
    def authorise(request, user, form):
        """The consent of `relance connect`, with this server as the callback."""
        from hub.workspace.auth import begin_authorization

        name = request.path_params["name"]
        if name not in ws.config.connections:
            flash(request, f"no connection {name!r}", "error")
            return back(request, "/connections")
        cls = ws.plugin_class("connector", name)
        spec = cls.oauth_for(ws.settings[("connector", name)])
        redirect = _callback_url(request, ws, name)
        url, state, verifier = begin_authorization(spec, ws.settings[("connector", name)],
                                                   redirect)
        request.session["oauth"] = {"connection": name, "state": state, "verifier": verifier,
                                    "redirect": redirect}
        return RedirectResponse(url, status_code=303)

    @guarded(ws, "admin")
    def callback(request, user, form):
        import asyncio

        from hub.sync.engine import mark_authorised
        from hub.workspace.auth import finish_authorization

        name = request.path_params["name"]
        pending = request.session.pop("oauth", None) or {}
        if pending.get("connection") != name:
            flash(request, "that authorisation was not started here: press Re-authorise again",
                  "error")
            return RedirectResponse(request.scope.get("root_path", "") + "/connections", 303)
        cls = ws.plugin_class("connector", name)
        settings = ws.settings[("connector", name)]
        try:
            token = asyncio.run(finish_authorization(
                cls.oauth_for(settings), settings, pending["redirect"],
                dict(request.query_params), pending["state"], pending.get("verifier")))
            store = ws.token_store(name, cls.name)
            store.save(token)
            side = ws.sibling()

            async def tenants_of():
                try:
                    return await side.connector(name).tenants()
                finally:
                    await side.aclose()
            tenants = asyncio.run(tenants_of())
            if len(tenants) == 1 and ws.config.connections[name].consent is None:
                store.save({**(store.load() or {}), "tenant_id": tenants[0][0]})
            mark_authorised(ws, name)
            with session(ws.engine, immediate=True) as s:
                record_event(s, "connection", f"connection {name} re-authorised by "
                             f"{user.username} from the dashboard",
                             data={"by": user.username})
            flash(request, f"connection {name} authorised" + (
                f"; {len(tenants)} organisations: pick one with `relance connect {name} "
                "--tenant ID`" if len(tenants) > 1 else ""))
        except RelanceError as exc:
            flash(request, f"connection {name}: {exc}", "error")
        return RedirectResponse(request.scope.get("root_path", "") + "/connections", 303)

    @guarded(ws)
    def templates(request, user, form):
        from hub.send.preview import template_preview
        from hub.send.templates import renderer_for

        p = request.query_params
        names = sorted(renderer_for(ws).names())
        chosen, who = p.get("template") or (names[0] if names else ""), p.get("customer", "")
        language = p.get("language") or None
        preview = error = customer = None
        with session(ws.engine) as s:
            if who:
                customer = s.execute(select(Customer).where(or_(
                    Customer.name == who, Customer.code == who, Customer.external_id == who,
                    Customer.id == (int(who) if who.isdigit() else -1)))).scalars().first()
                if customer is None:
                    error = f"no customer {who!r}"
            if customer is not None and chosen:
                try:
                    preview = template_preview(s, ws, chosen, customer,
                                               today_in(ws.config.company.timezone), language)
                except Exception as exc:
                    error = f"{chosen}: {exc}"
        return render(request, ws, user, "templates.html", names=names, chosen=chosen,
                      who=who, language=language or "", preview=preview, error=error,
                      customer=customer)

    @guarded(ws, "admin")
    def send_test(request, user, form):
        """The preview sent to one address through the e-mail channel: marked as a test,
        no dispatch, no history on the customer."""
        import asyncio

        from hub.send.preview import template_preview

        address = str(form.get("to") or "").strip()
        channel = next((n for n in ws.config.channels
                        if "email" in ws.plugin_class("channel", n).requires), None)
        if "@" not in address or channel is None:
            flash(request, "give an e-mail address" if channel else
                  "no e-mail channel is configured", "error")
            return back(request, "/templates")
        with session(ws.engine) as s:
            customer = s.get(Customer, int(form.get("customer_id") or 0))
            if customer is None:
                flash(request, "pick a customer first", "error")
                return back(request, "/templates")
            msg = template_preview(s, ws, str(form.get("template")), customer,
                                   today_in(ws.config.company.timezone),
                                   str(form.get("language") or "") or None)
        test = msg.model_copy(update={
            "subject": f"[TEST] {msg.subject}", "idempotency_key": f"test-{utcnow():%s%f}",
            "recipient": msg.recipient.model_copy(update={"email": address, "cc_emails": ()})})

        side = ws.sibling()

        async def go():
            try:
                return await side.channel(channel).send(test)
            finally:
                await side.aclose()
        try:
            asyncio.run(go())
            flash(request, f"test of {form.get('template')} sent to {address}")
            with session(ws.engine, immediate=True) as s:
                record_event(s, "test_sent", f"test of template {form.get('template')} sent to "
                             f"{address} by {user.username}", data={"by": user.username})
        except Exception as exc:
            flash(request, f"the test was not sent: {exc}", "error")
        return back(request, "/templates")

    @guarded(ws)
    def audit(request, user, form):
        p = request.query_params
        kind, text, actor = p.get("kind") or "", p.get("q") or "", p.get("actor") or ""
        start, end = p.get("from") or "", p.get("to") or ""
        page = int(p["page"]) if p.get("page", "").isdigit() and int(p["page"]) > 0 else 1
        where = []
        if kind:
            where.append(Event.kind == kind)
        if text:
            where.append(Event.message.ilike(f"%{text}%"))
        if actor:
            where.append(Event.message.ilike(f"%{actor}%"))
        for value, op in ((start, "ge"), (end, "lt")):
            try:
                day = dt.date.fromisoformat(value) if value else None
            except ValueError:
                day = None
            if day:
                at = dt.datetime.combine(day + dt.timedelta(days=op == "lt"), dt.time(),
                                         tzinfo=dt.UTC)
                where.append(Event.at >= at if op == "ge" else Event.at < at)
        with session(ws.engine) as s:
            events = s.execute(select(Event).where(*where).order_by(Event.id.desc())
                               .offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)
                               ).scalars().all()
            kinds = sorted(s.execute(select(Event.kind).distinct()).scalars())
        more = len(events) > AUDIT_PAGE
        return render(request, ws, user, "audit.html", events=events[:AUDIT_PAGE], kinds=kinds,
                      params=p, page=page, more=more)

    return [Route("/connections", connections),
            Route("/connections/{name}/authorise", authorise, methods=["POST"]),
            Route("/connections/{name}/callback", callback),
            Route("/templates", templates),
            Route("/templates/test", send_test, methods=["POST"]),
            Route("/audit", audit)]

