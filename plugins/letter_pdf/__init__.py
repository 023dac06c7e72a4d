"""Letters as PDF files in a print folder, for companies that post their own mail.

The letter is the step template's HTML (e.g. `formal_notice`), rendered with WeasyPrint.
An index CSV lists what is waiting to be printed. Same dispatch, same file name:
writing it twice is harmless, so the channel is idempotent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import ClassVar

from pydantic import Field

from hub.contracts import Channel, Message, PluginSettings, SendResult
from hub.contracts.sheets import csv_writer
from hub.errors import PermanentError
from hub.hookspecs import hookimpl


class LetterPdfSettings(PluginSettings):
    folder: str = Field("letters", description="print folder, relative to the workspace")


class _OnceOnly(logging.Filter):
    """WeasyPrint warns, for every PDF, that it subsets fonts with fontTools because the
    optional HarfBuzz-Subset library is missing: same PDF, a little slower. Not a problem
    to act on, so it is said once, as information (shown by `-v` and by the service's
    info-level logs), not as a warning in the middle of a run's output."""

    said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "HarfBuzz-Subset" not in record.getMessage():
            return True
        seen, _OnceOnly.said = _OnceOnly.said, True
        record.levelno, record.levelname = logging.INFO, "INFO"
        return not seen and logging.getLogger(record.name).isEnabledFor(logging.INFO)


logging.getLogger("weasyprint").addFilter(_OnceOnly())


def render_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise PermanentError(f"WeasyPrint cannot start ({exc}): install the system library "
                             "Pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0)"
                             ) from None
    return HTML(string=html).write_pdf()


class LetterPdfChannel(Channel):
    name = "letter_pdf"
    description = "Letters rendered to PDF in a print folder"
    Settings: ClassVar = LetterPdfSettings
    idempotent = True
    requires = ("address",)

    def problems(self, message: Message) -> list[str]:
        missing = message.recipient.address.missing_for_post()
        if missing:
            return [f"customer {message.recipient.name!r} has no complete postal address "
                    f"(missing {', '.join(missing)}): complete it in the ledger"]
        if not message.html:
            return [f"template {message.template} has no html block: a letter needs one"]
        return []

    async def check(self) -> list[str]:
        """The output folder can be written."""
        return self.folder_problems(self.workspace_folder(self.settings.folder))

    async def send(self, message: Message) -> SendResult:
        folder = self.workspace_folder(self.settings.folder)
        folder.mkdir(parents=True, exist_ok=True)
        code = re.sub(r"[^A-Za-z0-9_-]", "_", message.recipient.customer_code
                      or str(message.recipient.customer_id))
        step = re.sub(r"[^A-Za-z0-9_+-]", "_", message.step)
        path = folder / f"{dt.date.today().isoformat()}_{code}_{message.dispatch_id}_{step}.pdf"
        pdf = await asyncio.to_thread(render_pdf, message.html or "")
        path.write_bytes(pdf)
        index = folder / "to_post.csv"
        new = not index.exists()
        with index.open("a", newline="", encoding="utf-8") as f:
            w = csv_writer(f)  # a customer's name that starts like a formula stays text
            if new:
                w.writerow(["file", "customer", "postcode", "city", "country", "options"])
            a = message.recipient.address
            w.writerow([path.name, message.recipient.name, a.postcode, a.city, a.country,
                        ",".join(k for k, v in message.options.items() if v)])
        rel = path.relative_to(self.context.workspace) if path.is_relative_to(
            self.context.workspace) else path
        return SendResult(provider_ref=str(rel), artifacts=(str(path),))


@hookimpl
def register_channels(register):
    register(LetterPdfChannel)
