"""CSV/Excel connector: messy real-world exports in, exact records out, bad rows named."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from hub.contracts import CustomerRecord, InvoiceRecord, RecordProblem
from hub.errors import PermanentError
from hub.testing import make_context
from plugins.csv import CsvConnector, CsvSettings
from plugins.csv.parsing import parse_decimal

HEADER = "invoice_number;customer_name;email;currency;amount_due;due_date;status\n"


def connector(tmp_path: Path, **settings) -> CsvConnector:
    settings.setdefault("path", "invoices.csv")
    return CsvConnector(CsvSettings(**settings), make_context("books", tmp_path))


def collect(conn: CsvConnector, cursor=None):
    async def go():
        return [page async for page in conn.sync(cursor or {})]
    pages = asyncio.run(go())
    records = [r for p in pages for r in p.records]
    return pages, records


def of(records, kind):
    return [r for r in records if isinstance(r, kind)]


@pytest.mark.parametrize("text,expected", [
    ("1234.56", "1234.56"), ("1 234,56", "1234.56"), ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"), ("1\u202f234,56 €", "1234.56"), ("(12.00)", "-12.00"), ("0,1", "0.1"),
    ("12,50-", "-12.50"), ("1.234,56-", "-1234.56"), ("\u221212.00", "-12.00"),
])
def test_amount_formats_are_exact_decimals(text, expected):
    assert parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text,places,expected", [
    ("1,234", 0, "1234"), ("1.500", 2, "1500"), ("-12,345", 2, "-12345"), ("¥1,234", 0, "1234"),
    ("1,234,567", 2, "1234567"), ("1.234.567", 0, "1234567"), ("1,234", 3, "1.234"),
    ("0,125", 2, "0.125"), ("1234,567", 2, "1234.567"), ("12,50", 2, "12.50"),
])
def test_a_lone_separator_before_three_digits_is_a_thousands_one_unless_the_currency_has_three_decimals(
        text, places, expected):
    assert parse_decimal(text, places=places) == Decimal(expected)


def test_thousands_in_yen_and_three_decimal_dinars_in_one_export(tmp_path):
    (tmp_path / "invoices.csv").write_text(
        "invoice_number,customer_name,currency,amount_due,total,due_date\n"
        "J-1,Tanaka,JPY,\"1,234\",\"2,500\",2026-11-24\n"
        "K-1,Al Sabah,KWD,\"1,234\",\"1,234\",2026-11-24\n"
        "E-1,Dupont,EUR,\"1,500\",\"1,500.50\",2026-11-24\n", encoding="utf-8")
    inv = {i.number: i for i in of(collect(connector(tmp_path))[1], InvoiceRecord)}
    assert (inv["J-1"].amount_due, inv["J-1"].total) == (Decimal(1234), Decimal(2500))
    assert inv["K-1"].amount_due == Decimal("1.234")
    assert (inv["E-1"].amount_due, inv["E-1"].total) == (Decimal(1500), Decimal("1500.50"))


def test_semicolon_decimal_comma_cp1252(tmp_path):
    (tmp_path / "invoices.csv").write_bytes(
        (HEADER + "F-1;Société Générale Équipement;a@b.fr;EUR;1 234,56;24/11/2026;\n"
         "F-2;Café du Commerce;c@d.fr;EUR;0,10;2026-12-01;payée\n").encode("cp1252"))
    _, records = collect(connector(tmp_path))
    inv = of(records, InvoiceRecord)
    assert [i.amount_due for i in inv] == [Decimal("1234.56"), Decimal("0.10")]
    assert inv[0].due_date == dt.date(2026, 11, 24) and inv[1].status == "paid"
    assert of(records, CustomerRecord)[0].name == "Société Générale Équipement"


def test_utf8_bom_and_comma(tmp_path):
    (tmp_path / "invoices.csv").write_bytes(
        "\ufeffinvoice_number,customer_name,currency,amount_due,due_date\n"
        "A-1,Zoë Ltd,GBP,\"1,500.00\",01.12.2026\n".encode())
    _, records = collect(connector(tmp_path))
    [inv] = of(records, InvoiceRecord)
    assert inv.amount_due == Decimal("1500.00") and inv.currency == "GBP"
    assert inv.due_date == dt.date(2026, 12, 1)


def test_bad_rows_are_named_and_the_rest_imports(tmp_path):
    (tmp_path / "invoices.csv").write_text(
        HEADER + "F-1;Good;;EUR;10;2026-11-24;\n"
        "F-2;Bad date;;EUR;10;31/02/2026;\n"
        "F-3;Bad amount;;EUR;ten;2026-11-24;\n"
        "F-4;Bad currency;;EURO;10;2026-11-24;\n"
        "F-5;Good too;;EUR;20;2026-11-25;\n", encoding="utf-8")
    _, records = collect(connector(tmp_path))
    assert [i.number for i in of(records, InvoiceRecord)] == ["F-1", "F-5"]
    problems = {p.place: p.reason for p in of(records, RecordProblem)}
    assert set(problems) == {"invoices.csv:3:due_date", "invoices.csv:4:amount_due",
                             "invoices.csv:5:currency"}
    assert "'31/02/2026' is not a date" in problems["invoices.csv:3:due_date"]
    assert "'ten' is not an amount" in problems["invoices.csv:4:amount_due"]


def test_a_header_that_matches_no_mapping_fails_the_sync_naming_the_column_and_the_fix(tmp_path):
    (tmp_path / "invoices.csv").write_text("Numéro;Client;Montant;Echéance\nF-1;X;1;2026-11-24\n")
    with pytest.raises(PermanentError) as caught:
        collect(connector(tmp_path))
    text = str(caught.value)
    assert text.startswith("invoices.csv:1:") and "'invoice_number'" in text and "columns:" in text


def test_a_missing_or_unreadable_export_fails_instead_of_looking_empty(tmp_path):
    with pytest.raises(PermanentError, match=r"no file found at 'invoices\.csv'"):
        collect(connector(tmp_path))
    with pytest.raises(PermanentError, match="no file found"):  # the fresh-check too
        asyncio.run(connector(tmp_path).refresh(["F-1"]))


def test_a_complete_export_without_data_rows_is_refused(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER)
    with pytest.raises(PermanentError, match=r"no data rows.*Nothing was closed"):
        collect(connector(tmp_path, complete_export=True))


def test_column_mapping(tmp_path):
    (tmp_path / "invoices.csv").write_text("Numéro;Client;Montant;Echéance\nF-1;X;1,5;24/11/2026\n")
    conn = connector(tmp_path, columns={"number": "Numéro", "customer_name": "Client",
                                        "amount_due": "Montant", "due_date": "Echéance"})
    [inv] = of(collect(conn)[1], InvoiceRecord)
    assert inv.amount_due == Decimal("1.5") and inv.number == "F-1"


def test_folder_xlsx_and_unchanged_files_are_skipped(tmp_path):
    from openpyxl import Workbook

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;\n")
    wb = Workbook()
    wb.active.append(["invoice_number", "customer_name", "currency", "amount_due", "due_date"])
    wb.active.append(["X-1", "B", "CHF", 99.95, dt.datetime(2026, 12, 3)])
    wb.active.append(["X-2", "B", "EUR", 12.345, dt.datetime(2026, 12, 3)])  # a number: 12.345
    wb.save(folder / "b.xlsx")
    conn = connector(tmp_path, path="exports")
    pages, records = collect(conn)
    inv = {i.number: i for i in of(records, InvoiceRecord)}
    assert inv["X-1"].amount_due == Decimal("99.95") and inv["X-1"].due_date == dt.date(2026, 12, 3)
    assert inv["X-2"].amount_due == Decimal("12.345")
    cursor = {k: v for p in pages for k, v in p.cursor.items()}
    assert of(collect(conn, cursor)[1], InvoiceRecord) == []  # nothing changed
    (folder / "a.csv").write_text(HEADER + "F-1;A;;EUR;5;2026-11-24;\n")
    again = of(collect(conn, cursor)[1], InvoiceRecord)
    assert [(i.number, i.amount_due) for i in again] == [("F-1", Decimal("5"))]


def test_complete_export_marks_the_last_page(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;\n")
    pages, _ = collect(connector(tmp_path, complete_export=True))
    assert pages[-1].complete_snapshot and not any(p.complete_snapshot for p in pages[:-1])
    pages, _ = collect(connector(tmp_path))
    assert not any(p.complete_snapshot for p in pages)


def test_refresh_rereads_current_values(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;\n")
    conn = connector(tmp_path)
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;0;2026-11-24;paid\n")
    [inv] = asyncio.run(conn.refresh(["F-1"]))
    assert inv.status == "paid"


def test_sample_generator_feeds_the_connector(tmp_path):
    from hub.demo.sample import write_sample

    write_sample(tmp_path / "invoices.csv", dt.date(2026, 11, 24))
    _, records = collect(connector(tmp_path))
    invoices = of(records, InvoiceRecord)
    assert len(invoices) == 202 and not of(records, RecordProblem)
    assert sum(i.kind == "credit_note" for i in invoices) == 2  # one covers, one nets
    assert len(of(records, CustomerRecord)) <= 40
    assert {i.currency for i in invoices} >= {"EUR", "GBP", "JPY"}
    assert any(i.status == "paid" for i in invoices) and any(i.disputed for i in invoices)


def _varied_export(path: Path, rows: int, decimal: str) -> None:
    """Rows as ledgers write them: separators, blanks, statuses, ids, repeated customers."""
    import random

    rng = random.Random(7)
    lines = ["invoice_id;invoice_number;customer_id;customer_name;email;city;currency;total;"
             "amount_due;issue_date;due_date;status;disputed;promised_until"]
    for n in range(rows):
        cents = rng.randint(1, 12_345_678)
        currency = rng.choice(["EUR", "eur", "", "GBP", "JPY"])
        due = f"{cents // 100:,}.{cents % 100:02d}"
        if currency == "JPY":  # no decimals: 1,234 is a thousand and more
            due = f"{cents:,}" if decimal == "." else f"{cents:,}".replace(",", ".")
        elif decimal == ",":
            due = due.replace(",", " ").replace(".", ",")
        total = rng.choice([due, due, "", f"{cents // 100 + 1}{decimal}00"])
        c = rng.randrange(60)
        lines.append(";".join([
            rng.choice(["", f"ID{n}"]), f"F-{n}", rng.choice([f"C{c}", ""]), f"Client {c}",
            rng.choice(["", f"c{c}@example.com"]), rng.choice(["", "Lyon"]),
            currency, total, due,
            rng.choice(["", "03/10/2026", "2026-10-04"]), rng.choice(["24/11/2026", "2026-12-01"]),
            rng.choice(["", "", "Payée", "void", "open"]), rng.choice(["", "", "oui", "no"]),
            rng.choice(["", "", "15/12/2026"])]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("decimal", [",", "."])
def test_pages_read_column_wise_equal_the_row_by_row_reading(tmp_path, monkeypatch, decimal):
    from plugins.csv.rows import RowReader

    _varied_export(tmp_path / "invoices.csv", 700, decimal)
    conn = connector(tmp_path, page_size=300)
    pages, fast = collect(conn)
    # 700 rows in pages of 300 rows, whatever the reader's inner chunks
    assert [len(of(p.records, InvoiceRecord)) for p in pages if p.records] == [300, 300, 100]
    monkeypatch.setattr(RowReader, "_columns", lambda self, rows: None)
    _, slow = collect(connector(tmp_path, page_size=300))
    def key(r):
        return type(r).__name__, r.external_id

    # the same records (a chunk's new customers come first, each before its invoices)
    assert sorted(fast, key=key) == sorted(slow, key=key) and not of(fast, RecordProblem)
    position = {key(r): n for n, r in enumerate(fast)}
    assert all(position["CustomerRecord", i.customer_external_id] < position[key(i)]
               for i in of(fast, InvoiceRecord))
    invoices = of(fast, InvoiceRecord)
    # a customer once, from its first row: "C7" by id and "Client 7" by name are two
    assert len(invoices) == 700 and len(of(fast, CustomerRecord)) == len(
        {i.customer_external_id for i in invoices}) == 120
    assert {i.status for i in invoices} == {"open", "paid", "void"}
    assert any(i.disputed for i in invoices) and any(i.total != i.amount_due for i in invoices)
    assert any(i.external_id.startswith("ID") for i in invoices)
    yen = [i for i in invoices if i.currency == "JPY" and i.amount_due >= 1000]
    assert yen and all(i.amount_due == i.amount_due.to_integral_value() for i in yen)


def test_a_bad_cell_among_good_rows_is_named_and_its_neighbours_import(tmp_path):
    _varied_export(tmp_path / "invoices.csv", 300, ",")
    lines = (tmp_path / "invoices.csv").read_text().splitlines()
    cells = lines[150].split(";")
    cells[8] = "douze"  # amount_due of line 151
    lines[150] = ";".join(cells)
    (tmp_path / "invoices.csv").write_text("\n".join(lines) + "\n")
    _, records = collect(connector(tmp_path))
    [problem] = of(records, RecordProblem)
    assert problem.place == "invoices.csv:151:amount_due" and "'douze'" in problem.reason
    assert len(of(records, InvoiceRecord)) == 299


def test_refresh_reads_an_unchanged_export_once(tmp_path, monkeypatch):
    import os

    (tmp_path / "invoices.csv").write_text(
        HEADER + "".join(f"F-{n};A;;EUR;{n};2026-11-24;\n" for n in range(1, 301)))
    conn = connector(tmp_path)
    reads = []
    original = CsvConnector.read
    monkeypatch.setattr(CsvConnector, "read", lambda self, path: reads.append(path) or
                        original(self, path))
    for batch in (["F-1", "F-2"], ["F-300", "missing"], ["F-150"]):  # as the hub asks: in batches
        found = asyncio.run(conn.refresh(batch))
        assert [i.external_id for i in found] == [b for b in batch if b != "missing"]
    assert len(reads) == 1
    path = tmp_path / "invoices.csv"
    path.write_text(HEADER + "F-150;A;;EUR;0;2026-11-24;paid\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    [inv] = asyncio.run(conn.refresh(["F-150"]))
    assert inv.status == "paid" and len(reads) == 2
    # rewritten in place: same size, same modification time, the customer paid
    stamp = path.stat().st_mtime_ns
    path.write_text(HEADER + "F-150;A;;EUR;0;2026-11-24;void\n")
    os.utime(path, ns=(stamp, stamp))
    [inv] = asyncio.run(conn.refresh(["F-150"]))
    assert inv.status == "void" and len(reads) == 3


def test_the_refresh_index_is_let_go_once_the_sends_are_over(tmp_path, monkeypatch):
    import plugins.csv as csv_plugin

    monkeypatch.setattr(csv_plugin, "KEEP_INDEX_SECONDS", 0.05)
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;\n")
    conn = connector(tmp_path)

    async def go():
        await conn.refresh(["F-1"])
        held = len(conn._indexes)
        await asyncio.sleep(0.2)
        return held, len(conn._indexes)

    assert asyncio.run(go()) == (1, 0)  # a service does not keep a big export in memory



@pytest.mark.parametrize("dates,expected", [
    # a US export: 11/24 shows the month comes first, so 03/04 is March 4
    (["03/04/2026", "11/24/2026"], [dt.date(2026, 3, 4), dt.date(2026, 11, 24)]),
    # a European one: 24/11 shows the day comes first
    (["03/04/2026", "24/11/2026"], [dt.date(2026, 4, 3), dt.date(2026, 11, 24)]),
    # nothing tells: day first, as documented
    (["03/04/2026", "05/06/2026"], [dt.date(2026, 4, 3), dt.date(2026, 6, 5)]),
])
def test_day_or_month_first_is_read_from_the_files_own_dates(tmp_path, caplog, dates, expected):
    (tmp_path / "invoices.csv").write_text(HEADER + "".join(
        f"F-{n};A;;USD;10;{d};\n" for n, d in enumerate(dates)))
    with caplog.at_level("INFO"):
        _, records = collect(connector(tmp_path))
    assert not of(records, RecordProblem)
    assert [i.due_date for i in of(records, InvoiceRecord)] == expected
    # the choice is said when it departs from the documented default
    said = "invoices.csv: dates read month first" in caplog.text
    assert said == (expected[0].month == 3)


def test_configured_date_formats_are_not_second_guessed(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;USD;10;03/04/2026;\n"
                                           "F-2;A;;USD;10;11/24/2026;\n")
    _, records = collect(connector(tmp_path, date_formats=["%d/%m/%Y"]))
    [inv] = of(records, InvoiceRecord)
    [problem] = of(records, RecordProblem)
    assert inv.due_date == dt.date(2026, 4, 3) and problem.place == "invoices.csv:3:due_date"


def test_a_status_mapped_to_no_known_state_is_named_with_its_fix(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;Soldée\n"
                                           "F-2;A;;EUR;10;2026-11-24;\n")
    _, records = collect(connector(tmp_path, status_values={"Soldée": "settled"}))
    [problem] = of(records, RecordProblem)
    assert problem.place == "invoices.csv:2:status"
    assert "'Soldée' to 'settled'" in problem.reason and "use open, paid or void" in problem.reason
    assert [i.number for i in of(records, InvoiceRecord)] == ["F-2"]


def test_an_unknown_currency_code_is_a_bad_row_named_with_its_place(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;XXQ;10;2026-11-24;\n"
                                           + "F-2;B;;EUR;10;2026-11-24;\n")
    _, records = collect(connector(tmp_path))
    assert [i.number for i in of(records, InvoiceRecord)] == ["F-2"]
    [problem] = of(records, RecordProblem)
    assert problem.place == "invoices.csv:2:currency" and "'XXQ' is not an ISO 4217" in problem.reason


def test_a_negative_amount_is_a_credit_note(tmp_path):
    (tmp_path / "invoices.csv").write_text(HEADER + "AV-1;A;;EUR;-150,00;2026-11-24;\n"
                                           + "F-1;A;;EUR;100,00;2026-11-24;\n")
    _, records = collect(connector(tmp_path))
    kinds = {i.number: (i.kind, i.amount_due, i.total) for i in of(records, InvoiceRecord)}
    assert kinds == {"AV-1": ("credit_note", Decimal("150.00"), Decimal("150.00")),
                     "F-1": ("invoice", Decimal("100.00"), Decimal("100.00"))}


def test_an_unknown_key_under_columns_is_an_error_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown field\(s\) 'invoice_number'.*valid: invoice_id, number"):
        CsvSettings(path="x.csv", columns={"invoice_number": "N°"})


def test_doctor_checks_each_files_header_against_the_mapping(tmp_path):
    (tmp_path / "invoices.csv").write_text("Numéro;Client;Montant;Echéance\nF-1;X;1;2026-11-24\n")
    [problem] = asyncio.run(connector(tmp_path).check())
    assert "invoices.csv:1: missing column(s) 'invoice_number'" in problem
    (tmp_path / "invoices.csv").write_text(HEADER + "F-1;A;;EUR;10;2026-11-24;\n")
    assert asyncio.run(connector(tmp_path).check()) == []
