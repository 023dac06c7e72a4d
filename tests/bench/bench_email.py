"""Send 2,000 reminders by e-mail through the dispatcher to a real SMTP server in-process.

Target ≥ 200 emails/s with connection reuse. Measures the whole send path: claim
(compare-and-set), fresh-check, render (Jinja2 + Babel), SMTP, state update, audit event.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

N = 2000
CONFIG = """
company: {name: Bench, country: FR, timezone: Europe/Paris, language: fr}
connections: {books: {plugin: csv, settings: {path: invoices.csv}}}
channels:
  email:
    plugin: email
    settings: {host: 127.0.0.1, port: "${BENCH_SMTP_PORT}", security: none,
               from_address: ar@bench.example}
    concurrency: 8
scenarios:
  standard:
    steps: [{at: due+3d, channel: email, template: first_reminder}]
assign: [{scenario: standard}]
"""


def run() -> dict[str, float]:
    from hub.demo.smtp import LocalSMTP
    from hub.plan.planner import plan
    from hub.send.dispatcher import Dispatcher
    from hub.sync.engine import sync_all
    from hub.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="relance-bench-email-"))
    (root / "relance.yaml").write_text(CONFIG)
    due = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    with (root / "invoices.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["invoice_number", "customer_id", "customer_name", "email", "language",
                    "currency", "amount_due", "due_date"])
        for i in range(N):
            w.writerow([f"F{i:05d}", f"C{i}", f"Client {i}", f"c{i}@example.com",
                        "fr" if i % 2 else "en", "EUR", f"{100 + i}.50", due])
    smtp = LocalSMTP(root / "outbox")
    with smtp as port:
        os.environ["BENCH_SMTP_PORT"] = str(port)
        ws = Workspace.open(root)

        async def go():
            await sync_all(ws)
            plan(ws)
            t0 = time.perf_counter()
            report = await Dispatcher(ws).run()
            seconds = time.perf_counter() - t0
            await ws.aclose()
            return report, seconds

        report, seconds = asyncio.run(go())
        received = smtp.received
    assert report.sent == N and received == N, (report, received)
    print(f"  {N} e-mails sent and received in {seconds:.2f}s", flush=True)
    ceiling = channel_only(root)
    print(f"  the channel alone against the same in-process server: {ceiling:.0f}/s "
          "(client and aiosmtpd share one interpreter)", flush=True)
    return {"email_send_per_s": round(N / seconds, 1), "email_channel_only_per_s": round(ceiling, 1),
            "email_peak_rss_mb": peak_rss_mb()}


def channel_only(root: Path) -> float:
    """SMTP alone (no store, no render): the ceiling the in-process server allows."""
    from hub.contracts import CompanyInfo, Message, Recipient
    from hub.demo.smtp import LocalSMTP
    from hub.testing import make_context
    from plugins.email import EmailChannel, EmailSettings

    with LocalSMTP(root / "outbox2") as port:
        ch = EmailChannel(EmailSettings(host="127.0.0.1", port=port, security="none",
                                        from_address="ar@bench.example"), make_context("email"))
        msgs = [Message(idempotency_key=f"k{i}", dispatch_id=i, scenario="s", step="x",
                        template="t", recipient=Recipient(customer_id=i, name=f"C{i}",
                                                          email=f"c{i}@example.com"),
                        company=CompanyInfo(name="Bench"), subject="Relance", text="x" * 800,
                        html="<p>" + "x" * 1500 + "</p>") for i in range(N)]

        async def go():
            t0 = time.perf_counter()
            await asyncio.gather(*(ch.send(m) for m in msgs))
            await ch.aclose()
            return time.perf_counter() - t0

        return N / asyncio.run(go())


if __name__ == "__main__":
    emit(run())
