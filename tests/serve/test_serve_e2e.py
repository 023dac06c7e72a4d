"""`relance serve` as a real subprocess: sync, cycle, signed webhook, metrics, SIGTERM,
and a second process as a hot standby that takes over when the first dies."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.demo.smtp import free_port
from tests.serve.fake_ledger import LedgerServer, sign

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ("{% block subject %}Reminder{% endblock %}\n"
            "{% block text %}{% for i in invoices %}{{ i.number }} {% endfor %}{% endblock %}\n")


def write_workspace(root: Path, ledger_port: int, port: int, **serve) -> None:
    (root / "templates" / "en").mkdir(parents=True)
    (root / "templates" / "en" / "nudge.j2").write_text(TEMPLATE)
    due = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    (root / "export.csv").write_text("invoice_number,customer_id,customer_name,amount_due,due_date\n"
                                     f"CSV-1,K1,Kiosque,45.00,{due}\n")
    serve_cfg = {"port": port, "cycle_every": "2s", "tick": "1s", **serve}
    (root / "relance.yaml").write_text(f"""
company: {{name: Acme, country: FR, timezone: Europe/Paris, language: en}}
connections:
  books:
    plugin: http_ledger
    settings: {{base_url: "http://127.0.0.1:{ledger_port}"}}
    sync_interval: 1s
  sheet:
    plugin: csv
    settings: {{path: export.csv}}
    sync_interval: 1s
channels:
  out: {{plugin: file_channel, settings: {{path: "{root / 'sent.jsonl'}"}}}}
scenarios:
  standard:
    closed_days: ignore
    steps: [{{at: due+3d, channel: out, template: nudge}}]
assign: [{{scenario: standard}}]
serve: {json.dumps(serve_cfg)}
""")


def ledger() -> LedgerServer:
    due = (dt.date.today() - dt.timedelta(days=5)).isoformat()
    customers = [{"id": f"C{i}", "name": f"Customer {i}", "email": f"c{i}@example.com"}
                 for i in range(1, 4)]
    invoices = [{"id": f"I{i}", "customer": f"C{i}", "number": f"INV-{i}", "total": "100.00",
                 "due": "100.00", "due_date": due, "status": "open"} for i in range(1, 4)]
    return LedgerServer(customers, invoices)


def start_serve(root: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "RELANCE_PLUGINS": "tests.serve.fake_ledger",
           "PYTHONPATH": str(ROOT), "RELANCE_SECRET_KEY": ""}
    env.pop("RELANCE_SECRET_KEY")
    return subprocess.Popen([sys.executable, "-m", "hub", "serve", "-w", str(root),
                             "--port", str(port), *extra], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, sqlite3.Error):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def metric(port: int, name: str, label: str = "") -> float | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(name) and label in line and not line.startswith("#"):
            return float(line.rsplit(" ", 1)[1])
    return None


def sent_lines(root: Path) -> list[dict]:
    path = root / "sent.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.sqlite_only("it reads the outcome from the SQLite file the service wrote")
def test_serve_end_to_end(tmp_path):
    lport, port = free_port(), free_port()
    books = ledger()
    books.start(lport)
    write_workspace(tmp_path, lport, port)
    # the customer of INV-1 pays before the hub starts its first cycle
    books.pay("I1")
    proc = start_serve(tmp_path, port)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200,
                 what="healthz")
        body = json.dumps({"invoices": ["I1"]}).encode()
        bad = httpx.post(f"http://127.0.0.1:{port}/webhooks/http_ledger/books", content=body,
                         headers={"x-ledger-signature": "forged"})
        assert bad.status_code == 401
        good = httpx.post(f"http://127.0.0.1:{port}/webhooks/http_ledger/books", content=body,
                          headers={"x-ledger-signature": sign("s3cret", body)})
        assert good.status_code == 200
        wait_for(lambda: len(sent_lines(tmp_path)) >= 3, what="three reminders")
        time.sleep(4.5)  # two more cycles: nothing new
        assert metric(port, "relance_dispatches", 'state="sent"') == 3.0
        assert metric(port, "relance_sent_total", 'channel="out"') == 3.0
        assert metric(port, "relance_scheduler_leader") == 1.0
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["ready"] and ready["leader"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        books.stop()
    assert proc.returncode in (0, -signal.SIGTERM), out  # uvicorn re-raises SIGTERM when done
    assert "stopped cleanly" in out
    lines = sent_lines(tmp_path)
    assert sorted(n for line in lines for n in line["invoices"]) == ["CSV-1", "INV-2", "INV-3"], out
    db = sqlite3.connect(tmp_path / "relance.db")
    assert db.execute("select count(*) from dispatch where status = 'sending'").fetchone() == (0,)
    assert db.execute("select status from invoice where number = 'INV-1'").fetchone() == ("paid",)


def test_second_serve_is_a_standby_that_takes_over(tmp_path):
    lport, p1, p2 = free_port(), free_port(), free_port()
    books = ledger()
    books.start(lport)
    write_workspace(tmp_path, lport, p1)
    first = start_serve(tmp_path, p1, "--lease-ttl", "2")
    second = None
    try:
        wait_for(lambda: metric(p1, "relance_scheduler_leader") == 1.0, what="first is leader")
        second = start_serve(tmp_path, p2, "--lease-ttl", "2")
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{p2}/healthz").status_code == 200,
                 what="second up")
        time.sleep(3)
        assert metric(p2, "relance_scheduler_leader") == 0.0
        wait_for(lambda: len(sent_lines(tmp_path)) >= 4, what="reminders")
        time.sleep(3)
        assert len(sent_lines(tmp_path)) == 4  # one clock: each reminder once
        first.kill()  # no goodbye: the lease must expire
        first.wait(10)
        wait_for(lambda: metric(p2, "relance_scheduler_leader") == 1.0, timeout=20,
                 what="standby takes over")
        calls = books.calls
        wait_for(lambda: books.calls > calls + 1, what="the new leader syncs")
        assert len(sent_lines(tmp_path)) == 4
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=30)
        books.stop()
