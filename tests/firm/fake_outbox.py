"""A channel for the scale-out tests, loaded by the worker processes (RELANCE_PLUGINS):
`latency` seconds per send, each send one JSON line in the company's file (shared by every
process, locked while written), and the provider's deduplication by idempotency key (a
re-send after a crash returns the first answer and writes nothing), so "exactly once" is
what the files show."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from pathlib import Path

from hub.contracts import Channel, DeliveryStatus, Message, PluginSettings, SendResult
from hub.hookspecs import hookimpl


class OutboxSettings(PluginSettings):
    path: str
    sender: str  # each company's own: a send with another's would show in the file
    latency: float = 0.02
    account: str | None = None  # channels sharing one provider account share its rate


class FakeOutbox(Channel):
    name = "fake_outbox"
    Settings = OutboxSettings
    idempotent = True
    supports_status = True

    def _sent(self) -> dict[str, dict]:
        path = Path(self.settings.path)
        if not path.exists():
            return {}
        lines = (json.loads(x) for x in path.read_text().splitlines() if x.strip())
        return {x["key"]: x for x in lines}

    def budget_key(self) -> str:
        return f"fake:{self.settings.account}" if self.settings.account else super().budget_key()

    async def send(self, message: Message) -> SendResult:
        arrived = time.time()  # when the provider sees the request, as it counts its rate
        await asyncio.sleep(self.settings.latency)
        with open(self.settings.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # the provider's own dedup is atomic
            f.seek(0)
            if any(json.loads(x)["key"] == message.idempotency_key for x in f if x.strip()):
                return SendResult(provider_ref=f"out-{message.idempotency_key}")
            f.write(json.dumps({"key": message.idempotency_key, "dispatch": message.dispatch_id,
                                "company": message.company.name, "sender": self.settings.sender,
                                "pid": os.getpid(), "at": arrived}) + "\n")
        return SendResult(provider_ref=f"out-{message.idempotency_key}")

    async def status(self, provider_ref: str) -> DeliveryStatus:
        key = provider_ref.removeprefix("out-")
        return DeliveryStatus(provider_ref=provider_ref,
                              status="sent" if key in self._sent() else "failed")


@hookimpl
def register_channels(register):
    register(FakeOutbox)
