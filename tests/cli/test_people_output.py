"""What a person reads: hints they can paste, one money format per table, DSO that says
when the period caps it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.clock import today_in
from tests.conftest import shifting
from tests.send.test_unknown_is_not_open import CONFIG, export

runner = CliRunner()
WIDE = {"COLUMNS": "400"}


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")
    monkeypatch.delenv("RELANCE_WORKSPACE", raising=False)


def test_hints_carry_the_workspace_they_need(make_ws, tmp_path, monkeypatch):
    from hub.store.db import session
    from hub.store.models import Connection

    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 4))
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    with session(ws.engine) as s:  # stale data: the run holds everything and says where to look
        s.execute(Connection.__table__.update().values(
            last_sync_ok_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    held = runner.invoke(app, ["run", "--no-sync", "-w", str(tmp_path)], env=WIDE).output
    assert f"`relance status -w {tmp_path}`" in held and f"`relance history -w {tmp_path}`" in held
    approve = runner.invoke(app, ["approve", "-w", str(tmp_path)], env=WIDE).output
    assert f"`relance approvals -w {tmp_path}`" in approve
    # run from inside the workspace, the hint is the bare command
    monkeypatch.chdir(tmp_path)
    here = runner.invoke(app, ["run", "--no-sync"], env=WIDE).output
    assert "`relance status`" in here and " -w " not in here


def test_the_plan_table_formats_money_in_the_company_locale(make_ws, tmp_path):
    make_ws(CONFIG.replace("language: en", "language: fr"))
    due = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    (tmp_path / "invoices.csv").write_text(
        "invoice_id;invoice_number;customer_id;customer_name;email;country;language;currency;"
        "amount_due;due_date;status\n"
        f"1;INV-1;C1;Smith Ltd;s@example.com;GB;en;GBP;1234.50;{due};open\n"
        f"2;INV-2;C2;Dupont;d@example.com;FR;fr;EUR;99.00;{due};open\n")
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    table = runner.invoke(app, ["plan", "-w", str(tmp_path)], env=WIDE).output
    # fr_FR for both rows, the English customer's too: "1 234,50 £", not "£1,234.50"
    assert "1\u202f234,50\u00a0£" in table and "99,00\u00a0€" in table, table
    assert "£1,234.50" not in table


def _invoices(tmp_path, rows):
    (tmp_path / "invoices.csv").write_text(
        "invoice_id;invoice_number;customer_id;customer_name;email;currency;total;amount_due;"
        "issue_date;due_date;status\n" + "".join(
            f"{i};INV-{i};C{i};Customer {i};c{i}@example.com;EUR;{total};{due_amt};"
            f"{issued};{issued};{'open' if due_amt else 'paid'}\n"
            for i, (issued, total, due_amt) in enumerate(rows, 1)))


def test_dso_counts_back_through_the_days_sales(make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    today = today_in("Europe/Paris")  # the company's day, which the report counts back from
    # 100 sold each of the last 10 days; 250 of it still open: 2.5 days of sales outstanding
    _invoices(tmp_path, [(today - dt.timedelta(days=d), "100", "100" if d < 2 else (
        "50" if d == 2 else "0")) for d in range(10)])
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    data = json.loads(runner.invoke(app, ["report", "dso", "-w", str(tmp_path), "--json"]).stdout)
    assert data["dso"]["EUR"]["days"] == "2.5" and data["dso"]["EUR"]["capped"] is False
    out = runner.invoke(app, ["report", "dso", "-w", str(tmp_path)], env=WIDE).output
    assert "EUR: DSO 2.5 days" in out and "capped" not in out


def test_dso_says_when_the_period_caps_it(make_ws, tmp_path):
    make_ws(CONFIG.replace("complete_export: true", "complete_export: false"))
    today = today_in("Europe/Paris")  # the company's day, which the report counts back from
    # an old unpaid invoice of 5,000 and 100 of sales in the period: the period cannot cover it
    _invoices(tmp_path, [(today - dt.timedelta(days=200), "5000", "5000"),
                         (today - dt.timedelta(days=5), "100", "100")])
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    data = json.loads(runner.invoke(app, ["report", "dso", "-w", str(tmp_path), "--days", "30",
                                          "--json"]).stdout)
    assert data["dso"]["EUR"] == {"days": "30.0", "capped": True, "open": "5100.00",
                                  "sales": "100.00"}
    out = runner.invoke(app, ["report", "dso", "-w", str(tmp_path), "--days", "30"],
                        env=WIDE).output
    assert "DSO ≥ 30" in out and "capped at the 30-day period" in out


def test_read_only_commands_do_not_need_the_connections_secrets(make_ws, tmp_path, monkeypatch):
    cfg = CONFIG.replace("channels:\n", "  xero:\n    plugin: xero\n    settings: {client_id: "
                         '"${XERO_ID}", client_secret: "${XERO_SECRET}"}\nchannels:\n')
    monkeypatch.setenv("XERO_ID", "x")
    monkeypatch.setenv("XERO_SECRET", "y")
    make_ws(cfg)
    monkeypatch.delenv("XERO_ID")
    monkeypatch.delenv("XERO_SECRET")
    for args in (["status"], ["history"], ["report", "aging"], ["report", "dso"],
                 ["tasks", "list"]):
        result = runner.invoke(app, [*args, "-w", str(tmp_path)])
        assert result.exit_code == 0, (args, result.output)
    sync = runner.invoke(app, ["sync", "-w", str(tmp_path)])  # a command that calls Xero
    assert sync.exit_code == 2 and "XERO_SECRET is not set" in sync.output


def test_doctor_never_says_reachable_for_a_plugin_that_cannot_be_checked(make_ws, tmp_path):
    make_ws(CONFIG)  # the capture channel has no check()
    export(tmp_path, range(1, 3))
    checks = json.loads(runner.invoke(app, ["doctor", "-w", str(tmp_path), "--json"]).stdout)
    [email] = [c for c in checks if c["area"] == "channel email"]
    assert email["level"] == "warn" and "not checked (the plugin has no check()" in email["message"]
    assert {"area": "connection books", "level": "ok", "message": "checked: no problem found"} \
        in checks  # the CSV connector's check() looked at the export


def test_a_plugin_installed_but_not_loaded_is_not_called_missing():
    from hub.contracts.manager import Registry
    from hub.errors import PluginError

    reg = Registry(errors=["plugin 'mailgun' (relance-mailgun, relance_mailgun) registered "
                           "nothing: `register_channels` has no `@hookimpl`"])
    with pytest.raises(PluginError, match=r"is loaded: plugin 'mailgun'.*no `@hookimpl`") as err:
        reg.get("channel", "mailgun")
    assert "pip install" not in str(err.value)


def test_plugins_verbose_shows_each_settings_type_default_and_description():
    out = runner.invoke(app, ["plugins", "--verbose"], env=WIDE).output
    assert "late_commit_window: int, default 1800 — seconds re-read behind the last sync" in out
    assert "api_key: SecretStr, required, secret" in out


def test_a_plan_on_a_closed_day_says_why_nothing_is_due(make_ws, tmp_path):
    """A Saturday: "Nothing new is due" alone left the user to guess; the plan names the
    scenario whose debtors are all closed, and when its steps go."""
    make_ws(shifting(CONFIG))
    export(tmp_path, range(1, 3))
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    today = today_in("Europe/Paris")
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7)
    out = runner.invoke(app, ["plan", "--date", saturday.isoformat(), "-w", str(tmp_path)],
                        env=WIDE).output
    assert "Nothing new is due" in out and "standard" in out and "next open day" in out, out
    as_json = json.loads(runner.invoke(app, ["plan", "--json", "--date", saturday.isoformat(),
                                             "-w", str(tmp_path)]).stdout)
    assert as_json["closed_today"] == ["standard"] and as_json["dispatches"] == []


def test_a_plan_shows_its_table_beside_a_closed_scenario_and_no_empty_table(make_ws, tmp_path):
    """One scenario sends on any day, another waits for weekdays: on a Saturday the plan
    shows the first one's reminders and says the second waits; a day with nothing due
    shows no empty table."""
    config = CONFIG.replace("assign:\n", "  weekdays:\n    steps:\n      - {at: due+3d, "
                            "channel: email, template: first_reminder}\nassign:\n  - {when: "
                            "\"customer_code == 'C2'\", scenario: weekdays}\n")
    make_ws(config)
    export(tmp_path, range(1, 3))
    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    today = today_in("Europe/Paris")
    saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7)
    out = runner.invoke(app, ["plan", "--date", saturday.isoformat(), "-w", str(tmp_path)],
                        env=WIDE).output
    assert "Plan for" in out and "Customer 1" in out, out  # the open scenario's reminder
    assert "every debtor of weekdays" in out and "next open day" in out, out
    before = today - dt.timedelta(days=20)  # before any step of the invoices (due -10, +3d)
    quiet = runner.invoke(app, ["plan", "--date", before.isoformat(), "-w", str(tmp_path)],
                          env=WIDE).output
    assert "Nothing new is due" in quiet and "Plan for" not in quiet, quiet
