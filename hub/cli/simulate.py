"""`relance simulate`: what the scenarios would do over the coming days, sending nothing."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import JsonOpt, WorkspaceOpt, console, fail, open_workspace, parse_day, print_json, run_guarded


def register(app: typer.Typer) -> None:
    app.command()(simulate)


def simulate(start: str = typer.Option(None, "--from", help="first day (default today)"),
             end: str = typer.Option(None, "--to", help="last day (default 30 days on)"),
             customer: str = typer.Option(None, "--customer", help="only this customer's rows"),
             scenario: str = typer.Option(None, "--scenario", help="only this scenario"),
             assume_paid: bool = typer.Option(False, "--assume-paid",
                                              help="every promise is kept on its date"),
             workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Replay the scenarios day by day on a copy of the data: who would get what, when, why.

    Nobody pays in the simulation (unless --assume-paid), every approval is granted, and
    nothing is sent or written to your store."""
    import datetime as dt

    from hub.clock import today_in
    from hub.reports.simulate import simulate as run

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    first = parse_day(start, "--from") or today_in(ws.config.company.timezone)
    last = parse_day(end, "--to") or first + dt.timedelta(days=30)
    if (last - first).days > 366:
        raise fail("simulate at most a year at a time (--from … --to …)")
    if scenario and scenario not in ws.config.scenarios:
        raise fail(f"no scenario {scenario!r} (defined: {', '.join(ws.config.scenarios)})")
    rows = run_guarded(lambda: run(ws, first, last, scenario=scenario, customer=customer,
                                   assume_paid=assume_paid))
    if as_json:
        return print_json(rows)
    if not rows:
        return console.print(f"Nothing would happen from {first} to {last}.")
    locale = ws.config.company.babel_locale
    t = Table(title=f"Simulated {first} → {last}: {sum(1 for r in rows if r['step'])} "
                    "reminder(s)")
    for col in ("date", "customer", "step", "channel", "invoices", "amount", "why"):
        t.add_column(col, overflow="fold")
    for r in rows:
        inv = ", ".join(r["invoices"][:3]) + (f" +{len(r['invoices']) - 3}"
                                              if len(r["invoices"]) > 3 else "")
        t.add_row(str(r["date"]), r["customer"], f"{r['scenario']}/{r['step']}" if r["step"]
                  else "—", r["channel"] or "", inv, shown_amount(r, locale), r["why"])
    console.print(t)
    return None


def shown_amount(row: dict, locale: str) -> str:
    """A simulated row's amount in the company's locale (blank: several currencies, or none)."""
    from hub.money import fmt

    return fmt(row["amount"], row["currency"], locale) if row["amount"] is not None else ""


scenarios_app = typer.Typer(help="Check the scenarios against the data.", no_args_is_help=True)


@scenarios_app.command("lint")
def lint(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Steps out of order, conditions that hold for no invoice, templates missing in a
    customer's language, scenarios no customer reaches. Exit code 1 when any is found."""
    from hub.clock import today_in
    from hub.reports.lint import lint as run

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    found = run_guarded(lambda: run(ws, today_in(ws.config.company.timezone)))
    if as_json:
        print_json(found)
    else:
        for f in found:
            console.print(f"{f['place']}: {f['level']}: {f['message']}", highlight=False,
                          markup=False)
        console.print(f"{len(found)} finding(s)" if found else "The scenarios look right.")
    if found:
        raise typer.Exit(1)
