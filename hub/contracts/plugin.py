"""What every plugin kind shares: metadata class attributes, settings, `check`, webhooks.

`API_VERSION` is the contract's version, ``MAJOR.MINOR``. A plugin targeting another
MAJOR is refused at load time; a plugin targeting a newer MINOR is refused too (it may
call what this hub lacks).
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hub.contracts.context import PluginContext
from hub.contracts.webhooks import WebhookRequest, WebhookResult

API_VERSION = "1.1"  # 1.1: RestConnector, LedgerPayment.idempotency_key, probe()


class PluginSettings(BaseModel):
    """Base for a plugin's `Settings`: unknown keys are errors, secrets use `SecretStr`."""

    model_config = ConfigDict(extra="forbid")



class Plugin(ABC):
    """Common metadata. Subclasses set these class attributes."""

    name: ClassVar[str]
    api_version: ClassVar[str] = API_VERSION
    Settings: ClassVar[type[PluginSettings]] = PluginSettings
    description: ClassVar[str] = ""

    def __init__(self, settings: PluginSettings, context: PluginContext):
        self.settings = settings
        self.context = context
        self.http = context.http
        self.log = context.logger

    @classmethod
    def capabilities(cls) -> dict[str, bool]:
        """The capability flags the class declares (`supports_*`, `idempotent`, …)."""
        return {k: bool(getattr(cls, k)) for k in dir(cls) if k.startswith("supports_")} | {
            k: bool(getattr(cls, k)) for k in ("idempotent", "quiet_hours_relevant") if hasattr(cls, k)
        }

    async def check(self) -> list[str]:
        """Connectivity / credential check for `relance doctor`: return problems found."""
        return []

    def verify_webhook(self, request: WebhookRequest) -> WebhookResult:
        """Verify the signature (raise `SignatureError`) and parse the events."""
        raise NotImplementedError(f"{self.name} does not receive webhooks")

    async def aclose(self) -> None:
        """Release resources held across a batch."""



TemplateFilter = Callable[..., Any]
Register = Callable[[type[Plugin]], None]
"""The callback a `register_*` hook receives: call it once per class."""
AsyncTask = Callable[[], Awaitable[None]]

