"""`relance doctor`: every check an admin needs before trusting a run, each explained."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

from hub.cli.common import cmd
from hub.errors import ConfigError, RelanceError
from hub.send.templates import renderer_for


@dataclass
class Check:
    area: str
    level: str  # ok | warn | error
    message: str


async def diagnose(root: Path, *, online: bool = True) -> list[Check]:
    from hub.config import load
    from hub.workspace import Workspace

    out: list[Check] = []
    from hub.cli.common import workspace_root
    from hub.workspace.firm import Firm

    root = workspace_root(root)
    try:
        whole = Firm.at(root)
    except ConfigError as exc:
        return [Check("config", "error", line) for line in str(exc).splitlines()]
    if whole is not None:  # a firm: each of its companies, named
        out.append(Check("firm", "ok", f"{whole.name}: {len(whole.slugs())} companies in "
                                       f"{whole.root / 'companies'}"))
        for slug in whole.slugs():
            out += [Check(f"{slug}: {c.area}", c.level, c.message)
                    for c in await diagnose(whole.company_root(slug), online=online)]
        return out
    try:
        firm = Firm.of_company(root)
        load(root / "relance.yaml", inherited=firm.inherited() if firm else None)
        out.append(Check("config", "ok", f"{root / 'relance.yaml'} is valid"))
    except ConfigError as exc:
        out += [Check("config", "error", line) for line in str(exc).splitlines()]
        return out
    try:
        ws = Workspace.open(root, migrate_db=False)
    except RelanceError as exc:
        out += [Check("plugins", "error", line) for line in str(exc).splitlines()]
        return out
    for err in ws.registry.errors:
        out.append(Check("plugins", "warn", err))
    out.append(Check("plugins", "ok", f"{len(ws.registry.all())} plugins loaded"))
    out += _database(ws)
    out += _templates(ws)
    out += _connections(ws)
    out += _attachments(ws)
    if online:
        out += await _connectivity(ws)
    await ws.aclose()
    return out


def _database(ws) -> list[Check]:
    from hub.store.db import alembic_config

    try:
        with ws.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(ws.engine)).get_current_head()
    except Exception as exc:
        return [Check("database", "error", f"{ws.database_url}: cannot connect: {exc}")]
    if current != head:
        return [Check("database", "warn", f"schema at {current or 'empty'}, code expects {head}: "
                      "any command migrates it (back up first)")]
    return [Check("database", "ok", f"{ws.engine.url.render_as_string()} at schema {head}")]


def _templates(ws) -> list[Check]:
    out = [Check("templates", "error", p) for p in renderer_for(ws).check_all()]
    languages = {ws.config.company.language}
    try:
        from hub.store.db import session
        from hub.store.models import Customer

        with session(ws.engine) as s:
            languages |= {lang for lang in s.execute(select(Customer.language).distinct()).scalars()
                          if lang}
    except Exception:
        pass
    for sname, sc in ws.config.scenarios.items():
        for i, step in enumerate(sc.steps):
            for lang in sorted(languages):
                try:
                    renderer_for(ws).resolve(step.template, lang)
                except RelanceError as exc:
                    place = ws.loaded.place("scenarios", sname, "steps", i, "template")
                    out.append(Check("templates", "error", f"{place}: {exc}"))
    if not out:
        out.append(Check("templates", "ok", f"every step template resolves for "
                         f"{', '.join(sorted(languages))}"))
    return out


def _connections(ws) -> list[Check]:
    from hub.store.db import session
    from hub.store.models import Connection

    out = []
    try:
        with session(ws.engine) as s:
            rows = {c.name: c for c in s.execute(select(Connection)).scalars()}
    except Exception:
        rows = {}
    for name in ws.config.connections:
        c = rows.get(name)
        if c is None:
            out.append(Check(f"connection {name}", "warn", f"never synced: run {cmd(ws.root, 'sync')}"))
        elif c.state == "needs_reauth":
            out.append(Check(f"connection {name}", "error",
                             f"needs re-authorisation ({c.state_detail}): {cmd(ws.root, f'connect {name}')}"))
        elif c.state != "ok":
            out.append(Check(f"connection {name}", "warn", f"{c.state}: {c.state_detail}"))
        else:
            out.append(Check(f"connection {name}", "ok", f"last good sync {c.last_sync_ok_at}"))
    return out


def _attachments(ws) -> list[Check]:
    """Steps that attach the invoice PDF, on connections that cannot fetch one."""
    steps = [f"{name}/{st.id or st.at}" for name, sc in ws.config.scenarios.items()
             for st in sc.steps if st.attach_invoice]
    if not steps:
        return []
    out = []
    for name in ws.config.connections:
        try:
            connector = ws.connector(name)
        except RelanceError:
            continue  # the connection's own check says why
        if not connector.supports_pdf:
            hint = getattr(connector, "pdf_hint", "")
            out.append(Check(f"connection {name}", "warn",
                             f"steps {', '.join(steps)} attach the invoice PDF, but this "
                             "connection cannot fetch PDFs: those reminders go without it "
                             f"(the history says so){'; ' + hint if hint else ''}"))
    return out


async def _connectivity(ws) -> list[Check]:
    from hub.demo.run import demo_served_channels

    served = demo_served_channels(ws.root)
    out = []
    jobs = [("connection", n, ws.connector) for n in ws.config.connections] + \
           [("channel", n, ws.channel) for n in ws.config.channels] + \
           [("payment provider", n, ws.payment_provider) for n in ws.config.payment_providers]
    from hub.contracts import Plugin

    for kind, name, get in jobs:
        try:
            plugin = get(name)
            if type(plugin).check is Plugin.check:  # nothing to ask: never say "reachable"
                out.append(Check(f"{kind} {name}", "warn", "not checked (the plugin has no "
                                 "check(): its server and credentials are tried at the first "
                                 "use)"))
                continue
            problems = await asyncio.wait_for(plugin.check(), timeout=20)
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        by_demo = kind != "connection" and name in served
        for p in problems:
            p = p.removeprefix(f"{kind} {name}: ")  # the area already says it
            level = "warn" if p.lower().startswith(("warning", "note")) else "error"
            if by_demo:  # expected: the demo's own server is down between demos
                level, p = "warn", f"{p} — expected in the demo workspace: its server " \
                    "runs only while `relance demo` runs"
            out.append(Check(f"{kind} {name}", level, p))
        if not problems:
            out.append(Check(f"{kind} {name}", "ok", "checked: no problem found"))
    return out
