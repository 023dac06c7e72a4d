"""The dashboard over 1,000,000 invoices and 50,000 customers in SQLite: 50 requests per
page through uvicorn with an HTTP client, signed in (the store of `bench_plan`, planned
once, every reminder waiting for approval).

Figures: `dashboard_overview_p95_ms` (≤ 300), `dashboard_today_p95_ms` (≤ 300: a page of
100 dispatches, each with its rendered message), `dashboard_customer_p95_ms` (≤ 150: 50
customers picked at random). The overview's figures are computed once per change of the
data; `dashboard_overview_cold_ms` is that computation, the first request after a change.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench._common import emit
from tests.bench.bench_plan import CONFIG, N_CUSTOMERS, N_INVOICES, populate

REQUESTS = 50


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return round(times[int(len(times) * 0.95) - 1], 1)


def run() -> dict[str, float]:
    import httpx

    from hub.clock import today_in
    from hub.demo.smtp import free_port
    from hub.plan.planner import plan
    from hub.store.db import session
    from hub.web.users import add_user
    from hub.workspace import Workspace
    from tests import memory_plugins

    root = Path(tempfile.mkdtemp(prefix="relance-bench-dashboard-"))
    (root / "relance.yaml").write_text(CONFIG + "approvals:\n  above: {EUR: 0}\n")
    ws = Workspace.open(root, plugins=(memory_plugins.Plugin(),), entry_points=False)
    t0 = time.perf_counter()
    populate(ws)
    today = today_in(ws.config.company.timezone)
    report = plan(ws, today=today)
    print(f"  {N_INVOICES:,} invoices, {N_CUSTOMERS:,} customers, {report.created:,} "
          f"dispatches waiting, in {time.perf_counter() - t0:.0f}s", flush=True)
    with session(ws.engine, immediate=True) as s:
        add_user(s, "bench", "a bench password", "approver")
    # the real service in its own process, as a user runs it (pages only: no cycles)
    port = free_port()
    env = {**os.environ, "RELANCE_PLUGINS": "tests.memory_plugins_entry",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    server = subprocess.Popen([sys.executable, "-m", "hub", "serve", "-w", str(root),
                               "--no-clock", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as c:
        page = c.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        c.post("/login", data={"username": "bench", "password": "a bench password",
                               "csrf_token": csrf})

        def timed(path: str) -> float:
            t = time.perf_counter()
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            return (time.perf_counter() - t) * 1000
        cold = timed("/")
        overview = [timed("/") for _ in range(REQUESTS)]
        rng = random.Random(5)
        today_page = [timed(f"/today?page={rng.randint(1, 50)}") for _ in range(REQUESTS)]
        print("  today ms:", sorted(round(t) for t in today_page), flush=True)
        assert c.get("/today").text.count('class="card dispatch"') == 100
        customer = [timed(f"/customers/{rng.randint(1, N_CUSTOMERS)}") for _ in range(REQUESTS)]
    server.terminate()
    server.wait(30)
    out = {"dashboard_overview_p95_ms": _p95(overview),
           "dashboard_overview_cold_ms": round(cold, 1),
           "dashboard_today_p95_ms": _p95(today_page),
           "dashboard_customer_p95_ms": _p95(customer)}
    print(f"  overview cold {cold:.0f} ms; p95 overview {out['dashboard_overview_p95_ms']} ms, "
          f"today {out['dashboard_today_p95_ms']} ms, customer "
          f"{out['dashboard_customer_p95_ms']} ms", flush=True)
    return out


if __name__ == "__main__":
    emit(run())
