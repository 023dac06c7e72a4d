"""Shared fixtures: a workspace on a real SQLite file with the in-memory test plugins."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from hub.contracts import Address, CustomerRecord, InvoiceRecord
from tests import memory_plugins

TODAY = dt.date(2026, 11, 24)  # a Tuesday

BASE_CONFIG = """
company:
  name: Acme SAS
  country: FR
  timezone: Europe/Paris
  language: en
  signatory: Jeanne Martin
connections:
  ledger:
    plugin: memory
channels:
  email:
    plugin: capture
scenarios:
  standard:
    closed_days: ignore  # steps go out the day they fall: the suite passes on any day
    steps:
      - {at: due-7d, channel: email, template: courtesy}
      - {at: due+3d, channel: email, template: first_reminder}
      - {at: due+15d, channel: email, template: second_reminder}
assign:
  - {scenario: standard}
"""


def shifting(config: str) -> str:
    """A test config with the default calendar back: a step landing on the debtor's
    weekend or public holiday waits for their next open day (the shared configs here send
    on any day, so the suite passes whatever day it runs)."""
    return "\n".join(line for line in config.splitlines() if "closed_days" not in line)


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL (RELANCE_TEST_DATABASE_URL), the few tests about the SQLite file
    itself say so and are skipped."""
    if not os.environ.get("RELANCE_TEST_DATABASE_URL"):
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {marker.args[0]}"))


@pytest.fixture(autouse=True)
def _suite_database(monkeypatch):
    """With RELANCE_TEST_DATABASE_URL (CI sets it), every workspace a test opens — by the
    fixtures or by a command — stores in a PostgreSQL schema of its own, dropped after."""
    url = os.environ.get("RELANCE_TEST_DATABASE_URL")
    if not url:
        yield
        return
    import uuid

    from sqlalchemy import create_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    monkeypatch.setenv("RELANCE_DATABASE_URL", f"{url}{sep}options=-csearch_path%3D{schema}")
    yield
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(autouse=True)
def _reset_memory_plugins():
    memory_plugins.reset()
    yield
    memory_plugins.reset()


def customer(ext: str, **kw) -> CustomerRecord:
    kw.setdefault("name", f"Customer {ext}")
    kw.setdefault("email", f"{ext.lower()}@example.com")
    kw.setdefault("address", Address(line1="1 rue de la Paix", city="Paris", postcode="75002",
                                     country="FR"))
    return CustomerRecord(external_id=ext, **kw)


def invoice(ext: str, cust: str, due: dt.date, amount: str = "100.00", **kw) -> InvoiceRecord:
    kw.setdefault("currency", "EUR")
    kw.setdefault("total", Decimal(amount))
    return InvoiceRecord(external_id=ext, customer_external_id=cust, number=f"INV-{ext}",
                         amount_due=Decimal(amount), due_date=due, **kw)


@pytest.fixture
def make_ws(tmp_path: Path):
    """Write relance.yaml (BASE_CONFIG or given text) and open the workspace."""
    from hub.workspace import Workspace

    opened = []

    def make(config: str = BASE_CONFIG, *, root: Path | None = None, **kw):
        root = root or tmp_path
        (root / "relance.yaml").write_text(textwrap.dedent(config))
        # simple English templates, so core tests do not depend on the built-in wording
        for src in (Path(__file__).parent / "data" / "templates" / "en").glob("*.j2"):
            dest = root / "templates" / "en" / src.name
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(src.read_text())
        kw.setdefault("plugins", (memory_plugins.Plugin(),))
        ws = Workspace.open(root, **kw)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.engine.dispose()


PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database on the loopback server, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            name = f"relance_test_{uuid.uuid4().hex[:10]}"
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
