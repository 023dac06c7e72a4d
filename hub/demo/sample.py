"""Sample export for `relance demo`: ~200 invoices for ~40 customers, deterministic.

Several currencies (EUR mostly, GBP, USD, CHF, JPY), some paid, some disputed, due
dates from 90 days overdue to 20 days ahead — so every step of a scenario has work.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

FIRST = ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Jules", "Emma", "Arthur", "Olivia",
         "George", "Amelia", "Harry", "Isla", "Oscar", "Sophie", "Thomas"]
COMPANIES = ["Boulangerie", "Atelier", "Garage", "Studio", "Transports", "Cabinet", "Ferme",
             "Imprimerie", "Brasserie", "Consulting", "Logistics", "Workshop", "Design",
             "Engineering", "Trading", "Bakery"]
FR_CITIES = [("Lyon", "69002"), ("Paris", "75011"), ("Bordeaux", "33000"), ("Lille", "59000"),
             ("Nantes", "44000"), ("Toulouse", "31000")]
UK_CITIES = [("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Bristol", "BS1 4DJ")]
HEADER = ["invoice_id", "invoice_number", "customer_id", "customer_code", "customer_name",
          "email", "phone", "mobile", "language", "segment", "tags", "address", "city",
          "postcode", "country", "currency", "total", "amount_due", "issue_date", "due_date",
          "status", "disputed"]


def mobile_number(rng: random.Random, french: bool) -> str:
    """A valid mobile number (checked with phonenumbers, so the demo's SMS go through)."""
    import phonenumbers

    while True:
        number = (f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                  f"{rng.randint(10, 99)}") if french else f"+44 7400 {rng.randint(100000, 999999)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def customers(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(1, n + 1):
        french = i % 3 != 0
        company = f"{rng.choice(COMPANIES)} {rng.choice(FIRST)}"
        city, postcode = rng.choice(FR_CITIES if french else UK_CITIES)
        mobile = mobile_number(rng, french)
        out.append({
            "customer_id": f"CUST-{i:04d}", "customer_code": f"C{i:04d}",
            "customer_name": company,
            "email": f"accounts@{company.lower().replace(' ', '-').replace('é', 'e')}"
                     f".{'fr' if french else 'co.uk'}".replace("-", ""),
            "phone": "", "mobile": mobile,
            "language": "fr" if french else "en",
            "segment": "key_account" if i % 9 == 0 else "standard",
            "tags": "vip" if i % 13 == 0 else "",
            "address": f"{rng.randint(1, 120)} {'rue de la République' if french else 'High Street'}",
            "city": city, "postcode": postcode, "country": "FR" if french else "GB",
            "currency": "EUR" if french else rng.choice(["GBP", "GBP", "USD", "CHF", "JPY"]),
        })
    return out


def write_sample(path: Path, today: dt.date, invoices: int = 200, customers_n: int = 40,
                 seed: int = 7) -> Path:
    rng = random.Random(seed)
    custs = customers(rng, customers_n)
    # offsets that hit each default step on the demo day, plus a spread
    hits = [7, -3, -10, -15, -30, -60]
    overdue: dict[str, Decimal] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for n in range(1, invoices + 1):
            c = custs[(n * 7) % len(custs)]
            offset = hits[(n // 3) % len(hits)] if n % 3 == 0 else rng.randint(-90, 20)
            due = today + dt.timedelta(days=offset)
            issue = due - dt.timedelta(days=30)
            if c["currency"] == "JPY":
                total = Decimal(rng.randint(20, 900) * 1000)
            else:
                total = Decimal(rng.randint(5000, 950000)) / 100
            status = "paid" if n % 11 == 0 else "open"
            due_amount = Decimal(0) if status == "paid" else (
                (total / 2).quantize(Decimal("0.01")) if n % 17 == 0 and c["currency"] != "JPY"
                else total)
            w.writerow([f"INV-{n:05d}", f"F2026-{n:05d}", c["customer_id"], c["customer_code"],
                        c["customer_name"], c["email"], c["phone"], c["mobile"], c["language"],
                        c["segment"], c["tags"], c["address"], c["city"], c["postcode"],
                        c["country"], c["currency"], f"{total:.2f}" if c["currency"] != "JPY"
                        else f"{total:.0f}", f"{due_amount:.2f}" if c["currency"] != "JPY"
                        else f"{due_amount:.0f}", issue.isoformat(), due.isoformat(), status,
                        "yes" if n % 23 == 0 else ""])
            if status == "open" and offset < 0:
                overdue[c["customer_id"]] = overdue.get(c["customer_id"], Decimal(0)) + due_amount
        # credit notes (negative rows): one covers all its customer owes, one a third of it
        for n, (c, share) in enumerate(((custs[0], Decimal("1.1")), (custs[1], Decimal("0.3"))),
                                       start=invoices + 1):
            amount = -(overdue.get(c["customer_id"], Decimal(100)) * share).quantize(Decimal("0.01"))
            w.writerow([f"CN-{n:05d}", f"AV2026-{n:05d}", c["customer_id"], c["customer_code"],
                        c["customer_name"], c["email"], c["phone"], c["mobile"], c["language"],
                        c["segment"], c["tags"], c["address"], c["city"], c["postcode"],
                        c["country"], c["currency"], f"{amount:.2f}", f"{amount:.2f}",
                        (today - dt.timedelta(days=20)).isoformat(),
                        (today - dt.timedelta(days=20)).isoformat(), "open", ""])
    return path
