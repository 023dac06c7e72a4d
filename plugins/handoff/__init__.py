"""Collection-agency hand-off: a dated case bundle (CSV + XLSX + cover + PDFs) per customer.

The bundle is an open format (docs/channels/handoff.md). Handing over marks the invoices
`in_collection`, which stops the scenario's reminders. Writing the same bundle again
yields the same files, so the channel is idempotent.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import ClassVar

from pydantic import Field

from hub.contracts import Channel, Message, PluginSettings, SendResult
from hub.contracts.sheets import append_inert, csv_writer
from hub.hookspecs import hookimpl

COLUMNS = ["creditor", "customer_code", "customer_name", "email", "phone", "address_line1",
           "address_line2", "postcode", "city", "country", "invoice_number", "invoice_id",
           "currency", "total", "amount_due", "issue_date", "due_date", "days_overdue",
           "disputed", "promised_until", "reminders_sent", "last_reminder_at",
           "reminder_history"]


class HandoffSettings(PluginSettings):
    folder: str = Field("handoff", description="relative to the workspace")
    zip: bool = Field(False, description="one .zip per case instead of a folder")
    agency: str | None = Field(None, description="the agency's name, for the cover")


def rows(message: Message) -> list[list[str]]:
    r, history = message.recipient, message.history
    last = max((h.get("sent_at", "") for h in history), default="")
    hist = "; ".join(f"{h.get('sent_at', '')[:10]} {h.get('channel', '')} {h.get('step', '')}"
                     for h in history)
    return [[message.company.name, r.customer_code or "", r.name, r.email or "",
             r.mobile or r.phone or "", r.address.line1 or "", r.address.line2 or "",
             r.address.postcode or "", r.address.city or "", r.address.country or "",
             i.number, i.external_id, i.currency, str(i.total), str(i.amount_due),
             i.issue_date.isoformat() if i.issue_date else "", i.due_date.isoformat(),
             str(i.days_overdue), "yes" if i.disputed else "no",
             i.promised_until.isoformat() if i.promised_until else "", str(len(history)),
             last, hist] for i in message.invoices]


class HandoffChannel(Channel):
    name = "handoff"
    description = "Case bundle for a collection agency (CSV, XLSX, PDFs)"
    Settings: ClassVar = HandoffSettings
    idempotent = True
    supports_attachments = True

    def files(self, message: Message) -> dict[str, bytes]:
        from openpyxl import Workbook

        data = rows(message)
        text = io.StringIO()
        w = csv_writer(text)  # cells that start like a formula stay text
        w.writerow(COLUMNS)
        w.writerows(data)
        wb = Workbook()
        ws = wb.active
        ws.title = "case"
        append_inert(ws, COLUMNS)
        for row in data:
            append_inert(ws, row)  # amounts stay exact decimal text, never float
        xlsx = io.BytesIO()
        wb.save(xlsx)
        out = {"case.csv": text.getvalue().encode("utf-8"), "case.xlsx": xlsx.getvalue(),
               "cover.txt": (message.text or "").encode("utf-8")}
        for att in message.attachments:
            out[f"invoices/{att.filename}"] = att.data
        return out

    async def check(self) -> list[str]:
        """The output folder can be written."""
        return self.folder_problems(self.workspace_folder(self.settings.folder))

    async def send(self, message: Message) -> SendResult:
        root = self.workspace_folder(self.settings.folder)
        code = re.sub(r"[^A-Za-z0-9_-]", "_", message.recipient.customer_code
                      or str(message.recipient.customer_id))
        case = root / dt.date.today().isoformat() / f"{code}_{message.dispatch_id}"
        files = self.files(message)
        if self.settings.zip:
            target = case.with_suffix(".zip")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
                for name, data in sorted(files.items()):
                    z.writestr(name, data)
            artifacts = (str(target),)
        else:
            for name, data in files.items():
                (case / name).parent.mkdir(parents=True, exist_ok=True)
                (case / name).write_bytes(data)
            target, artifacts = case, tuple(str(case / n) for n in sorted(files))
        return SendResult(provider_ref=str(target.relative_to(self.context.workspace)
                                           if target.is_relative_to(self.context.workspace)
                                           else target),
                          artifacts=artifacts,
                          invoice_updates={i.external_id: "in_collection" for i in message.invoices})


@hookimpl
def register_channels(register):
    register(HandoffChannel)
