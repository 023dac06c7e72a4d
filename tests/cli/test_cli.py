"""The command line as a user meets it: init, doctor, demo twice, JSON for scripts."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_writes_a_starter_and_refuses_to_overwrite(tmp_path):
    r = invoke("init", "-w", str(tmp_path))
    assert r.exit_code == 0 and (tmp_path / "relance.yaml").exists()
    assert "relance doctor" in r.output
    again = invoke("init", "-w", str(tmp_path))
    assert again.exit_code == 2 and "--force" in again.output


def test_doctor_explains_config_problems_with_file_and_line(tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    invoke("init", "-w", str(tmp_path))
    r = invoke("doctor", "-w", str(tmp_path), "--offline")
    assert r.exit_code == 1
    assert "relance.yaml:" in r.output and "SMTP_PASSWORD is not set" in r.output


def test_doctor_on_a_good_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "x")
    invoke("init", "-w", str(tmp_path))
    (tmp_path / "invoices.csv").write_text("invoice_number,customer_name,amount_due,due_date\n")
    r = invoke("doctor", "-w", str(tmp_path), "--offline", "--json")
    checks = json.loads(r.stdout)
    assert {c["area"] for c in checks} >= {"config", "plugins", "database", "templates"}
    assert not [c for c in checks if c["level"] == "error"], checks


def test_demo_twice_sends_once_and_says_so(tmp_path):
    ws = tmp_path / "demo"
    first = invoke("demo", "-w", str(ws))
    assert first.exit_code == 0, first.output
    assert "amount reminded" in first.output and "Aged balance" in first.output
    assert "The next 14 days, simulated" in first.output  # relance simulate, in the demo
    simulated = first.output.split("The next 14 days, simulated")[1].split("Aged balance")[0]
    assert "€" in simulated and " EUR" not in simulated  # amounts in the company's locale
    assert "A late-fee letter" in first.output and "L441-10" in first.output
    # the preview is a sample that still shows every channel, then says how many more
    assert "more, each kind of step shown above" in first.output
    preview = first.output.split("Today's plan")[1].split("more, each kind")[0]
    assert all(ch in preview for ch in ("email", "sms", "letter", "calls", "agency"))
    sent = len(list((ws / "outbox").glob("*.eml")))
    assert sent > 20
    second = invoke("demo", "-w", str(ws))
    assert "nothing new was sent" in second.output
    assert len(list((ws / "outbox").glob("*.eml"))) == sent

    status = json.loads(invoke("status", "-w", str(ws), "--json").stdout)
    assert status["dispatches"]["sent"] >= sent and status["dispatches"]["sending"] == 0
    assert status["dispatches"]["failed"] == 0 and status["open_tasks"] > 0
    assert list((ws / "letters").glob("*.pdf")) and list((ws / "handoff").glob("*/*/case.csv"))
    aging = json.loads(invoke("report", "aging", "-w", str(ws), "--json").stdout)
    assert {"EUR", "GBP", "JPY"} <= set(aging["currencies"])
    assert set(aging["currencies"]["EUR"]) == {"not_due", "1-30", "31-60", "61-90", "90+", "total"}
    plan = json.loads(invoke("plan", "-w", str(ws), "--json").stdout)
    assert plan["dispatches"] == []  # everything due today went out
    history = invoke("history", "-w", str(ws), "--kind", "sent", "--limit", "3")
    assert history.output.count("sent") >= 3
    # the demo has a customer pay between plan and send: the reminder is dropped, and why
    paid = first.output.split("Meanwhile ")[1].split(" pays invoice ")[1].split(" ")[0]
    dropped = json.loads(invoke("history", "-w", str(ws), "--kind", "suppressed", "--json").stdout)
    messages = [e["message"] for e in dropped]
    assert [m for m in messages if m.startswith("invoice ")] == [f"invoice {paid} not reminded: paid"]
    # the account scenes: a customer whose credit note covers it, a hold, a dispute
    assert any("credits of" in m and "cover the" in m for m in messages)
    assert any(m.startswith("not reminded today: hold") for m in messages)
    assert any(m.startswith("not reminded today: dispute") for m in messages)
    assert status["dispatches"]["cancelled"] == 1
    # doctor after the demo: the demo's SMTP server is down, as expected, and said so
    checks = json.loads(invoke("doctor", "-w", str(ws), "--json").stdout)
    [smtp] = [c for c in checks if c["area"] == "channel email"]
    assert smtp["level"] == "warn" and "runs only while `relance demo` runs" in smtp["message"]
    assert not [c for c in checks if c["level"] == "error"], checks


def test_plan_json_shows_who_gets_what_and_why(tmp_path, monkeypatch):
    ws = tmp_path / "demo"
    from hub.clock import today_in
    from hub.demo.run import prepare

    prepare(ws, today_in("Europe/Paris"))
    monkeypatch.setenv("RELANCE_DEMO_SMTP_PORT", "2525")
    invoke("sync", "-w", str(ws))
    rows = json.loads(invoke("plan", "-w", str(ws), "--json").stdout)["dispatches"]
    assert rows and all(r["why"].startswith("step ") for r in rows)
    assert {r["channel"] for r in rows} <= {"email", "sms", "calls", "letter", "agency"}
    # a dry run: planning again shows the same, nothing was created
    again = json.loads(invoke("plan", "-w", str(ws), "--json").stdout)["dispatches"]
    assert len(again) == len(rows)


def test_plugins_lists_the_builtins_with_versions():
    data = json.loads(invoke("plugins", "--json").stdout)
    names = {(p["kind"], p["name"]) for p in data["plugins"]}
    assert {("connector", "csv"), ("channel", "email")} <= names
    csv = next(p for p in data["plugins"] if p["name"] == "csv")
    assert csv["distribution"] == "relance" and csv["capabilities"]["supports_incremental"]


def test_bad_workspace_gives_a_clear_error(tmp_path):
    r = invoke("status", "-w", str(tmp_path / "nowhere"))
    assert r.exit_code == 2 and "relance init" in r.output


def test_plan_shows_sms_segments_and_refusals(tmp_path):
    import datetime as dt

    due = (dt.date.today() - dt.timedelta(days=11)).isoformat()
    (tmp_path / "invoices.csv").write_text(
        "invoice_number,customer_id,customer_name,mobile,country,language,amount_due,due_date\n"
        f"F-1,C1,Camille,06 12 34 56 78,FR,fr,120.00,{due}\n"
        f"F-2,C2,Landline Ltd,01 23 45 67 89,FR,fr,80.00,{due}\n")
    (tmp_path / "relance.yaml").write_text("""
company: {name: Acme, country: FR, timezone: Europe/Paris, language: fr}
connections: {books: {plugin: csv, settings: {path: invoices.csv}}}
channels:
  sms: {plugin: sms_twilio, settings: {account_sid: AC1, auth_token: t, from_number: "+15005550006"}}
scenarios: {standard: {closed_days: ignore, steps: [{at: due+10d, channel: sms, template: short_reminder}]}}
assign: [{scenario: standard}]
""")
    invoke("sync", "-w", str(tmp_path))
    rows = {r["customer"]: r for r in json.loads(invoke("plan", "-w", str(tmp_path), "--json").stdout)["dispatches"]}
    assert (rows["Camille"]["extra"]["segments"] == 1 and rows["Camille"]["extra"]["encoding"] == "UCS-2") \
        or rows["Camille"]["extra"]["encoding"] == "GSM-7"
    assert "landline" in rows["Landline Ltd"]["extra"]["problems"][0]
    table = runner.invoke(app, ["plan", "-w", str(tmp_path)], env={"COLUMNS": "300"}).output
    assert "SMS segment" in table and "landline" in table
