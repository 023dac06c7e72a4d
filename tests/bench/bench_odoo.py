"""Sync 100,000 invoices for 20,000 customers from a local fake Odoo (50 ms latency).

Targets: initial sync ≤ 250 calls (one per page of each model plus version and login),
an incremental sync with no change ≤ 1 call per model, RSS flat in N.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

N, CUSTOMERS = int(os.environ.get("BENCH_N", 100_000)), int(os.environ.get("BENCH_C", 20_000))


def run() -> dict[str, float]:
    from hub.demo.smtp import free_port
    from hub.sync.engine import sync_connection
    from hub.workspace import Workspace
    from tests.fakes.odoo_server import FakeOdoo

    port = free_port()
    fake = FakeOdoo(invoices=N, partners=CUSTOMERS, version=17, latency=0.05).serve(port)
    root = Path(tempfile.mkdtemp(prefix="relance-bench-odoo-"))
    (root / "relance.yaml").write_text(f"""
company: {{name: Bench, country: FR, timezone: Europe/Paris}}
connections:
  books:
    plugin: odoo
    settings: {{url: "http://127.0.0.1:{port}", database: bench, login: ar, api_key: "{'k' * 40}"}}
""")
    ws = Workspace.open(root)
    t0 = time.perf_counter()
    report = asyncio.run(sync_connection(ws, "books"))
    initial = time.perf_counter() - t0
    assert report.ok and report.invoices == N, report
    initial_calls = fake.calls
    fake.calls = 0
    again = asyncio.run(sync_connection(ws, "books"))
    assert again.ok and again.invoices == 0, (again, ws.engine)
    print(f"  initial: {initial_calls} calls, {initial:.1f}s; no-change incremental: "
          f"{fake.calls} calls", flush=True)
    fake.server.should_exit = True
    return {"odoo_initial_100k_calls": initial_calls, "odoo_initial_100k_seconds": round(initial, 1),
            "odoo_incremental_nochange_calls": fake.calls, "odoo_sync_peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    emit(run())
