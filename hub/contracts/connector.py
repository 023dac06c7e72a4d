"""A connector reads a ledger (and, where it can, writes notes and payments back)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import ValidationError

from hub.contracts.context import OAuthSpec
from hub.contracts.plugin import Plugin, PluginSettings
from hub.contracts.records import (
    Cursor,
    InvoiceRecord,
    LedgerNote,
    LedgerPayment,
    RecordProblem,
    SyncItem,
    SyncPage,
)
from hub.errors import InvalidRecordError

T = TypeVar("T")


class Connector(Plugin):
    """Reads a ledger. Implement `sync`; the rest is optional and declared by flags."""

    auth: ClassVar[Literal["none", "api_key", "oauth2"]] = "none"
    oauth: ClassVar[OAuthSpec | None] = None
    supports_incremental: ClassVar[bool] = False
    supports_refresh: ClassVar[bool] = False
    supports_pdf: ClassVar[bool] = False
    supports_writeback: ClassVar[bool] = False
    supports_payments_writeback: ClassVar[bool] = False
    idempotent_payments: ClassVar[bool] = False
    """`record_payment` twice with the same `idempotency_key` records one payment (the
    provider's idempotency header, or a lookup by key). Then a call cut off mid-way (a crash,
    a timeout) is retried; otherwise it is failed for a person to check the ledger."""
    supports_webhooks: ClassVar[bool] = False
    refresh_lists_all: bool = True
    """`refresh(ids)` answers for every id: one it does not return is gone (deleted in the
    ledger, no longer in a complete export) and is not reminded. Set it False (on the class
    or the instance) when your source cannot vouch for absence (a folder of partial exports)."""

    @abstractmethod
    def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        """Yield pages of records changed since `cursor` (empty dict: everything)."""

    @classmethod
    def oauth_for(cls, settings: PluginSettings) -> OAuthSpec | None:
        """The OAuth flow for these settings (e.g. client credentials). Added in API 1.0."""
        return cls.oauth

    async def tenants(self) -> list[tuple[str, str]]:
        """After an OAuth connect: the (id, name) organisations the token reaches.

        The admin picks one; the hub keeps it in the token extras as ``tenant_id``.
        """
        return []

    def build_records(self, items: Iterable[T], build: Callable[[T], SyncItem | None], *,
                      what: str, ident: Callable[[T], Any]) -> tuple[SyncItem, ...]:
        """`build(item)` for every item of a page; one that cannot be read (a missing key,
        a value of the wrong type, a record that fails validation) becomes a
        `RecordProblem` naming `what` and `ident(item)`, and the rest of the page goes on.
        A `build` returning None skips the item (a draft the ledger never sent)."""
        out: list[SyncItem] = []
        for item in items:
            try:
                record = build(item)
            except (InvalidRecordError, KeyError, ValueError, TypeError, ArithmeticError) as exc:
                try:
                    name = ident(item)
                except Exception:
                    name = "?"
                out.append(RecordProblem(place=f"connection {self.context.name}: {what} {name}",
                                         reason=_reason(exc)))
                continue
            if record is not None:
                out.append(record)
        return tuple(out)

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        """Re-read these invoices from the source just before a send (fresh-check).

        The hub asks for at most 100 ids per call. Return the invoices as they are now; an
        id you do not return is gone and its reminder dropped (see `refresh_lists_all`).
        Raise when the source cannot answer: the sends wait, nothing goes out on a guess."""
        raise NotImplementedError

    async def fetch_pdf(self, external_id: str) -> bytes | None:
        """The invoice's PDF as the ledger renders it (declare `supports_pdf`); None if none."""
        raise NotImplementedError

    async def write_note(self, note: LedgerNote) -> None:
        """Write the note on the invoice in the ledger (declare `supports_writeback`).

        Raise `RetriableError` to be tried again later; the send is never repeated."""
        raise NotImplementedError

    async def record_payment(self, payment: LedgerPayment) -> str:
        """Record a payment the hub learned of (declare `supports_payments_writeback`);
        return the ledger's id of the payment.

        `payment.amount` is what was paid towards this invoice (never more than it owed).
        The hub calls this once per payment and invoice; raise `RetriableError` to be tried
        again later with the same `idempotency_key`."""
        raise NotImplementedError


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing; this record was not imported"
    if isinstance(exc, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
        return "; ".join(parts) + "; this record was not imported"
    if isinstance(exc, InvalidRecordError):
        return exc.reason
    return f"{exc}; this record was not imported"
