"""Several Celery workers on a real PostgreSQL and Redis: each dispatch sent once."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def redis_url() -> str:
    import redis

    db = 9
    try:
        redis.Redis(host="127.0.0.1", port=6379, db=db, socket_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis on 127.0.0.1:6379 is not reachable: {exc}")
    return f"redis://127.0.0.1:6379/{db}"


def test_celery_workers_never_send_a_dispatch_twice(tmp_path, pg_url, make_ws):
    broker = redis_url()
    sent = tmp_path / "sent.jsonl"
    (tmp_path / "templates" / "en").mkdir(parents=True)
    (tmp_path / "templates" / "en" / "nudge.j2").write_text(
        "{% block subject %}x{% endblock %}{% block text %}{{ invoices|length }}{% endblock %}")
    config = f"""
company: {{name: Acme, country: FR, timezone: Europe/Paris, language: en}}
connections: {{ledger: {{plugin: memory}}}}
channels: {{out: {{plugin: file_channel, settings: {{path: "{sent}"}}, concurrency: 2}}}}
scenarios: {{standard: {{closed_days: ignore, steps: [{{at: due+3d, channel: out, template: nudge}}]}}}}
assign: [{{scenario: standard}}]
scale: {{broker: "{broker}"}}
"""
    from tests import memory_plugins
    from tests.conftest import customer, invoice
    from tests.serve import fake_ledger

    ws = make_ws(config, database_url=pg_url,
                 plugins=(memory_plugins.Plugin(), fake_ledger))
    due = dt.date.today() - dt.timedelta(days=5)
    memory_plugins.LEDGERS["default"] += [customer(f"C{i}") for i in range(120)]
    memory_plugins.LEDGERS["default"] += [invoice(str(i), f"C{i}", due) for i in range(120)]
    from hub.plan.planner import plan
    from hub.sync.engine import sync_all

    asyncio.run(sync_all(ws))
    assert plan(ws).created == 120

    queue = f"relance-test-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "RELANCE_WORKSPACE": str(tmp_path), "RELANCE_BROKER": broker,
           "RELANCE_DATABASE_URL": pg_url, "PYTHONPATH": str(ROOT),
           "RELANCE_PLUGINS": "tests.serve.fake_ledger,tests.memory_plugins_entry"}
    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hub.serve.worker", "worker", "--concurrency", "1",
         "-Q", queue, "-n", f"w{i}@%h", "--without-gossip", "--without-mingle", "-l", "warning"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(3)]
    try:
        os.environ.update({"RELANCE_BROKER": broker})
        from hub.serve.worker import app

        app.conf.broker_url = broker
        results = [app.send_task("relance.send", args=[None], queue=queue)
                   for _ in range(6)]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (not sent.exists() or
                                               len(sent.read_text().splitlines()) < 120):
            time.sleep(0.5)
        time.sleep(2)
        del results
    finally:
        for w in workers:
            w.terminate()
        outputs = [w.communicate(timeout=30)[0] for w in workers]
    lines = [json.loads(x) for x in sent.read_text().splitlines()] if sent.exists() else []
    ids = [x["dispatch"] for x in lines]
    assert len(ids) == 120, outputs
    assert len(set(ids)) == 120
