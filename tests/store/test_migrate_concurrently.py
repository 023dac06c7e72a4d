"""Several processes starting at once on a fresh PostgreSQL database: one migrates, the
others wait and find the schema ready; none crashes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
OPEN = ("import sys; from hub.store.db import make_engine, migrate; "
        "migrate(make_engine(sys.argv[1])); print('ok')")


def test_four_processes_migrate_a_fresh_database_at_once(pg_url):
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, pg_url], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-1500:] for _, err in outs]
    from sqlalchemy import create_engine

    engine = create_engine(pg_url)
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM installation").scalar_one() == 1
    engine.dispose()
