"""A real SMTP server on loopback for the demo: every message lands as an .eml file.

Built on aiosmtpd, running in its own thread, so the email channel talks real SMTP.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        data = envelope.original_content or envelope.content
        m = re.search(rb"^Message-ID:\s*<([^>@]+)", data, re.MULTILINE | re.IGNORECASE)
        name = (m.group(1).decode(errors="ignore") if m else f"message-{self.count}")
        rcpt = re.sub(r"[^A-Za-z0-9@._-]", "_", envelope.rcpt_tos[0] if envelope.rcpt_tos else "x")
        (self.folder / f"{rcpt}_{name[:16]}.eml").write_bytes(data)
        return "250 Message accepted for delivery"


class LocalSMTP:
    """`with LocalSMTP(folder) as port:` — a server on 127.0.0.1:port writing .eml files."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.handler = _SaveToFolder(folder)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.controller.start()
        return self.port

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def received(self) -> int:
        return self.handler.count
