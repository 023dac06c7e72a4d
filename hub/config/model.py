"""`relance.yaml` as pydantic models: every key, its type, default and meaning.

Unknown keys are errors (`extra="forbid"`); `relance config schema` prints the JSON schema.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONFIG_FILE = "relance.yaml"
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def duration_seconds(value: Any) -> int:
    """`90s`, `15m`, `6h`, `2d` or a number of seconds."""
    if isinstance(value, int | float):
        return int(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration (write e.g. 90s, 15m, 6h, 2d)")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def rate_per_second(value: Any) -> float:
    """`20/s`, `100/min`, `1000/h` or a number per second."""
    if isinstance(value, int | float):
        return float(value)
    m = _RATE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a rate (write e.g. 20/s, 100/min)")
    per = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
           "hour": 3600}[m.group(2)]
    return float(m.group(1)) / per


class AddressConfig(Strict):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postcode: str | None = None
    region: str | None = None
    country: str | None = None


class CompanyConfig(Strict):
    name: str
    country: str = "FR"
    subdivision: str | None = Field(None, description="holiday calendar subdivision")
    timezone: str = "Europe/Paris"
    language: str = "en"
    locale: str | None = Field(None, description="Babel locale for money/dates; default from language+country")
    currency: str = "EUR"
    email: str | None = None
    phone: str | None = None
    signatory: str | None = None
    address: AddressConfig = AddressConfig()
    workdays: list[int] = Field([0, 1, 2, 3, 4], description="0=Monday")
    law: Literal["eu", "fr", "de", "gb"] | None = Field(
        None, description="the late-payment law pack of your claims (`relance claim`): eu "
        "(Directive 2011/7/EU), fr, de, gb; default: your country's, else eu inside the EU")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/Paris)") from None
        return v

    @property
    def babel_locale(self) -> str:
        return self.locale or f"{self.language}_{self.country}"


class DatabaseConfig(Strict):
    url: str = Field("sqlite:///relance.db", description="SQLAlchemy URL; sqlite paths are relative to the workspace")


class ConnectionConfig(Strict):
    plugin: str | None = Field(None, description="connector plugin name; default: the connection's name")
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    sync_interval: int = Field(900, description="seconds between incremental syncs (`relance serve`)")
    max_staleness: int = Field(6 * 3600, description="hold sends when the last good sync is older")
    writeback: bool = Field(False, description="write a note into the ledger after each reminder")
    record_payments: bool = Field(False, description="record Stripe payments in the ledger")
    writeback_claims: bool = Field(False, description="with writeback: the note on the "
                                   "original invoice also states the interest and "
                                   "compensation a claim_fees step claimed (never a new invoice)")
    default_language: str | None = Field(None, description="the language of this ledger's "
                                         "customers that have none (e.g. en for a UK ledger "
                                         "of a French company); default: the company's")
    consent: str | None = Field(None, description="in a firm: an OAuth consent shared by "
                                "several companies' connections (one Xero consent granting "
                                "several organisations), kept once in the firm's store; each "
                                "connection names its organisation in settings.tenant_id")
    max_shrink: float = Field(0.5, ge=0, le=1, description="a complete export that would close "
                              "more than this share of the open invoices is refused "
                              "(`relance sync --accept-shrink` confirms it)")

    _d = field_validator("sync_interval", "max_staleness", mode="before")(duration_seconds)


class QuietHours(Strict):
    start: str = "20:00"
    end: str = "08:00"
    weekends: bool = Field(True, description="also quiet all day Saturday and Sunday")


class ChannelConfig(Strict):
    plugin: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    rate_limit: float | None = Field(None, description="messages per second, e.g. 20/s or 100/min")
    concurrency: int = 4
    quiet_hours: QuietHours | None = None
    max_attempts: int = 5

    _r = field_validator("rate_limit", mode="before")(
        lambda v: None if v is None else rate_per_second(v))


class ProviderConfig(Strict):
    plugin: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class StepConfig(Strict):
    at: str = Field(description="offset from the due date: due-7d, due+3d, due+5bd")
    channel: str
    template: str
    id: str | None = Field(None, description="stable name of the step; default from `at`")
    when: str | None = None
    attach_invoice: bool = False
    payment_link: str | None = None
    claim_fees: bool = Field(False, description="the message claims late-payment interest "
                             "and fixed compensation under the company's law pack "
                             "(`claim` in the templates)")
    options: dict[str, Any] = Field(default_factory=dict)


StopReason = Literal["paid", "disputed", "promised", "on_payment_plan", "in_collection"]


class ScenarioConfig(Strict):
    steps: list[StepConfig]
    consolidate: Literal["none", "per_customer"] = "none"
    stop_when: list[StopReason] = Field(
        default_factory=lambda: ["paid", "disputed", "promised", "on_payment_plan", "in_collection"])
    catch_up: Literal["latest", "all", "none"] = Field(
        "latest", description="after downtime: send the latest due step once / every missed step "
                              "one per cycle / only steps due within catch_up_window days")
    catch_up_window: int = 0
    escalation: Literal["earned", "latest"] = Field(
        "earned", description="earned: each step only after the previous one went out at "
        "least `min_gap` days before, and a first contact is never a later step; latest: the "
        "latest due step at once (the `catch_up` modes of earlier versions)")
    min_gap: int = Field(7, ge=0, description="days between two steps of a case (earned)")
    one_voice: bool = Field(True, description="a customer gets at most one message a day: "
                            "the most advanced step due among their invoices, listing them all "
                            "(lesser steps due the same day fold into it)")
    require_approval: bool | None = None
    on_broken_promise: str | None = Field(None, description="the step id a case resumes at "
                                          "when a promise is broken or a payment-plan "
                                          "instalment missed (default: its next step, at once)")
    remind_undisputed: bool = Field(False, description="a dispute with an amount holds only "
                                    "that amount: the undisputed rest is still reminded")
    closed_days: Literal["next", "previous", "ignore"] = Field(
        "next", description="a step landing on the debtor's closed day (weekend, public "
        "holiday of their country or region, blackout) moves to the next open day, or the "
        "previous; ignore: calendar days as they fall")
    blackout: list[str] = Field(default_factory=list, description="yearly periods without "
                                "dunning, MM-DD..MM-DD (e.g. 12-24..01-02): steps shift out")

    @field_validator("blackout")
    @classmethod
    def _blackout(cls, v: list[str]) -> list[str]:
        for period in v:
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\.\.(0[1-9]|1[0-2])-"
                                r"(0[1-9]|[12]\d|3[01])", period):
                raise ValueError(f"blackout {period!r}: write MM-DD..MM-DD, e.g. 12-24..01-02")
        return v


class AssignRule(Strict):
    scenario: str
    when: str | None = None


class DispatchConfig(Strict):
    require_approval: bool = False
    min_amount: dict[str, Decimal] = Field(
        default_factory=dict, description="per currency, the net overdue amount (after the "
        "customer's credits) below which nothing is sent, e.g. {EUR: 5}")
    max_attempts: int = 5
    retry_backoff: int = Field(60, description="first retry delay in seconds, doubled each attempt")
    sending_lease: int = Field(900, description="a dispatch `sending` longer than this is `uncertain`")

    _d = field_validator("retry_backoff", "sending_lease", mode="before")(duration_seconds)


class ApprovalRules(Strict):
    """What a person must approve before it goes (each matching rule is named on the
    dispatch); everything else goes by itself."""

    steps: list[str] = Field(default_factory=list, description="step ids or templates, e.g. "
                             "[formal_notice, agency]")
    above: dict[str, Decimal] = Field(default_factory=dict, description="per currency, the "
                                      "amount asked above which a person approves, e.g. {EUR: 5000}")
    segments: list[str] = Field(default_factory=list, description="customer segments, e.g. "
                                "[key_account]")
    first_contact: bool = Field(False, description="a customer's first reminder ever")
    scenarios: list[str] = Field(default_factory=list, description="every step of these scenarios")


class InstalmentReminder(Strict):
    channel: str
    template: str = "instalment_reminder"
    before: int = Field(3, ge=0, description="days before each instalment's date")


class CasesConfig(Strict):
    instalment_reminder: InstalmentReminder | None = Field(
        None, description="remind each payment-plan instalment a few days before its date")


class ServeConfig(Strict):
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    daily_at: str = Field("09:00", description="company time of the daily cycle (business days)")
    cycle_every: int | None = Field(None, description="run the cycle at this interval instead "
                                                      "of daily (a fast clock for tests/demos)")
    tick: int = Field(60, description="seconds between send passes while serving")
    misfire_grace: int = Field(7 * 86400, description="a cycle missed by less than this runs "
                                                      "once at start-up")
    require_connections_ok: bool = Field(True, description="/readyz fails while a connection "
                                                            "needs re-authorisation")
    dashboard: bool = Field(True, description="serve the accountants' dashboard at / (login "
                                              "required; users from `relance user add`)")
    root_path: str = Field("", description="the path prefix a reverse proxy serves Relance "
                                           "under, e.g. /relance")
    trusted_proxies: str = Field("127.0.0.1", description="addresses whose X-Forwarded-For/"
                                                          "-Proto headers are believed (comma-"
                                                          "separated, or *)")
    session_hours: int = Field(8, ge=1, le=24 * 30, description="a dashboard sign-in lasts this long")
    login_limit: str = Field("5/minute", description="sign-in attempts allowed per user name "
                                                     "(and 4× that per address)")

    _d = field_validator("tick", "misfire_grace", mode="before")(duration_seconds)

    @field_validator("root_path")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v and (not v.startswith("/") or v.endswith("/")):
            raise ValueError(f"{v!r}: write the prefix with a leading slash and none at the "
                             "end, e.g. /relance")
        return v

    @field_validator("login_limit")
    @classmethod
    def _limit(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a rate: write e.g. 5/minute or 20/hour") from None
        return v
    _c = field_validator("cycle_every", mode="before")(
        lambda v: None if v is None else duration_seconds(v))

    @field_validator("daily_at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", v):
            raise ValueError(f"{v!r} is not a time of day (write HH:MM, e.g. 09:00)")
        return v


class ScaleConfig(Strict):
    executor: Literal["local", "celery"] = Field(
        "local", description="`celery`: `relance serve` is the clock and enqueues syncs, send "
        "batches and write-backs for `relance worker` processes (needs PostgreSQL and a broker)")
    broker: str | None = Field(None, description="Celery broker URL: redis://127.0.0.1:6379/0 "
                                                 "or amqp://guest:guest@127.0.0.1:5672//")
    limits: str | None = Field(None, description="Redis URL of the providers' call budgets "
                               "shared by every process (default: the broker when it is Redis)")
    send_batch: int = Field(200, ge=1, description="dispatches per send task")
    queue: str = Field("relance", description="the Celery queue of this deployment's tasks "
                                              "(two deployments may share a broker)")
    visibility_timeout: int = Field(1800, description="a task unacknowledged this long (its "
                                    "worker was killed) is delivered again; longer than any task")

    _v = field_validator("visibility_timeout", mode="before")(duration_seconds)

    @model_validator(mode="after")
    def _celery_needs_broker(self) -> ScaleConfig:
        if self.executor == "celery" and not self.broker:
            raise ValueError("executor: celery needs `broker:` (e.g. redis://127.0.0.1:6379/0)")
        if self.executor == "celery" and not self.limits_url:
            raise ValueError("executor: celery needs shared call budgets in Redis: set "
                             "`limits:` (e.g. redis://127.0.0.1:6379/1)")
        return self

    @property
    def limits_url(self) -> str | None:
        if self.limits:
            return self.limits
        if self.broker and self.broker.startswith(("redis://", "rediss://")):
            return self.broker
        return None


class RelanceConfig(Strict):
    company: CompanyConfig
    database: DatabaseConfig = DatabaseConfig()
    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    payment_providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    scenarios: dict[str, ScenarioConfig] = Field(default_factory=dict)
    assign: list[AssignRule] = Field(default_factory=list)
    dispatch: DispatchConfig = DispatchConfig()
    approvals: ApprovalRules = ApprovalRules()
    cases: CasesConfig = CasesConfig()
    templates: str = Field("templates", description="folder of your templates (overrides built-ins)")
    serve: ServeConfig = ServeConfig()
    scale: ScaleConfig = ScaleConfig()




class FirmInfo(Strict):
    name: str = Field(description="the firm, as its users read it in the dashboard")


class FirmConfig(Strict):
    """A firm's own relance.yaml: what its companies (companies/<name>/relance.yaml) share."""

    firm: FirmInfo
    database: DatabaseConfig = DatabaseConfig()
    serve: ServeConfig = ServeConfig()
    scale: ScaleConfig = ScaleConfig()


#: the sections a firm's companies take from the firm's file
FIRM_SECTIONS = ("database", "serve", "scale")
