"""A company of a firm never sees, plans or sends another's data: through the planner and
the sender, the CLI, the dashboard and the webhooks, on SQLite (a file per company) and on
PostgreSQL (a schema per company on one shared pool)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from hub.cli import app
from hub.plan.planner import plan
from hub.send.dispatcher import Dispatcher
from hub.store.db import session
from hub.store.models import Dispatch, Invoice
from hub.sync.engine import sync_all
from tests import memory_plugins
from tests.conftest import customer, invoice
from tests.firm.conftest import write_firm

runner = CliRunner()
DUE = dt.date.today() - dt.timedelta(days=10)


def ledgers() -> None:
    """Both companies' ledgers use the same external ids: a mix-up could not hide."""
    memory_plugins.LEDGERS["acme"] += [customer("C1", name="Acme's customer"),
                                       invoice("1", "C1", DUE, "100.00"),
                                       invoice("2", "C1", DUE, "50.00")]
    memory_plugins.LEDGERS["beta"] += [customer("C1", name="Beta's customer"),
                                       invoice("1", "C1", DUE, "700.00")]


def cycle(ws) -> None:
    async def go():
        await sync_all(ws)
        plan(ws)
        await Dispatcher(ws).run()
        await ws.aclose()
    asyncio.run(go())


def count(ws, table) -> int:
    with session(ws.engine) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture(params=["sqlite", "postgresql"])
def firm(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"},
                      database_url=url)


def test_a_company_plans_and_sends_only_its_own(firm, open_company):
    ledgers()
    acme = open_company(firm, "acme")
    cycle(acme)
    beta = open_company(firm, "beta")
    assert count(beta, Invoice) == 0 and count(beta, Dispatch) == 0  # untouched
    [sent] = memory_plugins.SENT["email"]
    assert sent.company.name == "Acme SAS" and sent.recipient.name == "Acme's customer"
    assert sorted(i.number for i in sent.invoices) == ["INV-1", "INV-2"]
    cycle(beta)
    first, second = memory_plugins.SENT["email"]
    assert second.company.name == "Beta GmbH" and second.recipient.name == "Beta's customer"
    assert [i.amount_due for i in second.invoices] == [700]
    assert count(acme, Invoice) == 2 and count(beta, Invoice) == 1


def test_on_postgresql_each_company_is_a_schema_of_the_firm_database(pg_url, tmp_path,
                                                                     open_company):
    ledgers()
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"},
                      database_url=pg_url)
    cycle(open_company(root, "acme"))
    cycle(open_company(root, "beta"))
    beta = open_company(root, "beta")
    with session(beta.engine) as s:
        assert s.execute(text("SELECT current_schema()")).scalar_one() == "co_beta"
        counts = dict(s.execute(text(
            "SELECT table_schema, count(*) FROM information_schema.tables "
            "WHERE table_name = 'invoice' GROUP BY table_schema")).all())
        rows = {schema: s.execute(text(f'SELECT count(*) FROM "{schema}".invoice')).scalar_one()
                for schema in counts}
    assert rows == {"co_acme": 2, "co_beta": 1}  # nothing in public: no store is shared


def test_the_cli_works_on_the_company_it_is_told(firm, monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")
    ledgers()
    w = ["-w", str(firm)]
    result = runner.invoke(app, ["--company", "beta", "run", *w])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["-C", "beta", "invoices", "--json", *w])
    assert [i["amount_due"] for i in json.loads(listed.stdout)] == ["700.00"]
    listed = runner.invoke(app, ["-C", "acme", "invoices", "--json", *w])
    assert json.loads(listed.stdout) == []  # acme never synced: nothing of beta's shows
    # no company named: refused, naming the companies to choose from
    refused = runner.invoke(app, ["invoices", *w])
    assert refused.exit_code == 2
    assert "acme, beta" in refused.output and "--company" in refused.output
    unknown = runner.invoke(app, ["-C", "gamma", "invoices", *w])
    assert unknown.exit_code == 2 and "no company 'gamma'" in unknown.output.replace("\n", " ")
    [sent] = memory_plugins.SENT["email"]
    assert sent.company.name == "Beta GmbH"


def test_company_add_and_list(tmp_path, monkeypatch):
    root = tmp_path / "firm"
    assert runner.invoke(app, ["init", "--firm", "Dupont", "-w", str(root)]).exit_code == 0
    for slug, name in (("acme", "Acme SAS"), ("beta-gmbh", "Beta GmbH")):
        result = runner.invoke(app, ["company", "add", slug, "--name", name, "-w", str(root)])
        assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["company", "add", "Not A Slug", "-w", str(root)])
    assert bad.exit_code == 2 and "lower-case" in bad.output
    again = runner.invoke(app, ["company", "add", "acme", "-w", str(root)])
    assert again.exit_code == 2 and "exists" in again.output
    rows = json.loads(runner.invoke(app, ["company", "list", "--json", "-w", str(root)]).stdout)
    assert [(r["company"], r["name"]) for r in rows] == [("acme", "Acme SAS"),
                                                        ("beta-gmbh", "Beta GmbH")]
    # a company may not set what the firm shares
    cfg = root / "companies" / "acme" / "relance.yaml"
    cfg.write_text(cfg.read_text() + "\ndatabase: {url: 'sqlite:///other.db'}\n")
    listed = runner.invoke(app, ["company", "list", "-w", str(root)])
    assert listed.exit_code == 2 and "is the firm's" in listed.output


def test_db_upgrade_brings_every_store_of_the_firm_to_head(firm, monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")
    before = runner.invoke(app, ["db", "current", "-w", str(firm)])
    assert before.exit_code == 1 and "company beta: empty (needs" in before.output
    upgraded = runner.invoke(app, ["db", "upgrade", "-w", str(firm)])
    assert upgraded.exit_code == 0, upgraded.output
    assert "company acme: empty →" in upgraded.output and "company beta: empty →" in upgraded.output
    after = runner.invoke(app, ["db", "current", "-w", str(firm)])
    assert after.exit_code == 0 and "needs" not in after.output


def test_on_workers_the_watchdog_says_when_due_dispatches_go_nowhere(pg_url, tmp_path,
                                                                     open_company, monkeypatch):
    from hub.serve import scheduler
    from hub.serve.executor import STUCK_AFTER, CeleryExecutor

    ledgers()
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS"}, database_url=pg_url,
                      extra='scale: {executor: celery, broker: "memory://", limits: '
                            '"redis://127.0.0.1:6379/9"}\n')
    ws = open_company(root, "acme")
    asyncio.run(sync_all(ws))
    plan(ws)
    rt = scheduler.Runtime(ws)
    assert isinstance(rt.executor, CeleryExecutor) and rt.executor.company == "acme"
    monkeypatch.setattr(rt.executor, "_enqueue", lambda *a: None)  # no worker takes them
    scheduler.RUNTIMES[str(ws.root)] = rt
    asyncio.run(scheduler.job_send(str(ws.root)))
    assert rt.alert is None  # just planned: not late yet
    later = dt.datetime.now(dt.UTC) + STUCK_AFTER + dt.timedelta(minutes=1)
    alert = rt.executor.watchdog(now=later)
    assert alert and "1 dispatch(es) due for over 30 minutes" in alert and "relance worker" in alert


def test_a_firm_on_sqlite_refuses_one_file_for_every_company(tmp_path, open_company):
    from hub.errors import ConfigError

    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"},
                      database_url=f"sqlite:///{tmp_path}/all.db")
    with pytest.raises(ConfigError, match="one file per company"):
        open_company(root, "acme")


def test_companies_in_one_process_share_a_providers_budget(tmp_path, open_company):
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS", "beta": "Beta GmbH"})
    acme, beta = open_company(root, "acme"), open_company(root, "beta")
    assert acme.budgets is beta.budgets  # one Lob key or Twilio number: one count


def test_the_celery_clock_waits_for_its_syncs_plans_and_does_not_pile_up_sends(
        pg_url, tmp_path, open_company, monkeypatch):
    from types import SimpleNamespace

    from hub.serve.executor import CeleryExecutor

    ledgers()
    root = write_firm(tmp_path / "firm", {"acme": "Acme SAS"}, database_url=pg_url,
                      extra='scale: {executor: celery, broker: "memory://", limits: '
                            '"redis://127.0.0.1:6379/9", send_batch: 1}\n')
    ws = open_company(root, "acme")
    asyncio.run(sync_all(ws))  # what the worker's sync task did
    clock, sent, done = CeleryExecutor(ws, "acme"), [], {"send": False}

    def enqueue(task, *args):
        sent.append((task, *args))
        if task == "relance.sync":
            return SimpleNamespace(get=lambda **kw: {"connection": args[0], "ok": True})
        return SimpleNamespace(ready=lambda: done["send"])
    monkeypatch.setattr(clock, "_enqueue", enqueue)
    summary = asyncio.run(clock.cycle(dt.date.today()))
    assert sent == [("relance.sync", "ledger"), ("relance.send", 1)]  # the sync came first
    assert summary["planned"] == 1 and summary["enqueued"] == 1
    assert asyncio.run(clock.send()) == 0  # the batch's task has not run: nothing more
    done["send"] = True  # it ran (and here sent nothing): the dispatch is due again
    assert asyncio.run(clock.send()) == 1 and sent[-1] == ("relance.send", 1)
