"""Channels that need no provider: call tasks, agency hand-off bundles, PDF letters."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from hub.contracts import Attachment
from hub.errors import PermanentError
from hub.feedback.call_tasks import complete_task
from hub.store.db import make_engine, migrate, session
from hub.store.models import Connection, Customer, Dispatch, DispatchInvoice, Event, Invoice, Task
from hub.testing import make_context
from hub.testing.conformance import sample_message
from plugins.handoff import COLUMNS, HandoffChannel, HandoffSettings
from plugins.letter_pdf import LetterPdfChannel, LetterPdfSettings
from plugins.task import TaskChannel, TaskSettings

ROOT = Path(__file__).resolve().parents[2]
HISTORY = ({"sent_at": "2026-11-04T09:00:00+00:00", "channel": "email", "step": "due+3d",
            "template": "fr/first_reminder.j2", "status": "sent"},)


def test_task_channel_hands_a_follow_up_with_the_script(tmp_path):
    ch = TaskChannel(TaskSettings(), make_context("task", tmp_path))
    result = asyncio.run(ch.send(sample_message(text="CALL Camille …")))
    assert result.follow_up.script == "CALL Camille …"
    assert "Camille Martin SARL" in result.follow_up.title and "+33612345678" in result.follow_up.title
    assert result.status == "queued"


@pytest.fixture
def store(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    migrate(engine)
    with session(engine) as s:
        conn = Connection(name="books", plugin="csv")
        s.add(conn)
        s.flush()
        cust = Customer(connection_id=conn.id, external_id="C1", name="Camille")
        s.add(cust)
        s.flush()
        inv = Invoice(connection_id=conn.id, external_id="F-1", customer_id=cust.id, number="F-1",
                      currency="EUR", total=Decimal("120"), amount_due=Decimal("120"),
                      due_date=dt.date(2026, 11, 1))
        d = Dispatch(idempotency_key="k", customer_id=cust.id, scenario="standard", step="due+15d",
                     step_index=2, channel="phone", template="call_script", status="sent",
                     planned_on=dt.date(2026, 11, 16))
        s.add_all([inv, d])
        s.flush()
        s.add(DispatchInvoice(dispatch_id=d.id, invoice_id=inv.id, scenario="standard",
                              step="due+15d", step_index=2))
        s.add(Task(dispatch_id=d.id, customer_id=cust.id, title="Call Camille", script="…"))
    yield engine
    engine.dispose()


def test_promise_pauses_and_dispute_stops(store):
    until = dt.date(2026, 12, 15)
    with session(store) as s:
        with pytest.raises(PermanentError, match="--until"):
            complete_task(s, 1, "promised")
        complete_task(s, 1, "promised", until=until)
    with session(store) as s:
        from hub.store.models import CaseState

        inv = s.execute(select(Invoice)).scalar_one()
        state = s.execute(select(CaseState)).scalar_one()  # a case state: judged later
        assert (state.kind, state.invoice_id, state.until) == ("promise", inv.id, until)
        assert inv.promised_until is None  # not a ledger fact: nothing to clear by hand
        ev = s.execute(select(Event).where(Event.kind == "task_outcome")).scalar_one()
        assert ev.data["outcome"] == "promised" and ev.data["invoices"] == [inv.id]
        with pytest.raises(PermanentError, match="already done"):
            complete_task(s, 1, "paid")


@pytest.mark.sqlite_only("its store is a SQLite file the test writes itself")
def test_task_cli_lists_and_records(store, tmp_path):
    from typer.testing import CliRunner

    from hub.cli import app

    (tmp_path / "relance.yaml").write_text(f"company: {{name: Acme}}\ndatabase: {{url: 'sqlite:///{tmp_path}/t.db'}}\n")
    runner = CliRunner()
    listed = runner.invoke(app, ["tasks", "list", "-w", str(tmp_path)])
    assert "Call Camille" in listed.output
    done = runner.invoke(app, ["tasks", "done", "1", "--outcome", "disputed", "--reason",
                               "goods damaged", "-w", str(tmp_path)])
    assert done.exit_code == 0, done.output
    with session(store) as s:
        from hub.store.models import CaseState

        state = s.execute(select(CaseState)).scalar_one()
        assert (state.kind, state.reason) == ("dispute", "goods damaged")
        assert state.opened_by  # who took the call


def test_handoff_bundle(tmp_path):
    ch = HandoffChannel(HandoffSettings(), make_context("agency", tmp_path))
    msg = sample_message(history=HISTORY, text="Cover", attachments=(
        Attachment(filename="F-1.pdf", content_type="application/pdf", data=b"%PDF-1.4"),))
    result = asyncio.run(ch.send(msg))
    case = tmp_path / result.provider_ref
    rows = list(csv.DictReader(io.StringIO((case / "case.csv").read_text())))
    assert rows[0]["amount_due"] == "120.00" and rows[0]["due_date"] == "2026-11-01"
    assert rows[0]["reminders_sent"] == "1" and "email" in rows[0]["reminder_history"]
    sheet = load_workbook(case / "case.xlsx").active
    assert [c.value for c in sheet[1]] == COLUMNS and sheet[2][COLUMNS.index("amount_due")].value == "120.00"
    assert (case / "invoices" / "F-1.pdf").read_bytes() == b"%PDF-1.4"
    assert result.invoice_updates == {"F-1": "in_collection"}


@pytest.mark.parametrize("name", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tleading tab",
                                  "\rleading CR"])
def test_a_name_that_starts_like_a_formula_is_written_inert(tmp_path, name):
    from hub.contracts import Recipient

    ch = HandoffChannel(HandoffSettings(), make_context("agency", tmp_path))
    msg = sample_message(history=HISTORY)
    msg = msg.model_copy(update={"recipient": Recipient(**{**msg.recipient.model_dump(),
                                                           "name": name})})
    case = tmp_path / asyncio.run(ch.send(msg)).provider_ref
    [row] = list(csv.DictReader(io.StringIO((case / "case.csv").read_text(), newline="")))
    assert row["customer_name"].startswith("'") and name.strip("\t\r")[:3] in row["customer_name"]
    cell = load_workbook(case / "case.xlsx").active[2][COLUMNS.index("customer_name")]
    assert cell.data_type == "s" and cell.value.strip() == name.strip()  # text, never a formula
    assert row["amount_due"] == "120.00"  # numbers are left as they are


def test_handoff_zip_and_documented_columns(tmp_path):
    ch = HandoffChannel(HandoffSettings(zip=True), make_context("agency", tmp_path))
    result = asyncio.run(ch.send(sample_message()))
    with zipfile.ZipFile(tmp_path / result.provider_ref) as z:
        assert {"case.csv", "case.xlsx", "cover.txt"} <= set(z.namelist())
    doc = (ROOT / "docs" / "channels" / "handoff.md").read_text()
    documented = re.findall(r"^\| `([a-z_0-9]+)` \|", doc, re.MULTILINE)
    assert documented == COLUMNS, "docs/channels/handoff.md must list the CSV columns in order"


def test_letter_pdf_writes_a_pdf_and_checks_the_address(tmp_path):
    ch = LetterPdfChannel(LetterPdfSettings(), make_context("letters", tmp_path))
    result = asyncio.run(ch.send(sample_message(html="<h1>Mise en demeure</h1>")))
    pdf = Path(result.artifacts[0])
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.parent.name == "letters"
    assert "to_post.csv" in {p.name for p in pdf.parent.iterdir()}
    from hub.contracts import Address, Recipient

    nowhere = sample_message(recipient=Recipient(customer_id=1, name="Nomad",
                                                 address=Address(line1="1 rue")))
    assert "missing city, postcode, country" in ch.problems(nowhere)[0]


def test_weasyprint_font_note_is_said_once_not_per_letter(caplog):
    import logging

    import plugins.letter_pdf  # noqa: F401  (installs the filter)

    log = logging.getLogger("weasyprint")
    with caplog.at_level(logging.INFO, logger="weasyprint"):
        for _ in range(3):
            log.warning('Using fontTools instead of HarfBuzz-Subset for font "DejaVu Serif".')
        log.warning("a real problem")
    notes = [r for r in caplog.records if "HarfBuzz" in r.getMessage()]
    assert len(notes) <= 1 and all(r.levelname == "INFO" for r in notes)
    assert [r.levelname for r in caplog.records if r.getMessage() == "a real problem"] == ["WARNING"]
