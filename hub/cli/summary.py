"""Printing sync reports and cycle summaries for a person."""

from __future__ import annotations

from rich.table import Table

from hub.cli.common import cmd, console
from hub.money import fmt_amounts


def print_closed_day(day, scenarios: list[str]) -> None:
    """Why a scenario planned nothing today (`PlanReport.closed`)."""
    console.print(f"{day:%A %d %B} is a closed day (weekend or public holiday) for every "
                  f"debtor of {', '.join(scenarios)}: its steps go out on their next open day "
                  "(`closed_days: ignore` in a scenario sends on any day).", highlight=False)


def print_summary(summary: dict, workspace, locale: str = "en_GB") -> None:
    for s in summary["sync"]:
        mark = "[green]✓[/]" if s["ok"] else "[red]✗[/]"
        line = f"{mark} sync {s['connection']}: {s['invoices']} invoices, {s['customers']} customers"
        if s["problems"]:
            line += f", [yellow]{len(s['problems'])} rows skipped[/]"
        console.print(line)
        for p in s["problems"][:5]:
            console.print(f"   [yellow]skipped[/] {p}", highlight=False)
        if s["error"]:
            console.print(f"   [red]{s['error']}[/]", highlight=False)
        if s["skipped"]:
            console.print(f"   [yellow]{s['skipped']}[/]", highlight=False)
    console.print(f"planned {summary['planned']} new dispatch(es) for {summary['date']}")
    # the outbox as the cycle left it (this run's and earlier runs' work), and this run's retries
    waiting = {k: n for k, n in summary["waiting"].items() if n}
    if summary["retried"]:
        waiting["retried"] = summary["retried"]
    closed = summary.get("closed_today")
    if closed:  # not "all gone out": steps wait for the debtors' next open day
        print_closed_day(summary["date"], closed)
    if summary["sent"] == 0 and summary["planned"] == 0 and not waiting \
            and all(s["ok"] for s in summary["sync"]) and not closed:
        console.print("[bold]Nothing new to send[/] — every due reminder has already gone out.")
    elif summary["sent"] == 0:
        console.print("[bold yellow]Nothing was sent[/]: " + (", ".join(
            f"{n} {k}" for k, n in waiting.items()) or "a connection could not be read")
            + f" (see {cmd(workspace, 'status')} and {cmd(workspace, 'history')})",
            highlight=False)
    if summary["by_step"]:
        t = Table(title="Sent")
        for col in ("scenario", "step", "channel", "sent"):
            t.add_column(col)
        for row in summary["by_step"]:
            t.add_row(row["scenario"], row["step"], row["channel"], str(row["sent"]))
        console.print(t)
    if summary["amount_reminded"]:
        console.print(f"amount reminded: {fmt_amounts(summary['amount_reminded'], locale)}")
    counts = {k: summary[k] for k in ("sent", "failed", "retried", "held", "cancelled", "uncertain")
              if summary[k]}
    if counts:
        console.print(" · ".join(f"{k} {v}" for k, v in counts.items()))
    for reason, n in summary["hold_reasons"].items():
        console.print(f"[yellow]held[/] {n} × {reason}")
    for e in summary["errors"][:10]:
        console.print(f"[red]✗[/] {e}", highlight=False)


def print_sync(reports, workspace) -> None:
    for r in reports:
        if r.skipped:
            console.print(f"[yellow]{r.connection}[/]: skipped — {r.skipped}")
            continue
        mark = "[green]✓[/]" if r.ok else "[red]✗[/]"
        if r.ok and not (r.records or r.closed or r.problems):
            console.print(f"{mark} {r.connection}: no changes since the last sync")
            continue
        console.print(f"{mark} {r.connection}: {r.invoices} invoices, {r.customers} customers, "
                      f"{r.payments} payments in {r.pages} pages"
                      + (f", {r.closed} closed" if r.closed else ""))
        for p in r.problems[:20]:
            console.print(f"   [yellow]skipped row[/] {p}", highlight=False)
        if len(r.problems) > 20:
            console.print(f"   … and {len(r.problems) - 20} more (see "
                          f"{cmd(workspace, 'history --kind record_problem')})", highlight=False)
        if r.error:
            console.print(f"   [red]{r.error}[/]", highlight=False)
