"""Phone-call tasks: a person calls the customer with a script; the outcome feeds back.

The channel renders the call script (template `call_script`: customer, contacts,
invoices, reminder history) and hands the hub a `FollowUp`; the hub stores the task,
`relance tasks` lists it, and `relance tasks done ID --outcome …` records what the
customer said — a promise pauses reminders until its date, a dispute stops them.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from hub.contracts import Channel, FollowUp, Message, PluginSettings, SendResult
from hub.hookspecs import hookimpl


class TaskSettings(PluginSettings):
    due_in_days: int = Field(1, description="days (calendar) to make the call")


class TaskChannel(Channel):
    name = "task"
    description = "Phone-call tasks with a call script, outcomes recorded by a person"
    Settings: ClassVar = TaskSettings
    idempotent = True  # creating the same task again is harmless: one per dispatch

    def problems(self, message: Message) -> list[str]:
        return []  # a call without a number on file is still a task: find one

    async def check(self) -> list[str]:
        """Nothing to reach: tasks live in the Relance database."""
        return []

    async def send(self, message: Message) -> SendResult:
        r = message.recipient
        amounts = ", ".join(f"{i.amount_due} {i.currency}" for i in message.invoices)
        title = (f"Call {r.name} ({r.mobile or r.phone or 'no number on file'}) about "
                 f"{len(message.invoices)} overdue invoice(s): {amounts}")
        due = dt.date.today() + dt.timedelta(days=self.settings.due_in_days)
        return SendResult(provider_ref=f"task:{message.dispatch_id}", status="queued",
                          follow_up=FollowUp(title=title, script=message.text, due_on=due))


@hookimpl
def register_channels(register):
    register(TaskChannel)
