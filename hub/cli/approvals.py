"""approvals, approve, reject: the queue of what a person must see before it goes."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    cmd,
    console,
    fail,
    open_workspace,
    parse_amount,
    print_json,
    run_guarded,
)

IdsArg = typer.Argument(None, help="dispatch ids (or filter with the options)")
ScenarioOpt = typer.Option(None, "--scenario", help="only this scenario")
StepOpt = typer.Option(None, "--step", help="only this step id or template")
CustomerOpt = typer.Option(None, "--customer", help="only this customer (name, code or ledger id)")
AboveOpt = typer.Option(None, "--above", help="only amounts above this")
BelowOpt = typer.Option(None, "--below", help="only amounts below this")
ByOpt = typer.Option(None, "--by", help="who (default: your user name)")


def register(app: typer.Typer) -> None:
    app.command()(approvals)
    app.command()(approve)
    app.command()(reject)


def _filter(ids, scenario, step, customer, above, below):
    from hub.send.approvals import QueueFilter

    return QueueFilter(ids=ids or None, scenario=scenario, step=step, customer=customer,
                       above=parse_amount(above, "--above"), below=parse_amount(below, "--below"))


def approvals(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
              scenario: str = ScenarioOpt, step: str = StepOpt, customer: str = CustomerOpt,
              above: str = AboveOpt, below: str = BelowOpt,
              full: bool = typer.Option(False, "--full", help="each message in full")):
    """The approval queue: each waiting reminder, why it waits, and the message it would send."""
    from hub.money import fmt_amounts
    from hub.send.approvals import waiting

    which = _filter(None, scenario, step, customer, above, below)
    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    rows = run_guarded(lambda: waiting(ws, which))
    if as_json:
        return print_json(rows)
    if not rows:
        return console.print("Nothing is waiting for approval.")
    locale = ws.config.company.babel_locale
    for r in rows:
        amount = fmt_amounts({r["currency"]: r["amount"]}, locale) if r["amount"] is not None \
            else "several currencies"
        console.print(f"[bold]#{r['id']}[/] {r['customer']} · {r['scenario']}/{r['step']} via "
                      f"{r['channel']} · {amount} · {r['invoices']} invoice(s)", highlight=False)
        console.print(f"  waits for: {r['why']}", highlight=False, markup=False)
        text = r["text"].strip()
        if not full:
            lines = text.splitlines()
            text = "\n".join(lines[:8]) + (f"\n… ({len(lines) - 8} more lines: --full)"
                                           if len(lines) > 8 else "")
        console.print(f"  subject: {r['subject']}", highlight=False, markup=False)
        console.print("    " + text.replace("\n", "\n    ") + "\n", highlight=False, markup=False)
    console.print(f"{len(rows)} waiting. {cmd(workspace, 'approve ID…')} or "
                  f"{cmd(workspace, 'reject ID… --reason …')} (filters: --step, --scenario, "
                  f"--customer, --above, --below).", highlight=False)


def approve(ids: list[int] = IdsArg,
            all_: bool = typer.Option(False, "--all", help="approve every waiting dispatch"),
            scenario: str = ScenarioOpt, step: str = StepOpt, customer: str = CustomerOpt,
            above: str = AboveOpt, below: str = BelowOpt, by: str = ByOpt,
            workspace: Path = WorkspaceOpt):
    """Approve waiting reminders: by id, by filter, or --all. They go in the next cycle."""
    from hub.send.approvals import approve as do_approve

    which = _filter(ids, scenario, step, customer, above, below)
    if which.empty and not all_:
        raise fail("give dispatch ids, a filter or --all (see the queue with "
                   f"{cmd(workspace, 'approvals')})")
    ws = run_guarded(lambda: open_workspace(workspace))
    n = do_approve(ws, which, by=by)
    console.print(f"{n} dispatch(es) approved; {cmd(workspace, 'run')} sends them.")


def reject(ids: list[int] = IdsArg,
           reason: str = typer.Option(..., "--reason", help="why (kept in the history)"),
           scenario: str = ScenarioOpt, step: str = StepOpt, customer: str = CustomerOpt,
           above: str = AboveOpt, below: str = BelowOpt, by: str = ByOpt,
           workspace: Path = WorkspaceOpt):
    """Reject waiting reminders (by id or filter): they are cancelled with the reason."""
    from hub.send.approvals import reject as do_reject

    which = _filter(ids, scenario, step, customer, above, below)
    if which.empty:
        raise fail("give dispatch ids or a filter (see the queue with "
                   f"{cmd(workspace, 'approvals')})")
    ws = run_guarded(lambda: open_workspace(workspace))
    n = run_guarded(lambda: do_reject(ws, which, reason, by=by))
    console.print(f"{n} dispatch(es) rejected and cancelled: {reason}", highlight=False)
