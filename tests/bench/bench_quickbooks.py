"""Sync 100,000 invoices from a local fake QuickBooks Online (50 ms latency).

Targets: ≤ 105 calls for the initial load (1,000 per page), 1 call for an incremental
sync with no change, RSS flat in N (pages are committed as they come).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

N = int(os.environ.get("BENCH_N", 100_000))


def run() -> dict[str, float]:
    from hub.demo.smtp import free_port
    from hub.sync.engine import sync_connection
    from hub.workspace import Workspace
    from hub.workspace.auth import DbTokenStore
    from tests.fakes.quickbooks_server import FakeQuickBooks

    port = free_port()
    fake = FakeQuickBooks(invoices=N, customers=2500, credit_memos=500, latency=0.05).serve(port)
    root = Path(tempfile.mkdtemp(prefix="relance-bench-qbo-"))
    (root / "relance.yaml").write_text(f"""
company: {{name: Bench, country: US, timezone: America/Los_Angeles}}
connections:
  qbo:
    plugin: quickbooks
    settings: {{client_id: cid, client_secret: cs, base_url: "http://127.0.0.1:{port}"}}
""")
    ws = Workspace.open(root)
    DbTokenStore(ws.engine, "qbo", ws.box, plugin="quickbooks").save(
        {"access_token": "A", "refresh_token": "R", "expires_at": time.time() + 7200,
         "realmId": "9130"})
    t0 = time.perf_counter()
    report = asyncio.run(sync_connection(ws, "qbo"))
    initial = time.perf_counter() - t0
    assert report.ok and report.invoices == N + 500, report
    calls, fake.calls = fake.calls, 0
    again = asyncio.run(sync_connection(ws, "qbo"))
    assert again.ok and again.invoices == 0, again
    print(f"  initial: {calls} calls in {initial:.1f}s; incremental (no change): {fake.calls} call(s)",
          flush=True)
    fake.server.should_exit = True
    return {"quickbooks_initial_100k_calls": calls, "quickbooks_initial_100k_seconds": round(initial, 1),
            "quickbooks_incremental_nochange_calls": fake.calls,
            "quickbooks_sync_peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    emit(run())
