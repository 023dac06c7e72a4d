"""`relance case`: open, close and list case states (dispute, hold, promise, payment plan,
collection, legal hold), each with who and why."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import select

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    cmd,
    console,
    fail,
    open_workspace,
    parse_amount,
    parse_day,
    print_json,
    run_guarded,
)

app = typer.Typer(help="Case states: what stops reminders, who set it and why.",
                  no_args_is_help=True)


@app.command("open")
def open_(kind: str = typer.Argument(..., help="dispute | hold | promise | payment_plan | "
                                                "in_collection | legal_hold"),
          invoice: str = typer.Option(None, "--invoice", help="an invoice number"),
          customer: str = typer.Option(None, "--customer", help="a customer (all its invoices)"),
          until: str = typer.Option(None, "--until", help="YYYY-MM-DD: it lapses by itself"),
          amount: str = typer.Option(None, "--amount", help="the amount disputed or promised"),
          reason: str = typer.Option(None, "--reason"),
          instalment: list[str] = typer.Option(None, "--instalment",
                                               help="a payment plan's YYYY-MM-DD:AMOUNT (repeat)"),
          by: str = typer.Option(None, "--by", help="who (default: your user name)"),
          workspace: Path = WorkspaceOpt):
    """Stop reminders on an invoice or a customer, for a reason, until closed (or a date).

    A promise (--until, --amount) is judged the day after its date: kept when paid, else
    broken and the reminders resume. A payment plan (--instalment, repeated) is broken by
    the first instalment missed."""
    from hub.plan.cases import open_case
    from hub.store.db import session

    day = parse_day(until, "--until")
    money = parse_amount(amount, "--amount")
    plan = [_instalment(text) for text in instalment or ()]
    ws = run_guarded(lambda: open_workspace(workspace))
    with session(ws.engine, immediate=True) as s:
        state = run_guarded(lambda: open_case(s, kind, invoice=invoice, customer=customer,
                                              reason=reason, until=day, amount=money, by=by,
                                              instalments=plan))
        case_id = state.id
    console.print(f"case {case_id}: {kind} opened; close it with "
                  f"{cmd(workspace, f'case close {case_id}')}", highlight=False)


def _instalment(text: str):
    day, _, amount = text.partition(":")
    if not amount:
        raise fail(f"--instalment {text!r}: write YYYY-MM-DD:AMOUNT, e.g. 2027-01-15:300")
    return parse_day(day, "--instalment"), parse_amount(amount, "--instalment", "2027-01-15:300")


@app.command("close")
def close(case_id: int = typer.Argument(...),
          outcome: str = typer.Option("resolved", "--outcome",
                                      help="resolved | kept | broken | withdrawn"),
          reason: str = typer.Option(None, "--reason"),
          by: str = typer.Option(None, "--by", help="who (default: your user name)"),
          workspace: Path = WorkspaceOpt):
    """End a case state: reminders resume where the scenario stood (a broken promise too)."""
    from hub.plan.cases import close_case
    from hub.store.db import session

    ws = run_guarded(lambda: open_workspace(workspace))
    with session(ws.engine, immediate=True) as s:
        run_guarded(lambda: close_case(s, case_id, outcome=outcome, reason=reason, by=by,
                                       config=ws.config))
    console.print(f"case {case_id} closed ({outcome})")


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="closed ones too"),
          workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Case states with their invoice or customer, who opened them, and why."""
    from hub.store.db import session
    from hub.store.models import CaseState, Customer, Invoice

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    with session(ws.engine) as s:
        q = select(CaseState, Invoice.number, Customer.name).outerjoin(
            Invoice, Invoice.id == CaseState.invoice_id).outerjoin(
            Customer, Customer.id == CaseState.customer_id).order_by(CaseState.id)
        if not all_:
            q = q.where(CaseState.closed_at.is_(None))
        rows = [{**c.model_dump(), "invoice": number, "customer": name}
                for c, number, name in s.execute(q).all()]
    if as_json:
        return print_json(rows)
    for r in rows:
        target = f"invoice {r['invoice']}" if r["invoice"] else f"customer {r['customer']}"
        state = f"closed {r['outcome']} by {r['closed_by']}" if r["closed_at"] else "open"
        console.print(f"{r['id']:>4} {r['kind']:<13} {target}: {state}; opened by "
                      f"{r['opened_by']} {r['opened_at']:%Y-%m-%d}"
                      + (f" until {r['until']}" if r["until"] else "")
                      + (f" — {r['reason']}" if r["reason"] else ""), highlight=False)
    if not rows:
        console.print("no open case state")
    return None
