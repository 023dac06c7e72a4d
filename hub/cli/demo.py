"""`relance demo`: the whole job on sample data, with a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from hub.cli.common import console, err_console
from hub.cli.pipeline import plan_table
from hub.cli.reports import print_aging
from hub.cli.summary import print_summary
from hub.demo.run import DEMO_PLAN_ROWS, pay_one, prepare, sample_rows
from hub.demo.scenes import outcomes, stage


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(workspace: Path = typer.Option(Path("demo-workspace"), "--workspace", "-w",
                                        help="where the demo keeps its files"),
         reset: bool = typer.Option(False, "--reset", help="start from a fresh workspace")):
    """Run Relance end to end on ~200 sample invoices: sync, plan, send, report."""
    run_demo(workspace, reset=reset)


def _late_fees(ws, root: Path, today) -> None:
    """One formal-notice letter's claim: the interest and compensation it states."""
    from sqlalchemy import select

    from hub.cli.lookup import print_claim
    from hub.reports.claim import invoice_claim
    from hub.store.db import session
    from hub.store.models import Dispatch, DispatchInvoice, Invoice

    with session(ws.engine) as s:
        number = s.execute(select(Invoice.number).join(
            DispatchInvoice, DispatchInvoice.invoice_id == Invoice.id).join(
            Dispatch, Dispatch.id == DispatchInvoice.dispatch_id).where(
            Dispatch.channel == "letter", Dispatch.status == "sent", Invoice.status == "open",
            Invoice.currency == "EUR").order_by(Dispatch.id)).scalars().first()
    if number is None:
        return
    console.print(f"\n[bold]A late-fee letter[/]: the formal notices in {root / 'letters'}/ "
                  f"claim interest and compensation; for {number} "
                  f"(`relance claim {number} -w {root}`):")
    try:
        print_claim(invoice_claim(ws, number, today), number, ws.config.company.babel_locale)
    except Exception as exc:  # a demo line, never a demo failure
        console.print(f"  (no claim: {exc})", highlight=False)


def _simulated(ws, root: Path, today) -> None:
    """The next two weeks as the scenarios would run them (nobody pays, nothing sent)."""
    import datetime as dt

    from rich.table import Table

    from hub.cli.simulate import shown_amount
    from hub.reports.simulate import simulate

    rows = [r for r in simulate(ws, today + dt.timedelta(days=1), today + dt.timedelta(days=14))
            if r["step"]]
    t = Table(title=f"The next 14 days, simulated: {len(rows)} reminders "
                    f"(`relance simulate -w {root}`)")
    for col in ("date", "customer", "step", "channel", "amount"):
        t.add_column(col, overflow="fold")
    for r in rows[:8]:
        t.add_row(f"{r['date']:%a %d %b}", r["customer"], f"{r['scenario']}/{r['step']}",
                  r["channel"], shown_amount(r, ws.config.company.babel_locale))
    console.print(t)


DEMO_USER, DEMO_PASSWORD = "demo", "relance-demo"  # DEMO ONLY: a local sample workspace


def _dashboard(ws, root: Path) -> None:
    """The demo's dashboard account (made once), and how to open the pages."""
    from sqlalchemy import select

    from hub.store.db import session
    from hub.store.models import User
    from hub.web.users import add_user

    with session(ws.engine, immediate=True) as s:
        if s.execute(select(User.id).where(User.username == DEMO_USER)).first() is None:
            add_user(s, DEMO_USER, DEMO_PASSWORD, "admin", by="relance demo")
    cfg = ws.config.serve
    console.print(f"\n[bold]Dashboard[/]: `relance serve -w {root} --no-clock`, then open "
                  f"http://{cfg.host}:{cfg.port}/ and sign in as [bold]{DEMO_USER}[/] / "
                  f"[bold]{DEMO_PASSWORD}[/] (a demo account: `relance user remove {DEMO_USER} "
                  f"-w {root}` removes it)", highlight=False)


def run_demo(root: Path, *, reset: bool = False) -> dict:
    from hub.clock import today_in
    from hub.demo.fakes import FakeProviders
    from hub.demo.smtp import LocalSMTP
    from hub.money import fmt_number as fmt
    from hub.reports.figures import BUCKETS, aging
    from hub.send.preview import preview_plan
    from hub.serve.cycle import daily_cycle
    from hub.sync.engine import sync_all
    from hub.workspace import Workspace

    today = today_in("Europe/Paris")
    fresh = prepare(root, today, reset=reset)
    console.print(f"[bold]Relance demo[/] in {root.resolve()} "
                  f"({'new workspace' if fresh else 'existing workspace: run 2+'})")
    outbox = root / "outbox"
    fakes = FakeProviders()
    with LocalSMTP(outbox) as port, fakes as fake_url:
        os.environ["RELANCE_DEMO_SMTP_PORT"] = str(port)
        for key, env in (("TWILIO", "RELANCE_DEMO_TWILIO_URL"), ("STRIPE", "RELANCE_DEMO_STRIPE_URL")):
            if not any(k.startswith(key) for k in os.environ if k.endswith(("TOKEN", "KEY"))):
                os.environ.setdefault(env, fake_url)
        ws = Workspace.open(root)
        console.print(f"SMTP server listening on 127.0.0.1:{port}; messages are saved in {outbox}/")
        if os.environ.get("RELANCE_DEMO_TWILIO_URL") == fake_url:
            console.print(f"No Twilio credentials: SMS go to a local fake Twilio at {fake_url}")
        if os.environ.get("RELANCE_DEMO_STRIPE_URL") == fake_url:
            console.print(f"No Stripe key: payment links come from a local fake Stripe at {fake_url}")

        async def go():
            try:
                syncs = await sync_all(ws)
                if fresh:  # the account scenes, set as a credit controller would
                    staged, scene["disputed"] = stage(ws, root / "invoices.csv", today)
                    console.print("[bold]Case states set by credit control[/] (`relance case "
                                  f"list -w {root}`):")
                    for line in staged:
                        console.print(f"  • {line}", highlight=False)
                    syncs = await sync_all(ws)  # the kept promise's payment arrives
                preview = preview_plan(ws).preview
                if preview:
                    shown = sample_rows(preview, DEMO_PLAN_ROWS)
                    console.print(plan_table(shown, f"Today's plan: {len(preview)} reminders",
                                              ws.config.company.babel_locale))
                    if len(preview) > len(shown):
                        console.print(f"… and {len(preview) - len(shown)} more, each kind of step "
                                      f"shown above; once sent, `relance history -w {root}` "
                                      "lists them all")
                    payer = pay_one(root / "invoices.csv", preview)
                    if payer:
                        console.print(f"Meanwhile {payer[0]} pays invoice {payer[1]} (the export "
                                      "now says so): the check just before sending will drop "
                                      "that reminder.")
                summary = await daily_cycle(ws, sync=False)
                summary["sync"] = [{"connection": r.connection, "ok": r.ok, "invoices": r.invoices,
                                    "customers": r.customers, "problems": r.problems,
                                    "error": r.error, "skipped": r.skipped} for r in syncs]
                return summary
            finally:
                await ws.aclose()

        scene: dict = {}
        summary = asyncio.run(go())
        summary["fake_sms"], summary["fake_links"] = len(fakes.sms), len(fakes.links)
    print_summary(summary, root, ws.config.company.babel_locale)
    if summary["sent"] == 0:
        console.print("[green]Second run: nothing new was sent[/] — each step goes out at most "
                      "once per invoice. `--reset` starts over.")
    for line in outcomes(ws, today):
        console.print(f"  • {line}", highlight=False)
    if scene.get("disputed"):
        from hub.cli.lookup import print_explain
        from hub.reports.explain import explain

        console.print(f"\n[bold]Why was {scene['disputed']} not reminded?[/] "
                      f"(`relance explain {scene['disputed']} -w {root}`)")
        print_explain(explain(ws, scene["disputed"], today))
    _late_fees(ws, root, today)
    _simulated(ws, root, today)
    data = aging(ws, today)
    print_aging(data, today, ws.config.company.babel_locale, fmt, BUCKETS)
    emls = sorted(outbox.glob("*.eml"))
    console.print(f"{len(emls)} e-mail(s) in {outbox}/ (open one with any mail reader), "
                  f"{summary['fake_sms']} SMS and {summary['fake_links']} payment link(s) this run; "
                  f"letters in {root / 'letters'}/, agency bundles in {root / 'handoff'}/, "
                  "call tasks: `relance tasks list -w " + str(root) + "`")
    console.print(f"Next: `relance approvals -w {root}`, `relance customers -w {root}`, "
                  f"`relance status -w {root}`, `relance report aging -w {root} --json`")
    _dashboard(ws, root)
    err_console.print("")
    return summary
