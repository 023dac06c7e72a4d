"""sync, plan, run, resolve, retry: the daily job, step by step or all at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    cmd,
    console,
    fail,
    is_tty,
    open_workspace,
    parse_day,
    print_json,
    progress,
    run_guarded,
)
from hub.cli.summary import print_closed_day, print_summary, print_sync
from hub.errors import PermanentError


def register(app: typer.Typer) -> None:
    app.command()(sync)
    app.command()(plan)
    app.command()(run)
    app.command()(resolve)
    app.command()(retry)


async def _sync(ws, names, full, accept_shrink=False):
    from hub.sync.engine import sync_connection

    reports = []
    for name in names or list(ws.config.connections):
        with progress(f"sync {name}") as update:
            reports.append(await sync_connection(
                ws, name, full=full, accept_shrink=accept_shrink,
                on_page=lambda r: update(r.records, f"{r.pages} pages")))
    return reports


def sync(connections: list[str] = typer.Argument(None, help="connections to sync (default: all)"),
         full: bool = typer.Option(False, "--full", help="ignore the cursor: read everything"),
         accept_shrink: bool = typer.Option(
             False, "--accept-shrink", help="a complete export that lists far fewer open "
                                            "invoices than the store is right: close the rest"),
         workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Read changed customers, invoices and payments from each connection."""
    ws = run_guarded(lambda: open_workspace(workspace))
    reports = asyncio.run(_with_close(ws, _sync(ws, connections, full, accept_shrink)))
    if as_json:
        print_json([r.__dict__ | {"records": r.records} for r in reports])
    else:
        print_sync(reports, workspace)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


async def _with_close(ws, coro):
    try:
        return await coro
    finally:
        await ws.aclose()


def plan_table(rows, title: str, locale: str) -> Table:
    """One money format in the table: the company's locale, whoever the customer is."""
    from hub.money import fmt_amounts

    t = Table(title=title, show_lines=False)
    for col in ("#", "customer", "scenario/step", "channel", "invoices", "amount", "why"):
        t.add_column(col, overflow="fold", no_wrap=col in ("#", "amount"))
    for r in rows:
        inv = ", ".join(r.invoices[:4]) + (f" +{len(r.invoices) - 4}" if len(r.invoices) > 4 else "")
        # the step and scenario have their column: the table keeps the reason itself
        why = r.why.split(": ", 1)[-1] if r.why.startswith(f"step {r.step} of") else r.why
        if "segments" in r.extra:
            why += f" · {r.extra['segments']} SMS segment(s), {r.extra.get('encoding')}"
        if r.extra.get("problems"):
            why += " · [red]" + "; ".join(r.extra["problems"]) + "[/]"
        t.add_row(str(r.dispatch_id), r.customer, f"{r.scenario}/{r.step}",
                  f"{r.channel} ({r.template})", inv, fmt_amounts(r.amounts, locale), why)
    return t



def plan(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
         date: str = typer.Option(None, "--date", help="plan as of this day (YYYY-MM-DD)"),
         scenario: list[str] = typer.Option(None, "--scenario", help="only these scenarios"),
         peaks: bool = typer.Option(False, "--peaks", help="the next 30 days: reminders per "
                                                          "day (simulated), peaks marked")):
    """Preview today's reminders: who gets what, through which channel, and why (changes nothing)."""
    from hub.send.preview import preview_plan

    ws = run_guarded(lambda: open_workspace(workspace))
    if peaks:
        return _peaks(ws, parse_day(date), as_json)
    report = run_guarded(lambda: preview_plan(ws, today=parse_day(date), scenarios=scenario))
    rows = report.preview
    if as_json:
        print_json({"date": report.today, "dispatches": [r.as_json() for r in rows],
                    "changes": report.diff, "closed_today": report.closed})
        return
    if not rows:
        console.print(f"Nothing new is due on {report.today}.")
    else:
        console.print(plan_table(rows, f"Plan for {report.today}: {len(rows)} reminders",
                                 ws.config.company.babel_locale))
    if report.closed:
        print_closed_day(report.today, report.closed)
    console.print(diff_line(report.diff, workspace), highlight=False)


def _peaks(ws, day, as_json: bool) -> None:
    """Days ahead with unusually many reminders: move steps (a `blackout`) to smooth them."""
    from hub.clock import today_in
    from hub.reports.simulate import peaks

    rows = run_guarded(lambda: peaks(ws, day or today_in(ws.config.company.timezone)))
    if as_json:
        return print_json(rows)
    top = max((r["reminders"] for r in rows), default=0) or 1
    for r in rows:
        bar = "█" * round(30 * r["reminders"] / top)
        console.print(f"{r['date']:%a %Y-%m-%d} {r['reminders']:>5} {bar}"
                      + ("  [bold red]peak[/]" if r["peak"] else ""), highlight=False)
    n = sum(r["peak"] for r in rows)
    console.print(f"{n} peak day(s) in the next {len(rows)}" + (
        " (over twice the median busy day): a scenario `blackout` or other offsets spread them"
        if n else ""))
    return None


def diff_line(diff: dict[str, int], workspace) -> str:
    """\"12 new (2 wait for approval), 3 earlier ones will not go: paid since planned, …\"."""
    parts = [f"{diff.get('new', 0)} new" + (f" ({diff['new_waiting_for_approval']} wait for "
                                             "approval)" if diff.get("new_waiting_for_approval")
                                             else "")]
    for key, words in (
            ("suppressed_by_account", "customer(s) not reminded: credits or the minimum amount"),
            ("held_by_case_states", f"invoice(s) held by a case state "
                                    f"({cmd(workspace, 'case list')})"),
            ("paid_since_planned", "earlier reminder(s) will not go: paid since they were planned"),
            ("earlier_waiting_for_approval", f"earlier one(s) still wait for approval "
                                             f"({cmd(workspace, 'approvals')})")):
        if diff.get(key):
            parts.append(f"{diff[key]} {words}")
    return "; ".join(parts) + "."


def run(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
        dry_run: bool = typer.Option(False, "--dry-run", help="plan and show, send nothing"),
        no_sync: bool = typer.Option(False, "--no-sync", help="skip the sync step"),
        limit: int = typer.Option(None, "--limit", help="send at most N dispatches")):
    """Sync, plan and send what is due (the daily cycle)."""
    if dry_run:
        return plan(workspace=workspace, as_json=as_json, date=None, scenario=None)
    ws = run_guarded(lambda: open_workspace(workspace))
    summary = asyncio.run(_with_close(ws, _cycle(ws, not no_sync, limit, quiet=as_json)))
    if as_json:
        print_json(summary)
    else:
        print_summary(summary, workspace, ws.config.company.babel_locale)
    if cycle_failed(summary):  # cron and monitors read the exit code
        raise typer.Exit(1)


def cycle_failed(summary: dict) -> bool:
    """A connection that could not be read, or a dispatch that failed, is a failed run."""
    return (any(not s["ok"] for s in summary["sync"]) or summary["failed"] > 0
            or summary["uncertain"] > 0 or bool(summary["errors"]))


async def _cycle(ws, do_sync: bool, limit: int | None, quiet: bool = False) -> dict:
    from hub.serve.cycle import daily_cycle

    if quiet or not is_tty():
        return await daily_cycle(ws, sync=do_sync, limit=limit)
    with progress("send") as update:
        return await daily_cycle(ws, sync=do_sync, limit=limit,
                                 on_progress=lambda r: update(r.sent + r.failed, f"sent {r.sent}"))


def resolve(ids: list[int] = typer.Argument(None, help="dispatch ids (or --uncertain)"),
            all_uncertain: bool = typer.Option(False, "--uncertain",
                                               help="every uncertain dispatch (with --channel)"),
            channel: str = typer.Option(None, "--channel", help="only this channel's"),
            sent: bool = typer.Option(False, "--sent", help="it was delivered: mark sent"),
            resend: bool = typer.Option(False, "--resend", help="it was not: send it again"),
            cancel: bool = typer.Option(False, "--cancel", help="drop it"),
            workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Settle `uncertain` dispatches (a crash or timeout mid-send) after checking the channel.

    With no choice, lists them with their recipient and provider reference (Message-ID)."""
    from hub.send.approvals import resolve as do_resolve
    from hub.send.approvals import uncertain

    choice = [k for k, v in (("sent", sent), ("resend", resend), ("cancel", cancel)) if v]
    ws = run_guarded(lambda: open_workspace(workspace))
    if not choice:
        rows = uncertain(ws, channel)
        if as_json:
            return print_json(rows)
        for r in rows:
            console.print(f"{r['id']} {r['channel']} {r['step']} to {r['customer']} "
                          f"<{r['recipient'] or '?'}> ref {r['provider_ref'] or '-'} key "
                          f"{r['idempotency_key']}: {r['error'] or ''}", highlight=False)
        console.print(f"{len(rows)} uncertain; settle with "
                      f"{cmd(workspace, 'resolve ID… --sent|--resend|--cancel')} (or --uncertain "
                      "instead of the ids)", highlight=False)
        return None
    if len(choice) != 1:
        raise fail("choose exactly one of --sent, --resend, --cancel")
    if all_uncertain:
        ids = [r["id"] for r in uncertain(ws, channel)]
    if not ids:
        raise fail(f"give dispatch ids, or --uncertain (see them with {cmd(workspace, 'resolve')})")
    failed = 0
    for dispatch_id in ids:
        try:
            do_resolve(ws, dispatch_id, choice[0])
            console.print(f"dispatch {dispatch_id}: {choice[0]}")
        except PermanentError as exc:
            failed += 1
            console.print(f"[red]✗[/] {exc}", highlight=False)
    if failed:
        raise typer.Exit(1)
    return None


def retry(ids: list[int] = typer.Argument(None, help="failed dispatch ids"),
          all_failed: bool = typer.Option(False, "--failed", help="every failed dispatch"),
          workspace: Path = WorkspaceOpt):
    """Send failed dispatches again once the cause is fixed (a template, an address, a key)."""
    from hub.send.approvals import retry as do_retry

    if not ids and not all_failed:
        raise fail("give dispatch ids or --failed (see them with "
                   f"{cmd(workspace, 'history --kind failed')})")
    ws = run_guarded(lambda: open_workspace(workspace))
    n = do_retry(ws, None if all_failed else ids)
    console.print(f"{n} failed dispatch(es) approved again; {cmd(workspace, 'run')} sends them.")
