"""The connector suite: valid records, cursors that move forward, refresh, notes."""


from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest

from hub.contracts import (
    Connector,
    InvoiceRecord,
    Plugin,
    RecordProblem,
    SyncPage,
)
from hub.testing.conformance.base import RECORD_TYPES, PluginConformance
from hub.testing.recorded import (
    collect,
    merged_cursor,
    moved_back,
    records_of,
    run,
    run_recorded,
    sample_note,
    sync_pages,
)

#: an id no ledger has: `refresh()` must leave it out
MISSING_ID = "relance-conformance-no-such-invoice"


class ConnectorConformance(PluginConformance):
    """Fixtures to provide:

    - `connector`: an instance (built with `relance_context` or `hub.testing.make_context`)
      whose HTTP calls are answered by your recorded responses (respx or a fake server);
    - `error_cases` (optional): `{"auth" | "transient" | "rate_limited" | "permanent": arrange}`
      where `arrange()` makes the next sync meet that failure (a 401, 503, 429, 400 with the
      provider's documented body);
    - `webhook_cases` (optional, with `supports_webhooks`).

    Class attribute `opaque_cursors`: cursor keys holding opaque tokens (not ordered).
    """

    base: ClassVar[type[Plugin]] = Connector
    opaque_cursors: ClassVar[tuple[str, ...]] = ()

    @pytest.fixture
    def relance_plugin(self, connector):
        return connector

    @pytest.fixture
    def relance_exercise(self, connector):
        return lambda: sync_pages(connector, {})

    def test_records_are_valid(self, connector):
        pages = collect(connector, {})
        assert pages, "your connector yielded no page at all for a first sync (empty cursor)"
        for n, page in enumerate(pages):
            assert isinstance(page, SyncPage), f"sync() must yield SyncPage objects; page {n} is {type(page)}"
            for rec in page.records:
                assert isinstance(rec, RECORD_TYPES), \
                    f"page {n} holds a {type(rec).__name__}: yield only {[t.__name__ for t in RECORD_TYPES]}"
                assert type(rec).model_validate(rec.model_dump()) == rec, \
                    f"page {n}: {rec!r} does not validate as {type(rec).__name__} (built with trusted()?)"
                if isinstance(rec, InvoiceRecord):
                    assert isinstance(rec.amount_due, Decimal) and isinstance(rec.total, Decimal), \
                        f"invoice {rec.external_id}: amounts must be Decimal, never float"
                    assert rec.amount_due <= rec.total or rec.kind == "credit_note", (
                        f"invoice {rec.external_id}: amount_due {rec.amount_due} exceeds total {rec.total}")
                if isinstance(rec, RecordProblem):
                    assert rec.place and rec.reason, "a RecordProblem must name its place and the reason"
        refused = [r for p in pages for r in p.records if isinstance(r, RecordProblem)]
        kept = [r for p in pages for r in p.records if not isinstance(r, RecordProblem)]
        assert kept or not refused, (
            f"every record your connector read was refused ({len(refused)} RecordProblems); "
            f"the first: {refused[0].place}: {refused[0].reason}. Fix the mapping: the hub "
            "fails such a sync")
        assert records_of(pages, InvoiceRecord), \
            "your recorded responses should contain at least one invoice, or nothing is tested"
        invoices = [(r.kind, r.external_id) for r in records_of(pages, InvoiceRecord)]
        dupes = {i for i in invoices if invoices.count(i) > 1}
        assert not dupes, f"one sync yielded the same invoice twice: {sorted(dupes)[:5]} (a paging bug?)"

    def test_cursor_moves_forward(self, connector):
        async def both():
            first = await sync_pages(connector, {})
            return first, await sync_pages(connector, merged_cursor(first))

        first, second = run(both())
        seen: dict[str, str] = {}
        for n, page in enumerate([*first, *second]):
            for key, value in page.cursor.items():
                if key in seen and key not in self.opaque_cursors:
                    assert not moved_back(value, seen[key]), (
                        f"your connector yielded a cursor that moved backwards for stream {key!r}: "
                        f"{seen[key]!r} then {value!r} (page {n}). The hub stores the last cursor; "
                        "going back re-reads data, or with paging loops forever. If this key holds "
                        "an opaque token, list it in opaque_cursors")
                seen[key] = value
        assert seen, "sync() never returned a cursor: the hub could not resume after a crash or go incremental"

    def test_second_sync_yields_nothing_new(self, connector):
        async def both():
            first = await sync_pages(connector, {})
            return first, await sync_pages(connector, merged_cursor(first))

        first, second = run(both())
        known = {(type(r).__name__, getattr(r, "external_id", None)): r
                 for p in first for r in p.records}
        for page in second:
            for r in page.records:
                if isinstance(r, RecordProblem):
                    continue
                key = (type(r).__name__, getattr(r, "external_id", None))
                assert key in known, (f"a second sync from the cursor you returned yielded {key}, which "
                                      "the first sync did not: nothing changed in between")
                assert known[key] == r, (f"a second sync from the cursor you returned yielded {key} with "
                                         f"other values:\n first: {known[key]}\nsecond: {r}")

    def test_refresh_rereads_invoices(self, connector):
        if not type(connector).supports_refresh:
            pytest.skip(f"{type(connector).__name__} does not declare supports_refresh")

        async def go():
            ids = [r.external_id for r in records_of(await sync_pages(connector, {}), InvoiceRecord)][:2]
            return ids, await connector.refresh(ids)

        ids, fresh = run_recorded(go())
        assert all(isinstance(r, InvoiceRecord) for r in fresh), (
            "refresh() must return InvoiceRecords only: say 'deleted' by leaving the id out "
            "(or with status void), never with a Tombstone")
        assert {r.external_id for r in fresh} <= set(ids), \
            f"refresh({ids}) returned other invoices: {[r.external_id for r in fresh]}"
        assert fresh, f"refresh({ids}) found none of the invoices the sync just yielded"

    def test_refresh_leaves_out_an_id_the_source_does_not_know(self, connector):
        """The contract: an id refresh() does not return is gone, and its reminder dropped."""
        if not type(connector).supports_refresh:
            pytest.skip(f"{type(connector).__name__} does not declare supports_refresh")

        async def go():
            ids = [r.external_id for r in records_of(await sync_pages(connector, {}), InvoiceRecord)]
            return ids[:99], await connector.refresh([*ids[:99], MISSING_ID])

        ids, fresh = run_recorded(go())
        returned = [r.external_id for r in fresh]
        assert MISSING_ID not in returned, (
            f"refresh() returned an invoice for {MISSING_ID!r}, an id the source never had: "
            "leave unknown ids out (the hub then drops their reminders as gone)")
        assert len(returned) == len(set(returned)), \
            f"refresh() of {len(ids) + 1} ids (one call, as the hub batches up to 100) repeated some"
        assert set(returned) <= set(ids)

    def test_fetch_pdf(self, connector):
        if not type(connector).supports_pdf:
            pytest.skip(f"{type(connector).__name__} does not declare supports_pdf")

        async def go():
            first = records_of(await sync_pages(connector, {}), InvoiceRecord)[0]
            return first.external_id, await connector.fetch_pdf(first.external_id)

        external_id, pdf = run_recorded(go())
        assert pdf is None or (isinstance(pdf, bytes) and pdf.startswith(b"%PDF")), (
            f"fetch_pdf({external_id!r}) must return the PDF's bytes (starting %PDF) or None, "
            f"got {type(pdf).__name__} {bytes(pdf or b'')[:16]!r}")

    def test_write_note(self, connector):
        if not type(connector).supports_writeback:
            pytest.skip(f"{type(connector).__name__} does not declare supports_writeback")

        async def go():
            first = records_of(await sync_pages(connector, {}), InvoiceRecord)[0]
            return await connector.write_note(sample_note(first.external_id))

        assert run_recorded(go()) is None, "write_note() returns nothing; raise a hub.errors class on failure"


