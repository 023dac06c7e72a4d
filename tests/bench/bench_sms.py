"""1,000 SMS dispatches through the dispatcher to a local fake Twilio (50 ms latency) at a
configured 20 messages/s: the dispatcher must hold the rate (mean within 5 %) with no
idle gaps. Measured from the fake's own receive timestamps."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import itertools
import os
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

N, RATE = 1000, 20.0
CONFIG = f"""
company: {{name: Bench, country: FR, timezone: Europe/Paris, language: fr}}
connections: {{books: {{plugin: csv, settings: {{path: invoices.csv}}}}}}
channels:
  sms:
    plugin: sms_twilio
    settings: {{account_sid: ACbench, auth_token: t, from_number: "+15005550006",
               base_url: "${{BENCH_TWILIO_URL}}"}}
    rate_limit: {RATE:g}/s
    concurrency: 4
scenarios:
  standard: {{steps: [{{at: due+10d, channel: sms, template: short_reminder}}]}}
assign: [{{scenario: standard}}]
"""


def run() -> dict[str, float]:
    from hub.demo.fakes import FakeProviders
    from hub.plan.planner import plan
    from hub.send.dispatcher import Dispatcher
    from hub.sync.engine import sync_all
    from hub.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="relance-bench-sms-"))
    (root / "relance.yaml").write_text(CONFIG)
    due = (dt.date.today() - dt.timedelta(days=12)).isoformat()
    with (root / "invoices.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["invoice_number", "customer_id", "customer_name", "mobile", "country",
                    "amount_due", "due_date"])
        for i in range(N):
            w.writerow([f"F{i:05d}", f"C{i}", f"Client {i}", f"+33 6 12 {i // 100 % 100:02d} "
                        f"{i % 100:02d} 10", "FR", "120.00", due])
    fake = FakeProviders(latency=0.05)
    with fake as url:
        os.environ["BENCH_TWILIO_URL"] = url
        ws = Workspace.open(root)

        async def go():
            await sync_all(ws)
            plan(ws)
            t0 = time.perf_counter()
            report = await Dispatcher(ws).run()
            await ws.aclose()
            return report, time.perf_counter() - t0

        report, seconds = asyncio.run(go())
    stamps = sorted(t for t, _ in fake.sms)
    assert report.sent == N == len(stamps), (report, len(stamps))
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    print(f"  {N} SMS in {seconds:.1f}s; measured {rate:.2f}/s for {RATE:g}/s configured; "
          f"longest gap {max(gaps) * 1000:.0f} ms (nominal {1000 / RATE:.0f} ms)", flush=True)
    return {"sms_1k_seconds": round(seconds, 2),
            "sms_rate_error_pct": round(abs(rate - RATE) / RATE * 100, 2),
            "sms_max_gap_ms": round(max(gaps) * 1000, 1),
            "sms_peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    emit(run())
