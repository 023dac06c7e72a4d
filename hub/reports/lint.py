"""`relance scenarios lint`: what in the scenarios will not work as written, with its place.

Checks what the config validation cannot know alone: the order the steps run in (by
offset) against the order they are written; a `when:` that holds for none of today's open
invoices (or a condition that can never hold); a template missing in a language some
customers speak (they would get the fallback's); a step no customer's scenario reaches.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from hub.config.conditions import to_sql
from hub.plan.planner import invoice_columns
from hub.plan.scenarios import steps_of
from hub.send.templates import renderer_for
from hub.store.db import session
from hub.store.models import Customer, Invoice
from hub.workspace import Workspace


def lint(ws: Workspace, today: dt.date) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def say(level: str, key: tuple, message: str) -> None:
        out.append({"level": level, "place": ws.loaded.place(*key), "message": message})
    renderer = renderer_for(ws)
    with session(ws.engine) as s:
        languages: dict[str, int] = {}
        for lang, conn, n in s.execute(select(Customer.language, Customer.connection_id,
                                              func.count()).group_by(Customer.language,
                                                                     Customer.connection_id)):
            lang = lang or ws.default_languages.get(conn) or ws.config.company.language
            languages[lang] = languages.get(lang, 0) + n
        followed = dict(s.execute(select(Customer.scenario, func.count())
                                  .group_by(Customer.scenario)).all())
        inv, cust = Invoice.__table__.c, Customer.__table__.c
        open_rows = select(func.count()).select_from(Invoice.__table__.join(
            Customer.__table__, cust.id == inv.customer_id)).where(
            inv.status == "open", inv.kind == "invoice")
        total = s.execute(open_rows).scalar_one()
        for name, sc in ws.config.scenarios.items():
            if total and not followed.get(name) and not any(r.scenario == name for r in
                                                            ws.config.assign):
                say("warning", ("scenarios", name), f"scenario {name}: no `assign` rule "
                    "sends a customer to it; its steps are never reached")
            ordered = steps_of(sc)
            for written, st in enumerate(sc.steps):
                step = next(x for x in ordered if x.config is st)
                key = ("scenarios", name, "steps", written)
                if step.index != written:
                    say("warning", key, f"step {step.key} is written {_nth(written)} but runs "
                        f"{_nth(step.index)} (steps run in the order of their offsets)")
                if st.when and total:
                    hits = s.execute(open_rows.where(to_sql(st.when, "invoice",
                                                            invoice_columns(), today))).scalar_one()
                    if hits == 0:
                        say("warning", (*key, "when"), f"step {step.key}: `when: {st.when}` "
                            f"holds for none of the {total} open invoices")
                for lang, n in sorted(languages.items()):
                    rel = f"{lang.split('_')[0]}/{st.template}.j2"
                    if not any((p / rel).exists() for p in renderer.paths):
                        say("warning", (*key, "template"), f"step {step.key}: no {rel} — {n} "
                            f"customer(s) in {lang} get the {_fallback(renderer, st.template, lang)}"
                            " one")
    return out


def _nth(i: int) -> str:
    return {0: "first", 1: "second", 2: "third"}.get(i, f"#{i + 1}")


def _fallback(renderer, template: str, language: str) -> str:
    try:
        return renderer.resolve(template, language).split("/")[0]
    except Exception:
        return "no"
