"""The demo: a workspace with sample data, a real local SMTP server, one full cycle.

Everything runs on loopback; nothing leaves the machine. A second run finds every due
reminder already sent and says so — the at-most-once invariant, visible.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from pathlib import Path

from hub.cli.common import console, err_console

STARTER = Path(__file__).parent / "demo.yaml"
# Left in the workspace: the channels whose servers the demo itself runs, and only while
# it runs (its SMTP server). `relance doctor` expects them to be unreachable in between.
MARKER = ".relance-demo"
DEMO_SERVED = ("email",)


def demo_served_channels(root: Path) -> set[str]:
    """The channels of `root` served by `relance demo` itself (none outside a demo)."""
    marker = root / MARKER
    if not marker.exists():
        return set()
    return {line.strip() for line in marker.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


DEMO_PLAN_ROWS = 12


def sample_rows(rows: list, limit: int) -> list:
    """A short preview that still shows every (step, channel) once, in the plan's order."""
    firsts = {}
    for i, r in enumerate(rows):
        firsts.setdefault((r.step, r.channel), i)
    keep = set(sorted(firsts.values())[:limit])
    rest = [i for i in range(len(rows)) if i not in keep]
    keep.update(rest[:max(0, limit - len(keep))])
    return [r for i, r in enumerate(rows) if i in keep]


def pay_one(export: Path, preview: list) -> tuple[str, str] | None:
    """Mark one invoice of today's plan paid in the export, as a customer paying between
    the plan and the send would: the demo then shows the fresh-check dropping it."""
    import csv

    row = next((r for r in preview if r.channel == "email" and len(r.invoices) == 1), None)
    if row is None:
        return None
    with export.open(newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    header = lines[0]
    number, status, due = (header.index(c) for c in ("invoice_number", "status", "amount_due"))
    for line in lines[1:]:
        if line[number] == row.invoices[0]:
            line[status], line[due] = "paid", "0"
    with export.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(lines)
    return row.customer, row.invoices[0]


def prepare(root: Path, today: dt.date, *, reset: bool = False) -> bool:
    """Create the workspace files; True when they were new."""
    if reset and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    fresh = not (root / "relance.yaml").exists()
    if fresh:
        (root / "relance.yaml").write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
        (root / MARKER).write_text(
            "# made by `relance demo`: these channels' servers run only during the demo\n"
            + "".join(f"{name}\n" for name in DEMO_SERVED), encoding="utf-8")
    if not (root / "invoices.csv").exists():
        from hub.demo.sample import write_sample

        write_sample(root / "invoices.csv", today)
    return fresh


def run_demo(root: Path, *, reset: bool = False) -> dict:
    from hub.cli.pipeline import plan_table
    from hub.cli.reports import print_aging
    from hub.cli.summary import print_summary
    from hub.demo.fakes import FakeProviders
    from hub.demo.smtp import LocalSMTP
    from hub.money import fmt_number as fmt
    from hub.plan.planner import plan
    from hub.reports.figures import BUCKETS, aging
    from hub.serve.cycle import daily_cycle
    from hub.store.records import today_in
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
                preview = plan(ws, dry_run=True).preview
                if preview:
                    shown = sample_rows(preview, DEMO_PLAN_ROWS)
                    console.print(plan_table(shown, f"Today's plan: {len(preview)} reminders"))
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

        summary = asyncio.run(go())
        summary["fake_sms"], summary["fake_links"] = len(fakes.sms), len(fakes.links)
    print_summary(summary)
    if summary["sent"] == 0:
        console.print("[green]Second run: nothing new was sent[/] — each step goes out at most "
                      "once per invoice. `--reset` starts over.")
    data = aging(ws, today)
    print_aging(data, today, ws.config.company.babel_locale, fmt, BUCKETS)
    emls = sorted(outbox.glob("*.eml"))
    console.print(f"{len(emls)} e-mail(s) in {outbox}/ (open one with any mail reader), "
                  f"{summary['fake_sms']} SMS and {summary['fake_links']} payment link(s) this run; "
                  f"letters in {root / 'letters'}/, agency bundles in {root / 'handoff'}/, "
                  "call tasks: `relance tasks list -w " + str(root) + "`")
    console.print(f"Next: `relance status -w {root}`, `relance history -w {root}`, "
                  f"`relance report aging -w {root} --json`")
    err_console.print("")
    return summary
