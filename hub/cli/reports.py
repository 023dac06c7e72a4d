"""status, report aging|dso, history: what happened and what is owed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import func, select

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    cmd,
    console,
    fail,
    open_workspace,
    print_json,
    run_guarded,
)
from hub.cli.formats import FormatOpt, OutputOpt, check_format, emit

report_app = typer.Typer(help="Receivables reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(history)
    app.add_typer(report_app, name="report")


def status(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """Dispatch counts by state, holds, connections and their last sync."""
    from hub.reports.figures import status as get_status

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    data = get_status(ws)
    if as_json:
        return print_json(data)
    t = Table(title="Dispatches")
    for k in data["dispatches"]:
        t.add_column(k, justify="right")
    t.add_row(*[str(v) for v in data["dispatches"].values()])
    console.print(t)
    for reason, n in data["held"].items():
        console.print(f"[yellow]held[/] {n} × {reason}")
    if data["open_tasks"]:
        console.print(f"{data['open_tasks']} open call task(s): {cmd(workspace, 'tasks list')}",
                      highlight=False)
    for c in data["connections"]:
        color = {"ok": "green", "needs_reauth": "red"}.get(c["state"], "yellow")
        console.print(f"connection [bold]{c['name']}[/] ({c['plugin']}): [{color}]{c['state']}[/]"
                      f" — last good sync {c['last_sync_ok_at'] or 'never'}"
                      + (f" — {c['detail']}" if c["detail"] else ""), highlight=False)


def _today(ws, date: str | None) -> dt.date:
    from hub.clock import today_in

    return dt.date.fromisoformat(date) if date else today_in(ws.config.company.timezone)


@report_app.command("aging")
def aging(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
          date: str = typer.Option(None, "--date", help="as of YYYY-MM-DD")):
    """Aged balance per currency: not due, 1–30, 31–60, 61–90, 90+ days."""
    from hub.money import fmt_number as fmt
    from hub.reports.figures import BUCKETS
    from hub.reports.figures import aging as get_aging

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    today = _today(ws, date)
    data = get_aging(ws, today)
    if as_json:
        return print_json({"date": today, "currencies": data})
    print_aging(data, today, ws.config.company.babel_locale, fmt, BUCKETS)


def print_aging(data, today, locale, fmt, buckets) -> None:
    t = Table(title=f"Aged balance at {today}")
    t.add_column("currency")
    for b in (*buckets, "total"):
        t.add_column(b.replace("_", " "), justify="right", no_wrap=True)
    for cur, row in data.items():
        t.add_row(cur, *[fmt(row[b], cur, locale) for b in (*buckets, "total")])
    console.print(t)


@report_app.command("dso")
def dso(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
        days: int = typer.Option(90, "--days", help="length of the sales period of today's figure"),
        method: str = typer.Option("countback", "--method", help="countback | simple (the trend)"),
        months: int = typer.Option(12, "--months", help="months of trend"),
        period: int = typer.Option(3, "--period", help="simple method: months of sales"),
        fmt: str = FormatOpt, output: Path = OutputOpt):
    """Days sales outstanding per currency: today's (countback over the last N days), then
    the month-end trend by the countback or the simple method."""
    from hub.reports.dso import dso_trend
    from hub.reports.figures import dso as get_dso

    check_format(fmt, output)
    if method not in ("countback", "simple"):
        raise fail(f"--method {method!r}: countback or simple")
    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    today = _today(ws, None)
    trend = dso_trend(ws, today, months=months, method=method, period=period)
    if fmt != "table":
        return emit(trend, fmt, output, f"DSO {method}")
    data = get_dso(ws, today, days)
    if as_json:
        return print_json({"date": today, "days": days, "dso": data, "method": method,
                           "trend": trend})
    for cur, row in data.items():
        if row["capped"]:
            console.print(f"{cur}: DSO ≥ {row['days']} days — capped at the {days}-day period: "
                          "its sales do not cover the open receivables; a longer `--days` gives "
                          "the full figure", highlight=False)
        else:
            console.print(f"{cur}: DSO {row['days']} days (countback over {days} days)",
                          highlight=False)
    shown = [{"month": r["month"], "currency": r["currency"], "receivable": r["receivable"],
              "sales": r["sales"], "dso_days": ("≥ " if r["capped"] else "")
              + (str(r["dso_days"]) if r["dso_days"] is not None else "no sales")}
             for r in trend]
    if shown:
        emit(shown, "table", None, f"DSO by month ({method})")


@report_app.command("effectiveness")
def effectiveness(workspace: Path = WorkspaceOpt,
                  since: str = typer.Option(None, "--since", help="reminders sent from "
                                                                  "YYYY-MM-DD (default 180 days)"),
                  fmt: str = FormatOpt, output: Path = OutputOpt):
    """Per scenario step and channel: the share of the reminded amount paid within 7, 14
    and 30 days, and the median days to pay after the reminder."""
    from hub.cli.common import parse_day
    from hub.reports.collection import effectiveness as get

    check_format(fmt, output)
    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    rows = get(ws, _today(ws, None), since=parse_day(since, "--since"))
    if not rows and fmt == "table":
        return console.print("no reminder sent in the period: nothing to measure yet")
    return emit(rows, fmt, output, "Reminder effectiveness")


@report_app.command("collector")
def collector(workspace: Path = WorkspaceOpt,
              ahead: int = typer.Option(7, "--ahead", help="promises due within N days"),
              fmt: str = FormatOpt, output: Path = OutputOpt):
    """A collector's day: open call tasks, promises falling due, disputes, approvals waiting."""
    from hub.reports.collection import collector as get

    check_format(fmt, output)
    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    data = get(ws, _today(ws, None), ahead=ahead)
    if fmt in ("json",):
        return print_json(data) if output is None else emit(
            [{"list": k, **r} for k, rows in data.items() for r in rows], fmt, output, "collector")
    if fmt != "table":  # one flat sheet: each row says which list it belongs to
        flat = [{"list": k, "customer": r.get("customer"), "what": r.get("title") or
                 r.get("reason") or r.get("step"), "amount": r.get("amount"),
                 "date": r.get("until") or r.get("since"), "ref": r.get("task") or r.get("case")}
                for k, rows in data.items() for r in rows]
        return emit(flat, fmt, output, "collector")
    for name, rows in data.items():
        title = name.replace("_", " ")
        if rows:
            emit(rows, "table", None, f"{title} ({len(rows)})")
        else:
            console.print(f"{title}: none", highlight=False)
    return None


def history(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
            kind: str = typer.Option(None, "--kind", help="sent, failed, suppressed, held, …"),
            invoice: str = typer.Option(None, "--invoice", help="an invoice number"),
            limit: int = typer.Option(50, "--limit")):
    """The audit trail: everything sent, skipped, held or changed, and why."""
    from hub.store.db import session
    from hub.store.models import DispatchInvoice, Event, Invoice

    ws = run_guarded(lambda: open_workspace(workspace, read_only=True))
    with session(ws.engine) as s:
        where = []
        if kind:
            where.append(Event.kind == kind)
        if invoice:
            ids = s.execute(select(Invoice.id).where(Invoice.number == invoice)).scalars().all()
            dids = s.execute(select(DispatchInvoice.dispatch_id).where(
                DispatchInvoice.invoice_id.in_(ids))).scalars().all()
            # this invoice's events, and its dispatches' own (not another invoice's in them)
            where.append(Event.invoice_id.in_(ids) | (
                Event.dispatch_id.in_(dids) & Event.invoice_id.is_(None)))
        total = s.execute(select(func.count()).select_from(Event).where(*where)).scalar_one()
        q = select(Event).where(*where).order_by(Event.id.desc()).limit(limit)
        events = list(reversed(s.execute(q).scalars().all()))
    if as_json:
        return print_json([e.model_dump() for e in events])
    if total > len(events):
        console.print(f"… {total - len(events)} older entries hidden (`--limit {total}` shows "
                      "them all)", highlight=False)
    for e in events:
        color = {"error": "red", "warning": "yellow"}.get(e.level, "default")
        console.print(f"{e.at:%Y-%m-%d %H:%M} [{color}]{e.kind:12}[/] "
                      f"{'#' + str(e.dispatch_id) if e.dispatch_id else '':6} {e.message}",
                      highlight=False)
