"""Turning a dispatch into a `Message`: the template context, the render, the payment
link and the attachments. Pure of state transitions (those belong to the dispatcher).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from hub.contracts import (
    Address,
    Attachment,
    InvoiceLine,
    Message,
    PaymentLinkRequest,
    Recipient,
)
from hub.money import quantize
from hub.plan.scenarios import steps_of
from hub.send.claims import claims_for
from hub.send.templates import renderer_for
from hub.store.db import session
from hub.store.events import record_event
from hub.store.models import CaseState, Customer, Dispatch, Invoice, PaymentLinkRow
from hub.workspace import Workspace

log = logging.getLogger("relance.compose")


@dataclass
class Work:
    """Everything the dispatcher knows about one dispatch while sending it."""

    dispatch: Dispatch
    customer: Customer
    invoices: list[Invoice]
    connection: str
    dropped: dict[int, str] = field(default_factory=dict)  # invoice id -> why it left
    gone: set[int] = field(default_factory=set)  # invoice ids the source no longer returns
    # read for the whole chunk by `preload` (None: read at compose time)
    owed: list[dict[str, Any]] | None = None
    past: tuple[dict[str, str], ...] | None = None
    credits: list[Invoice] | None = None  # the customer's open credits (netted on the statement)
    cases: list[CaseState] | None = None  # open case states, and the broken ones (the story)

    def net_due(self) -> dict[str, Decimal]:
        """Per currency, what the reminded invoices come to after the customer's open
        credits in that currency (never below zero): the statement's total and the
        payment link's amount."""
        due: dict[str, Decimal] = defaultdict(Decimal)
        held = self.disputed()
        for i in self.invoices:
            due[i.currency] += max(Decimal(0), i.amount_due - held.get(i.id, Decimal(0)))
        for c in self.credits or ():
            if c.currency in due:
                due[c.currency] = max(Decimal(0), due[c.currency] - c.amount_due)
        return dict(due)

    def disputed(self) -> dict[int, Decimal]:
        """Per invoice, the amount under an open partial dispute (not asked for)."""
        out: dict[int, Decimal] = defaultdict(Decimal)
        for c in self.cases or ():
            lapsed = c.until is not None and c.until < self.dispatch.planned_on
            if c.kind == "dispute" and c.closed_at is None and c.invoice_id and c.amount \
                    and not lapsed:
                out[c.invoice_id] += c.amount
        return out


def babel_locale(language: str, country: str | None, fallback: str) -> str:
    """The customer's language in their country, else in the company's (a GB company's
    customers of unknown country get GB dates, not the bare language's US ones)."""
    home = fallback.partition("_")[2]
    for candidate in (f"{language}_{country}" if country else None,
                      f"{language}_{home}" if home else None, language, fallback):
        if not candidate:
            continue
        try:
            return str(Locale.parse(candidate))
        except (UnknownLocaleError, ValueError):
            continue
    return "en"


def recipient(c: Customer, ws: Workspace) -> Recipient:
    return Recipient(
        customer_id=c.id, customer_code=c.code, name=c.name, email=c.email,
        cc_emails=tuple(filter(None, (c.cc_emails or "").split(","))), phone=c.phone,
        mobile=c.mobile, address=Address(line1=c.line1, line2=c.line2, city=c.city,
                                         postcode=c.postcode, region=c.region, country=c.country),
        language=c.language or ws.default_languages.get(c.connection_id)
        or ws.config.company.language, country=c.country,
        timezone=c.timezone or ws.config.company.timezone)


def invoice_lines(invoices: list[Invoice], today: dt.date) -> tuple[InvoiceLine, ...]:
    """Amounts with the currency's decimals (the store keeps four): `377.59`, never
    `377.5900`, in whatever a channel writes."""
    return tuple(InvoiceLine(
        id=i.id, external_id=i.external_id, number=i.number, currency=i.currency,
        total=quantize(i.total, i.currency), amount_due=quantize(i.amount_due, i.currency),
        issue_date=i.issue_date, due_date=i.due_date,
        days_overdue=(today - i.due_date).days, online_url=i.online_url, disputed=i.disputed,
        promised_until=i.promised_until) for i in invoices)


def totals(pairs: list[tuple[str, Decimal]]) -> list[dict[str, Any]]:
    acc: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in pairs:
        acc[currency] += amount
    return [{"currency": c, "amount": quantize(a, c)} for c, a in sorted(acc.items())]


def outstanding(s: Session, customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """What each customer owes in total, per currency (not only the reminded invoices)."""
    out: dict[int, list[dict[str, Any]]] = {c: [] for c in customer_ids}
    for cid, currency, amount in s.execute(
            select(Invoice.customer_id, Invoice.currency, func.sum(Invoice.amount_due)).where(
                Invoice.customer_id.in_(customer_ids), Invoice.status == "open",
                Invoice.kind == "invoice")
            .group_by(Invoice.customer_id, Invoice.currency).order_by(Invoice.currency)):
        out[cid].append({"currency": currency, "amount": amount})
    return out


def open_credits(s: Session, customer_ids: list[int]) -> dict[int, list[Invoice]]:
    """Each customer's unused credit notes and payments on account, oldest first."""
    out: dict[int, list[Invoice]] = {c: [] for c in customer_ids}
    for c in s.execute(select(Invoice).where(
            Invoice.customer_id.in_(customer_ids), Invoice.status == "open",
            Invoice.kind == "credit_note", Invoice.amount_due > 0, Invoice.hub_paid_at.is_(None))
            .order_by(Invoice.issue_date, Invoice.id)).scalars():
        out[c.customer_id].append(c)
    return out


def case_story(s: Session, customer_ids: list[int]) -> dict[int, list[CaseState]]:
    """Each customer's open case states and broken promises or plans (on the customer or
    one of its invoices), oldest first."""
    out: dict[int, list[CaseState]] = {c: [] for c in customer_ids}
    owner = dict(s.execute(select(Invoice.id, Invoice.customer_id).where(
        Invoice.customer_id.in_(customer_ids), Invoice.id.in_(
            select(CaseState.invoice_id).where(CaseState.invoice_id.is_not(None))))).all())
    for c in s.execute(select(CaseState).where(
            or_(CaseState.customer_id.in_(customer_ids), CaseState.invoice_id.in_(list(owner))),
            or_(CaseState.closed_at.is_(None), CaseState.outcome == "broken"))
            .order_by(CaseState.id)).scalars():
        out[c.customer_id or owner[c.invoice_id]].append(c)
    return out


def case_context(w: Work, today: dt.date) -> dict[str, Any]:
    """`promise`, `broken_promise`, `dispute`, `payment_plan` and `instalment` for the
    templates: a message says what the customer promised, and that it was not kept, only
    when that is so."""
    last_sent = max((p["sent_at"] for p in w.past or () if p.get("sent_at")), default="")
    out: dict[str, Any] = {"promise": None, "broken_promise": None, "dispute": None,
                           "payment_plan": None, "instalment": None}

    def plan_of(c: CaseState):
        return [{"date": dt.date.fromisoformat(d), "amount": Decimal(a)}
                for d, a in c.data.get("instalments", ())]
    for c in w.cases or ():
        cur = c.data.get("currency")
        if c.closed_at is None and c.kind == "promise" and (c.until is None or c.until >= today):
            out["promise"] = {"amount": c.amount, "currency": cur, "date": c.until}
        elif c.closed_at is None and c.kind == "dispute":
            out["dispute"] = {"amount": c.amount, "currency": cur, "reason": c.reason}
        elif c.closed_at is None and c.kind == "payment_plan":
            out["payment_plan"] = {"currency": cur, "instalments": plan_of(c)}
        elif c.outcome == "broken" and c.closed_at.isoformat() > last_sent:
            out["broken_promise"] = {"kind": c.kind, "amount": c.amount, "currency": cur,
                                     "date": c.until, "why": c.data.get("closed_because"),
                                     "instalments": plan_of(c)}
    if w.dispatch.scenario == "payment_plan" and out["payment_plan"]:
        day = w.dispatch.step.removeprefix("instalment-")
        out["instalment"] = next((i for i in out["payment_plan"]["instalments"]
                                  if i["date"].isoformat() == day), None)
    return out


def history(s: Session, customer_ids: list[int]) -> dict[int, list[Dispatch]]:
    """Every reminder already sent to these customers, oldest first."""
    out: dict[int, list[Dispatch]] = {c: [] for c in customer_ids}
    for d in s.execute(select(Dispatch).where(
            Dispatch.customer_id.in_(customer_ids), Dispatch.status == "sent")
            .order_by(Dispatch.sent_at, Dispatch.id)).scalars():
        out[d.customer_id].append(d)
    return out


def _past(sent: list[Dispatch], before_id: int) -> tuple[dict[str, str], ...]:
    return tuple({"sent_at": d.sent_at.isoformat() if d.sent_at else "", "channel": d.channel,
                  "step": d.step, "template": d.template, "status": d.delivery_status or "sent"}
                 for d in sent if d.id != before_id)


def preload(ws: Workspace, works: list[Work], s: Session | None = None) -> None:
    """Outstanding totals, credits, case states and history for a whole chunk in a few
    queries, not a few per send."""
    ids = sorted({w.customer.id for w in works})
    if not ids:
        return
    if s is None:
        with session(ws.engine) as own:
            return preload(ws, works, own)
    owed, sent, credit = outstanding(s, ids), history(s, ids), open_credits(s, ids)
    story = case_story(s, ids)
    for w in works:
        w.cases = story[w.customer.id]
        w.owed, w.past = owed[w.customer.id], _past(sent[w.customer.id], w.dispatch.id)
        sc = ws.config.scenarios.get(w.dispatch.scenario)
        # netted only where one message speaks for the account (one voice): two per-invoice
        # reminders must not each subtract the same credit
        w.credits = credit[w.customer.id] if sc is not None and sc.one_voice else []


def step_config(ws: Workspace, d: Dispatch):
    sc = ws.config.scenarios.get(d.scenario)  # None: a payment plan's instalment reminder
    for st in steps_of(sc) if sc else ():
        if st.key == d.step:
            return st.config
    return None


async def payment_link(ws: Workspace, w: Work, provider_name: str) -> PaymentLinkRow | None:
    """Reuse the link of this invoice set while its amount is unchanged; else replace it.

    No database transaction is held while the provider is called (SQLite has one writer)."""
    currencies = {i.currency for i in w.invoices}
    if len(currencies) != 1:
        log.warning("dispatch %s: no payment link for several currencies", w.dispatch.id)
        return None
    currency = currencies.pop()
    amount = w.net_due()[currency]  # net of the customer's credits
    if amount <= 0:
        return None
    key = ",".join(str(i.id) for i in sorted(w.invoices, key=lambda i: i.id))
    with session(ws.engine) as s:
        current = s.execute(select(PaymentLinkRow).where(
            PaymentLinkRow.provider == provider_name, PaymentLinkRow.invoice_key == key,
            PaymentLinkRow.active)).scalars().first()
    if current and current.amount == amount and current.currency == currency:
        return current
    provider = ws.payment_provider(provider_name)
    if current:
        if type(provider).supports_deactivate:  # else the old link simply stops being sent
            await provider.deactivate_link(current.provider_ref)
        with session(ws.engine, immediate=True) as s:
            s.execute(update(PaymentLinkRow).where(PaymentLinkRow.id == current.id)
                      .values(active=False))
    link = await provider.create_link(PaymentLinkRequest(
        idempotency_key=f"{w.dispatch.idempotency_key}:{provider_name}:{amount}",
        amount=amount, currency=currency,
        description=f"{ws.config.company.name} — " + ", ".join(i.number for i in w.invoices),
        invoice_refs=tuple(f"{w.connection}:{i.external_id}" for i in w.invoices),
        customer_name=w.customer.name, customer_email=w.customer.email,
        previous_link_ref=current.provider_ref if current else None))
    row = PaymentLinkRow(provider=provider_name, provider_ref=link.provider_ref, url=link.url,
                         invoice_key=key, amount=link.amount, currency=link.currency)
    with session(ws.engine, immediate=True) as s:
        s.add(row)
    return row


async def attachments(ws: Workspace, w: Work) -> tuple[Attachment, ...]:
    """The invoices' PDFs for a step with `attach_invoice`. An attachment is a courtesy:
    the reminder goes without it, and the dispatch's history says which is missing and why."""
    connector = ws.connector(w.connection)
    if not connector.supports_pdf:  # the instance: a setting may turn PDFs on (Odoo)
        _no_pdf(ws, w, [i.number for i in w.invoices],
                f"connection {w.connection} cannot fetch invoice PDFs")
        return ()
    out, missing = [], {}
    for inv in w.invoices:
        try:
            data = await connector.fetch_pdf(inv.external_id)
        except Exception as exc:
            missing[inv.number] = str(exc)
            continue
        if data:
            out.append(Attachment(filename=f"{inv.number}.pdf", content_type="application/pdf",
                                  data=data))
        else:
            missing[inv.number] = "the ledger has no PDF for it"
    for number, why in missing.items():
        _no_pdf(ws, w, [number], why)
    return tuple(out)


def _no_pdf(ws: Workspace, w: Work, numbers: list[str], why: str) -> None:
    log.warning("dispatch %s: no PDF attached for %s: %s", w.dispatch.id, ", ".join(numbers), why)
    with session(ws.engine) as s:
        record_event(s, "attachment_missing", f"no PDF attached for invoice(s) "
                     f"{', '.join(numbers)}: {why}", level="warning", dispatch_id=w.dispatch.id,
                     customer_id=w.dispatch.customer_id)


def context(ws: Workspace, w: Work, rcpt: Recipient, today: dt.date, locale: str,
            outstanding_rows: list[dict[str, Any]], link: str | None) -> dict[str, Any]:
    comp = ws.company
    held = w.disputed()
    lines = [line.model_dump() | {"disputed_amount": quantize(held[line.id], line.currency)
                                  if line.id in held else None}
             for line in invoice_lines(w.invoices, today)]
    st = step_config(ws, w.dispatch)
    reminded = {i.currency for i in w.invoices}
    options = dict(st.options) if st else {}
    return {
        "company": {"name": comp.name, "signatory": comp.signatory, "email": comp.email,
                    "phone": comp.phone, "address": comp.address.model_dump()},
        "customer": {"name": rcpt.name, "code": rcpt.customer_code, "email": rcpt.email,
                     "phone": rcpt.mobile or rcpt.phone, "address": rcpt.address.model_dump()},
        "invoices": lines,
        # credits as negative lines, and totals net of them (what is asked for)
        "credits": [{"number": c.number, "currency": c.currency, "issue_date": c.issue_date,
                     "amount": -quantize(c.amount_due, c.currency)}
                    for c in w.credits or () if c.currency in reminded],
        "totals": totals(list(w.net_due().items())),
        "gross_totals": totals([(i.currency, i.amount_due) for i in w.invoices]),
        "outstanding": outstanding_rows,
        "payment_link": link,
        "signatory": comp.signatory or comp.name,
        "today": today, "locale": locale, "language": rcpt.language,
        "step": w.dispatch.step, "scenario": w.dispatch.scenario, "channel": w.dispatch.channel,
        # the case so far, so a text claims only what happened: "Despite our previous
        # reminders" only after one went out, "registered letter" only when it is one, the
        # French commercial code only under French law (the seller's)
        "previous_reminders": list(w.past or ()), "history": list(w.past or ()),
        "registered_mail": bool(options.get("certified") or options.get("registered")),
        "law": ws.config.company.country,
        "claim": claims_for(ws, w.invoices, w.customer.customer_type, today, held)
        if st and st.claim_fees else None,
    } | case_context(w, today)


async def compose(ws: Workspace, w: Work, today: dt.date) -> Message:
    """Render the dispatch into a Message (creating its payment link on the way)."""
    d, st = w.dispatch, step_config(ws, w.dispatch)
    rcpt = recipient(w.customer, ws)
    locale = babel_locale(rcpt.language, rcpt.country, ws.config.company.babel_locale)
    if w.owed is None or w.past is None or w.credits is None or w.cases is None:
        preload(ws, [w])
    link_row = await payment_link(ws, w, st.payment_link) if st and st.payment_link else None
    if link_row:
        d.payment_link_id = link_row.id
    owed, hist = w.owed, w.past
    ctx = context(ws, w, rcpt, today, locale, owed, link_row.url if link_row else None)
    rendered = renderer_for(ws).render(d.template, rcpt.language, ctx)
    files = await attachments(ws, w) if st and st.attach_invoice else ()
    return Message(
        idempotency_key=d.idempotency_key, dispatch_id=d.id, scenario=d.scenario, step=d.step,
        template=rendered.template, recipient=rcpt, company=ws.company,
        subject=rendered.subject, text=rendered.text, html=rendered.html, attachments=files,
        invoices=invoice_lines(w.invoices, today), history=hist,
        payment_link=link_row.url if link_row else None,
        options=dict(st.options) if st else {})
