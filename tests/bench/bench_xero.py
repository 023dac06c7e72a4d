"""Sync 100,000 invoices (20,000 contacts) from a local fake Xero with 50 ms latency:
without limits, then with Xero's per-tenant limits enforced (5 concurrent, 60 calls in
any 60 s, 429 + Retry-After), then incremental syncs with 0 and 100 changes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit, peak_rss_mb

N, CONTACTS = int(os.environ.get("BENCH_N", 100_000)), int(os.environ.get("BENCH_C", 20_000))


def workspace(port: int, enforce: bool = True):
    from hub.workspace import Workspace
    from hub.workspace.auth import DbTokenStore

    root = Path(tempfile.mkdtemp(prefix="relance-bench-xero-"))
    (root / "relance.yaml").write_text(f"""
company: {{name: Bench, country: GB, timezone: Europe/London}}
connections:
  xero:
    plugin: xero
    settings: {{client_id: cid, client_secret: cs, base_url: "http://127.0.0.1:{port}",
               enforce_limits: {str(enforce).lower()}}}
""")
    ws = Workspace.open(root)
    DbTokenStore(ws.engine, "xero", ws.box, plugin="xero").save(
        {"access_token": "A", "refresh_token": "R", "expires_at": time.time() + 7200,
         "tenant_id": "7a513ee4-4e1e-4a4c-9e5b-1e1d2e0a0a11"})
    return ws


def initial(limits: bool) -> tuple[float, int, int, object]:
    from hub.demo.smtp import free_port
    from hub.sync.engine import sync_connection
    from tests.fakes.xero_server import FakeXero

    port = free_port()
    fake = FakeXero(invoices=N, contacts=CONTACTS, credit_notes=10, latency=0.05, limits=limits).serve(port)
    # Without limits the fake allows anything and the connector's own pacing is switched
    # off (enforce_limits: false), to measure the pipeline; with limits, the defaults.
    ws = workspace(port, enforce=limits)
    t0 = time.perf_counter()
    report = asyncio.run(sync_connection(ws, "xero"))
    seconds = time.perf_counter() - t0
    assert report.ok and report.invoices >= N, report
    return seconds, fake.calls, fake.throttled, (fake, ws)


def run() -> dict[str, float]:
    from hub.sync.engine import sync_connection

    free_s, calls, _, (fake, _) = initial(limits=False)
    fake.server.should_exit = True
    print(f"  initial without limits: {calls} calls, {free_s:.1f}s", flush=True)
    limited_s, limited_calls, throttled, (fake, ws) = initial(limits=True)
    print(f"  initial with Xero's limits: {limited_calls} calls, {limited_s:.1f}s, {throttled} × 429",
          flush=True)
    fake.limits = False
    fake.calls = 0
    asyncio.run(sync_connection(ws, "xero"))
    nochange = fake.calls
    for i in range(1, 101):
        fake.change(i * 7, AmountDue=60.0, AmountPaid=60.0)
    fake.calls = 0
    report = asyncio.run(sync_connection(ws, "xero"))
    assert report.invoices == 100, report
    changes = fake.calls
    print(f"  incremental: {nochange} call(s) with no change, {changes} with 100 changes", flush=True)
    fake.server.should_exit = True
    return {"xero_initial_100k_calls": calls, "xero_initial_100k_seconds": round(free_s, 1),
            "xero_initial_100k_limited_seconds": round(limited_s, 1),
            "xero_initial_100k_limited_429s": throttled,
            "xero_incremental_nochange_calls": nochange, "xero_incremental_100_changes_calls": changes,
            "xero_sync_peak_rss_mb": peak_rss_mb(),
            # the same unlimited initial sync alone, at 25k and 200k invoices: RSS should not
            # grow with the ledger (pages are streamed and committed one by one)
            **{f"xero_sync_{n // 1000}k_peak_rss_mb": rss_at(n) for n in (25_000, 200_000)}}


def rss_only() -> None:
    """One unlimited initial sync of BENCH_N invoices; prints this process's peak RSS."""
    initial(limits=False)[3][0].server.should_exit = True
    print(peak_rss_mb(), flush=True)


def rss_at(invoices: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", "from tests.bench.bench_xero import rss_only; rss_only()"],
        env={**os.environ, "BENCH_N": str(invoices), "BENCH_C": str(invoices // 5)},
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    mb = float(out.stdout.strip().splitlines()[-1])
    print(f"  initial sync of {invoices:,} invoices alone: peak RSS {mb} MB", flush=True)
    return mb


if __name__ == "__main__":
    emit(run())
