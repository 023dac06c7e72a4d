"""The built-in plugins run the same conformance suites a third party runs."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from hub.demo_smtp import free_port
from hub.testing.conformance import ChannelConformance, ConnectorConformance
from plugins.csv import CsvConnector, CsvSettings
from plugins.email import EmailChannel, EmailSettings


class TestCsvConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, relance_context, tmp_path):
        (tmp_path / "invoices.csv").write_text(
            "invoice_number;customer_id;customer_name;currency;amount_due;due_date\n"
            "F-1;C1;Alpha;EUR;10,50;24/11/2026\nF-2;C2;Beta;GBP;99.99;2026-12-01\n")
        return CsvConnector(CsvSettings(path="invoices.csv"), relance_context)


class _Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


class TestEmailConformance(ChannelConformance):
    @pytest.fixture
    def channel(self, relance_context):
        ctl = Controller(_Sink(), hostname="127.0.0.1", port=free_port())
        ctl.start()
        yield EmailChannel(EmailSettings(host="127.0.0.1", port=ctl.port, security="none",
                                         from_address="ar@acme.example"), relance_context)
        ctl.stop()

    @pytest.fixture
    def error_cases(self, channel):
        def unreachable():
            channel.settings.port = free_port()
        return {"transient": unreachable}
