"""explain, claim, invoices, customers: what the store holds, why a reminder went or did not,
and what an overdue invoice may bear under the law."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import func, select

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    open_workspace,
    parse_amount,
    parse_day,
    print_json,
    run_guarded,
)


def register(app: typer.Typer) -> None:
    app.command()(explain)
    app.command()(claim)
    app.command()(invoices)
    app.command()(customers)


def _day(ws, value: str | None) -> dt.date:
    from hub.clock import today_in

    return parse_day(value, "--on") or today_in(ws.config.company.timezone)


def explain(invoice: str = typer.Argument(..., help="the invoice number (or its ledger id)"),
            on: str = typer.Option(None, "--on", help="as of YYYY-MM-DD (default today)"),
            workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Why an invoice was or was not reminded, and what happens next, when."""
    from hub.reports.explain import explain as get

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    data = run_guarded(lambda: get(ws, invoice, _day(ws, on)))
    if as_json:
        return print_json(data)
    return print_explain(data)


def claim(invoice: str = typer.Argument(..., help="the invoice number (or its ledger id)"),
          on: str = typer.Option(None, "--on", help="as of YYYY-MM-DD (default today)"),
          law: str = typer.Option(None, "--law", help="a law pack other than the company's: "
                                                      "eu, fr, de, gb"),
          rate: str = typer.Option(None, "--rate", help="the invoice's own contractual rate, "
                                                        "percent a year (replaces the law's)"),
          workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Late-payment interest and fixed compensation the invoice may bear, with the law."""
    from hub.reports.claim import invoice_claim

    own = parse_amount(rate, "--rate", "9.5 for 9.5 %")
    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    c = run_guarded(lambda: invoice_claim(ws, invoice, _day(ws, on), pack=law, own_rate=own))
    if as_json:
        return print_json(c.as_json())
    return print_claim(c, invoice, ws.config.company.babel_locale)


def print_claim(c, invoice: str, loc: str) -> None:
    from hub.money import fmt_amounts

    money = lambda v: fmt_amounts({c.currency: v}, loc)  # noqa: E731
    console.print(f"[bold]{invoice}[/]: {money(c.principal)} due {c.due_date}, "
                  f"{c.days_late} days late on {c.on} ({c.customer_type} debtor)", highlight=False)
    console.print(f"law: {c.law}", highlight=False)
    for p in c.periods:
        console.print(f"  {p['from']} → {p['to']}: {p['days']} days at {p['rate_percent']} %",
                      highlight=False)
    console.print(f"interest {money(c.interest)} + fixed compensation "
                  f"{money(c.fixed_compensation)} = [bold]{money(c.total)}[/] with the principal",
                  highlight=False)
    return None


def print_explain(data: dict) -> None:
    i, a = data["invoice"], data["account"]
    console.print(f"[bold]{i['number']}[/] ({i['customer']}, {i['connection']}): {i['status']} "
                  f"{i['kind']}, {i['amount_due']} {i['currency']} due {i['due_date']} "
                  f"({i['days_overdue']} days overdue on {data['on']})", highlight=False)
    console.print(f"account in {a['currency']}: {a['overdue']} overdue, {a['credits']} credits, "
                  f"net {a['net']}", highlight=False)
    for reason in data["blockers"]:
        console.print(f"[yellow]not reminded[/]: {reason}", highlight=False)
    console.print(f"scenario: {data['scenario'] or '-'}")
    for st in data["steps"]:
        console.print(f"  {st['step']:>8} {st['channel']:<8} {st['due']}  {st['state']}"
                      + (f"  (when: {st['condition']})" if st["condition"] else ""),
                      highlight=False, markup=False)
    nxt = data["next"]
    if data["blockers"]:
        console.print("next: nothing while the reasons above hold")
    elif nxt:
        console.print(f"next: {nxt['step']} by {nxt['channel']} on {nxt['date']}", highlight=False)
    else:
        console.print("next: nothing — every step of the scenario went out")
    for e in data["history"]:
        console.print(f"  {e['at']:%Y-%m-%d %H:%M} {e['kind']}: {e['message']}",
                      highlight=False, markup=False)
    return None


def invoices(customer: str = typer.Option(None, "--customer", help="a customer name or code"),
             overdue: bool = typer.Option(False, "--overdue", help="only open and past due"),
             limit: int = typer.Option(100, "--limit"),
             workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """The invoices the store holds, as imported from the ledgers."""
    from hub.clock import today_in
    from hub.money import quantize
    from hub.store.db import session
    from hub.store.models import Customer, Invoice, customer_named

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    today = today_in(ws.config.company.timezone)
    q = select(Invoice, Customer.name).join(Customer, Customer.id == Invoice.customer_id)
    if customer:
        q = q.where(customer_named(customer))
    if overdue:
        q = q.where(Invoice.status == "open", Invoice.due_date < today, Invoice.kind == "invoice")
    with session(ws.engine) as s:
        rows = s.execute(q.order_by(Invoice.due_date, Invoice.number).limit(limit)).all()
    data = [{"number": i.number, "customer": name, "kind": i.kind, "status": i.status,
             "currency": i.currency, "total": quantize(i.total, i.currency),
             "amount_due": quantize(i.amount_due, i.currency), "due_date": i.due_date,
             "days_overdue": max(0, (today - i.due_date).days), "disputed": i.disputed,
             "held_as_paid": i.hub_paid_at is not None} for i, name in rows]
    if as_json:
        return print_json(data)
    t = Table(title=f"{len(data)} invoice(s)")
    for col in ("number", "customer", "kind", "status", "amount due", "due", "days late"):
        t.add_column(col, justify="right" if col in ("amount due", "days late") else "left")
    for r in data:
        t.add_row(r["number"], r["customer"], r["kind"], r["status"] + (" (paid, pending "
                  "the ledger)" if r["held_as_paid"] else ""), f"{r['amount_due']} {r['currency']}",
                  str(r["due_date"]), str(r["days_overdue"] or ""))
    console.print(t)
    return None


def customers(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
              limit: int = typer.Option(100, "--limit")):
    """Customers with their net balance per currency, their state and last contact."""
    from hub.money import quantize
    from hub.store.db import session
    from hub.store.models import Customer, Dispatch, Invoice

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    with session(ws.engine) as s:
        people = s.execute(select(Customer).order_by(Customer.name).limit(limit)).scalars().all()
        ids = [c.id for c in people]
        balances: dict[int, dict[str, str]] = {i: {} for i in ids}
        for cid, cur, kind, amount in s.execute(
                select(Invoice.customer_id, Invoice.currency, Invoice.kind,
                       func.sum(Invoice.amount_due)).where(
                    Invoice.customer_id.in_(ids), Invoice.status == "open")
                .group_by(Invoice.customer_id, Invoice.currency, Invoice.kind)):
            now = balances[cid].get(cur, 0)
            balances[cid][cur] = now + (-amount if kind == "credit_note" else amount)
        last = dict(s.execute(select(Dispatch.customer_id, func.max(Dispatch.sent_at)).where(
            Dispatch.customer_id.in_(ids)).group_by(Dispatch.customer_id)).all())
    data = [{"name": c.name, "code": c.code, "email": c.email, "scenario": c.scenario,
             "on_hold": c.on_hold,
             "net_balance": {cur: quantize(v, cur) for cur, v in balances[c.id].items()},
             "last_contact": last.get(c.id)} for c in people]
    if as_json:
        return print_json(data)
    t = Table(title=f"{len(data)} customer(s)")
    for col in ("name", "code", "net balance", "scenario", "state", "last contact"):
        t.add_column(col)
    for r in data:
        t.add_row(r["name"], r["code"] or "", ", ".join(f"{v} {k}" for k, v in
                                                        r["net_balance"].items()) or "0",
                  r["scenario"] or "-", "on hold" if r["on_hold"] else "",
                  f"{r['last_contact']:%Y-%m-%d}" if r["last_contact"] else "never")
    console.print(t)
    return None
