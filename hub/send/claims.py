"""The late-payment claim a `claim_fees` step makes: per invoice and per currency, for the
templates (`claim`) and the ledger note. A rate the timeline does not know yet fails the
dispatch with what to add (nothing is claimed on a guess); a consumer under a law that
covers businesses only is simply not charged."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hub.errors import ConfigError, PermanentError
from hub.law import claim, company_pack, load
from hub.workspace import Workspace


def claims_for(ws: Workspace, invoices, customer_type: str, on: dt.date,
               disputed: dict[int, Decimal] | None = None) -> dict[str, Any] | None:
    """`disputed`: per invoice id, an amount under dispute — no interest is claimed on it."""
    key = company_pack(ws.config.company)
    rates = load(ws.root)
    lines, sums = [], defaultdict(lambda: [Decimal(0), Decimal(0)])
    law = None
    for inv in invoices:
        try:
            principal = max(Decimal(0), inv.amount_due - (disputed or {}).get(inv.id, Decimal(0)))
            c = claim(key, principal=principal, currency=inv.currency, due=inv.due_date,
                      on=on, rates=rates, customer_type=customer_type,
                      own_rate=getattr(inv, "late_interest_rate", None))
        except ConfigError as exc:
            raise PermanentError(f"cannot claim late-payment fees on {inv.number}: {exc}") from None
        except PermanentError:  # a consumer under a business-only law: nothing to claim
            return None
        law = c.law
        lines.append({"number": inv.number, "currency": c.currency, "days_late": c.days_late,
                      "rate_percent": c.rate_percent, "interest": c.interest,
                      "fixed_compensation": c.fixed_compensation})
        sums[c.currency][0] += c.interest
        sums[c.currency][1] += c.fixed_compensation
    return {"law": law, "on": on, "lines": lines,
            "totals": [{"currency": cur, "interest": i, "fixed_compensation": f}
                       for cur, (i, f) in sorted(sums.items())]}
