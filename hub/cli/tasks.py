"""`relance tasks`: the calls to make, and what the customers said."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

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

app = typer.Typer(help="Phone-call tasks: list them, record outcomes.", no_args_is_help=True)


@app.command("list")
def list_(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
          all_: bool = typer.Option(False, "--all", help="include done tasks")):
    """Open call tasks (with --all, done ones too)."""
    from hub.feedback.call_tasks import list_tasks
    from hub.store.db import session
    from hub.store.models import Customer

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    with session(ws.engine) as s:
        tasks = list_tasks(s, None if all_ else "open")
        names = {c.id: c.name for c in s.query(Customer).filter(
            Customer.id.in_([t.customer_id for t in tasks]))}
    if as_json:
        return print_json([t.model_dump() | {"customer": names.get(t.customer_id)} for t in tasks])
    if not tasks:
        return console.print("No call task to do.")
    t = Table(title="Call tasks")
    for col in ("id", "customer", "title", "created", "status", "outcome"):
        t.add_column(col, overflow="fold")
    for task in tasks:
        t.add_row(str(task.id), names.get(task.customer_id, "?"), task.title,
                  f"{task.created_at:%Y-%m-%d}", task.status, task.outcome or "")
    console.print(t)


@app.command("show")
def show(task_id: int, workspace: Path = WorkspaceOpt):
    """The call script of one task."""
    from hub.store.db import session
    from hub.store.models import Task

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    with session(ws.engine) as s:
        task = s.get(Task, task_id)
    if task is None:
        raise fail(f"no task {task_id}: see {cmd(workspace, 'tasks list')}")
    console.print(task.script, highlight=False, markup=False)


@app.command("done")
def done(task_id: int,
         outcome: str = typer.Option(..., "--outcome", help="promised | disputed | no_answer | paid"),
         until: str = typer.Option(None, "--until", help="promised payment date YYYY-MM-DD"),
         reason: str = typer.Option(None, "--reason", help="why the customer disputes"),
         amount: str = typer.Option(None, "--amount", help="the amount promised or disputed "
                                                           "(default: all of it)"),
         by: str = typer.Option(None, "--by", help="who took the call (default: your user name)"),
         workspace: Path = WorkspaceOpt):
    """Record the outcome of a call: a promise or a dispute opens a case state (see
    `relance case list`); paid holds the invoices as paid until the ledger says so."""
    from hub.errors import PermanentError
    from hub.feedback.call_tasks import complete_task
    from hub.store.db import session

    date = parse_day(until, "--until")
    money = parse_amount(amount, "--amount")
    ws = run_guarded(lambda: open_workspace(workspace))
    try:
        with session(ws.engine) as s:
            complete_task(s, task_id, outcome, until=date, reason=reason, amount=money, by=by)
    except PermanentError as exc:
        raise fail(str(exc)) from None
    console.print(f"task {task_id}: {outcome}" + (f" until {date}" if date else ""))
