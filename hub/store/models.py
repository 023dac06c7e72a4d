"""The store: SQLModel tables. They never leave the core (plugins see `hub.contracts`).

Money columns use `Money`, a Decimal stored as an exact integer of 1/10,000 units, so
sums, comparisons and `when:` conditions are exact in SQLite and PostgreSQL alike.
Instants are timezone-aware UTC `datetime`s; due dates are `date`s.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text  # noqa: F401
from sqlmodel import Field, SQLModel

from hub.clock import utcnow
from hub.store.money import Money


def money(nullable: bool = False, default: Decimal | None = None) -> Any:
    return Field(default=default, sa_column=Column(Money(), nullable=nullable))


class Connection(SQLModel, table=True):
    """A configured ledger connection, its sync cursor, state and (encrypted) token."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    plugin: str
    state: str = "ok"  # ok | needs_reauth | paused | error
    state_detail: str | None = None
    paused_until: dt.datetime | None = None
    cursor: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    token: str | None = None  # Fernet ciphertext of the JSON token, never plaintext
    sync_generation: int = 0
    last_sync_started_at: dt.datetime | None = None
    last_sync_ok_at: dt.datetime | None = None
    last_error: str | None = None


class Customer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id", index=True)
    external_id: str
    name: str
    code: str | None = None
    email: str | None = None
    cc_emails: str | None = None  # comma-separated
    phone: str | None = None
    mobile: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None
    language: str | None = None
    timezone: str | None = None
    segment: str | None = None
    customer_type: str = "business"  # business | consumer (the late-payment law that applies)
    tags: str | None = None  # ",a,b," so that `'a' in tags` is a LIKE in SQL
    tax_id: str | None = None
    scenario: str | None = Field(default=None, index=True)
    on_hold: bool = False
    placeholder: bool = False  # created from an invoice before its customer record arrived
    updated_at: dt.datetime = Field(default_factory=utcnow)


def customer_named(value: str):
    """SQL: the customer a person means by `value` — its name, code or ledger id (what
    `--customer` takes everywhere)."""
    return (Customer.name == value) | (Customer.code == value) | (Customer.external_id == value)


class Invoice(SQLModel, table=True):
    # No (status, due_date) index on purpose: most invoices are open, and planning reads
    # them sequentially; an index range scan over 80 % of a table is several times slower.
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),
                      # partial: only the few invoices held as paid by the hub, so the
                      # sync's "the ledger shows it now" update reads no more than those
                      Index("ix_invoice_hub_paid", "connection_id",
                            sqlite_where=text("hub_paid_at IS NOT NULL"),
                            postgresql_where=text("hub_paid_at IS NOT NULL")),
                      # partial: the open credits the account nets, without a pass over
                      # every invoice (most books hold few credit notes)
                      Index("ix_invoice_credit", "customer_id", "currency",
                            sqlite_where=text("kind = 'credit_note'"),
                            postgresql_where=text("kind = 'credit_note'")))

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id")
    external_id: str
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = "invoice"  # invoice | credit_note
    number: str = Field(index=True)  # `explain`, `history --invoice` look invoices up by it
    currency: str
    total: Decimal = money()
    amount_due: Decimal = money()
    issue_date: dt.date | None = None
    due_date: dt.date
    status: str = "open"  # open | paid | void | closed (gone from a complete export)
    disputed: bool = False
    promised_until: dt.date | None = None
    on_payment_plan: bool = False
    in_collection: bool = False
    reference: str | None = None
    online_url: str | None = None
    late_interest_rate: Decimal | None = money(nullable=True)  # percent a year, its own
    seen_generation: int = 0
    source_updated_at: dt.datetime | None = None
    synced_at: dt.datetime = Field(default_factory=utcnow)
    paid_at: dt.datetime | None = None
    # A payment the hub itself learned of (a payment webhook, a call, a person) while the
    # ledger still says open: the invoice is not reminded until the ledger shows it paid
    # (the sync then clears this) or a person clears it. Hub-owned: a sync never sets it.
    hub_paid_at: dt.datetime | None = None
    hub_paid_ref: str | None = None


class Payment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    connection_id: int = Field(foreign_key="connection.id")
    external_id: str
    invoice_external_id: str | None = Field(default=None, index=True)
    customer_external_id: str | None = None
    amount: Decimal = money()
    currency: str
    date: dt.date
    void: bool = False


class PlanResume(SQLModel, table=True):
    """A step to send at once for an invoice (a broken promise, a missed instalment),
    whatever its date and the `min_gap`: its next plan in this scenario sends it, and the
    row goes (`hub.plan.standing`)."""

    __tablename__ = "plan_resume"
    invoice_id: int = Field(primary_key=True, foreign_key="invoice.id")
    scenario: str
    step: str  # the key: a moved step keeps it (`hub.plan.layout` moves the position)
    step_index: int


class StepLayout(SQLModel, table=True):
    """Each scenario's step keys in the order the planner last stored their positions
    under: a plan remaps stored positions only when the config's order changed."""

    __tablename__ = "step_layout"
    scenario: str = Field(primary_key=True)
    steps: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class PlanAgenda(SQLModel, table=True):
    """The days an invoice is to be read on by the daily plan, in day order (on SQLite,
    a table without rowid: that order is the table). Triggers add "now" on any change a
    plan reads (migration 0011); the planner consumes a day's entries and writes the next
    day it finds (`hub.plan.incremental`)."""

    __tablename__ = "plan_agenda"
    day: dt.date = Field(primary_key=True)
    invoice_id: int = Field(primary_key=True)


class PlanMark(SQLModel, table=True):
    """The config (a digest) and the day the agenda's days were computed under:
    another config, or a plan for an earlier day, and every invoice is read again."""

    __tablename__ = "plan_mark"
    id: int = Field(default=1, primary_key=True)
    config: str
    day: dt.date


class Dispatch(SQLModel, table=True):
    """One message to one customer for one scenario step (the outbox row).

    Moves planned → approved → sending → sent (or failed, cancelled, uncertain) only by
    compare-and-set updates (`hub.send.dispatcher`).
    """

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    scenario: str
    step: str
    step_index: int
    channel: str
    template: str
    status: str = Field(default="planned", index=True)
    planned_on: dt.date
    not_before: dt.datetime | None = None
    hold_reason: str | None = None
    approval_reason: str | None = None  # why a person must approve it (the rules that matched)
    attempts: int = 0
    last_error: str | None = None
    provider_ref: str | None = None
    delivery_status: str | None = None
    currency: str | None = None
    amount: Decimal | None = money(nullable=True)
    invoice_count: int = 0
    payment_link_id: int | None = None
    worker: str | None = None
    # a send task's batch: taken by one task for a while, so tasks given a limit share the
    # work instead of all reading the same first rows (the claim still decides who sends)
    reserved_by: str | None = None
    reserved_until: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None


class DispatchInvoice(SQLModel, table=True):
    """The invariant lives here: (invoice, scenario, step) is the primary key, so a step
    can be planned — and so sent — at most once per invoice, whatever the workers do.

    Clustered by invoice on SQLite (WITHOUT ROWID): "the highest step already planned for
    this invoice" is one short range read, with no second index to maintain.
    """

    __tablename__ = "dispatch_invoice"
    __table_args__ = {"sqlite_with_rowid": False}

    invoice_id: int = Field(foreign_key="invoice.id", primary_key=True)
    scenario: str = Field(primary_key=True)
    step: str = Field(primary_key=True)
    step_index: int
    dispatch_id: int = Field(foreign_key="dispatch.id", index=True)


class Event(SQLModel, table=True):
    """The audit log: everything sent, skipped, held or changed, and why."""

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(index=True)
    level: str = "info"
    connection_id: int | None = None
    customer_id: int | None = None  # partial indexes on both (migrations 0005, 0008)
    invoice_id: int | None = None
    dispatch_id: int | None = Field(default=None, index=True)
    message: str = ""
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PaymentLinkRow(SQLModel, table=True):
    """A payment link created for a set of invoices; reused while the amount is unchanged."""

    __tablename__ = "payment_link"

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    provider_ref: str
    url: str
    invoice_key: str = Field(index=True)  # sorted invoice ids, comma-separated
    amount: Decimal = money()
    currency: str
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    """A phone-call task created by the `task` channel; its outcome feeds the scenario."""

    id: int | None = Field(default=None, primary_key=True)
    dispatch_id: int | None = Field(default=None, index=True)
    customer_id: int = Field(foreign_key="customer.id")
    title: str
    script: str = ""
    status: str = "open"  # open | done
    outcome: str | None = None
    outcome_until: dt.date | None = None
    outcome_reason: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    done_at: dt.datetime | None = None


class Writeback(SQLModel, table=True):
    """A note to write into the ledger after a send; retried apart from the send."""

    id: int | None = Field(default=None, primary_key=True)
    dispatch_id: int = Field(index=True)
    invoice_id: int
    status: str = "pending"  # pending | done | failed
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow)
    last_error: str | None = None


class PaymentWriteback(SQLModel, table=True):
    """A payment the hub learned of, to record in the ledger exactly once. Queued in the
    transaction that holds the invoice as paid (unique per invoice and payment), then
    retried apart from it; `recording` is claimed, with a lease in `next_attempt_at`."""

    __tablename__ = "payment_writeback"
    __table_args__ = (UniqueConstraint("invoice_id", "reference"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(index=True)
    amount: Decimal = money()
    currency: str
    paid_on: dt.date
    reference: str
    status: str = "pending"  # pending | recording | done | failed
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow)
    last_error: str | None = None
    ledger_ref: str | None = None


class CaseState(SQLModel, table=True):
    """One "do not remind now" on an invoice or a whole customer: what, why, who, since and
    until when. Open while `closed_at` is empty (and `until`, if set, has not passed); the
    planner leaves out every invoice an open state covers. Closing keeps the row: the
    account's story."""

    __tablename__ = "case_state"

    id: int | None = Field(default=None, primary_key=True)
    kind: str  # dispute | hold | promise | payment_plan | in_collection | legal_hold
    invoice_id: int | None = Field(default=None, index=True)
    customer_id: int | None = Field(default=None, index=True)
    reason: str | None = None
    amount: Decimal | None = money(nullable=True)
    until: dt.date | None = None
    opened_by: str
    opened_at: dt.datetime = Field(default_factory=utcnow)
    closed_by: str | None = None
    closed_at: dt.datetime | None = None
    outcome: str | None = None  # resolved | kept | broken | withdrawn
    # the balance it covered when opened (a promise is kept when it fell by the amount);
    # a payment plan's instalments [[YYYY-MM-DD, amount], ...]
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WebhookEvent(SQLModel, table=True):
    """A provider's event already applied: a replay (same id) changes nothing."""

    __tablename__ = "webhook_event"

    source: str = Field(primary_key=True)  # the plugin instance that received it
    event_id: str = Field(primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)


class Installation(SQLModel, table=True):
    """One row: this database's random id, made by its first migration. It makes
    idempotency keys and Message-IDs unique across installations and rebuilt databases."""

    id: str = Field(primary_key=True)


class Lease(SQLModel, table=True):
    """A named lease (the single scheduler clock on databases without advisory locks)."""

    name: str = Field(primary_key=True)
    owner: str
    expires_at: dt.datetime


class User(SQLModel, table=True):
    """A person who signs in to the dashboard: a role and the companies they may see.
    The password is kept as an argon2 hash only; `session_epoch` changes with it, so a
    new password (or a removal) ends every session signed under the old one."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str
    role: str = "viewer"  # viewer | approver | admin
    companies: list = Field(default_factory=lambda: ["*"], sa_column=Column(JSON, nullable=False))
    session_epoch: int = 0
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_login_at: dt.datetime | None = None
