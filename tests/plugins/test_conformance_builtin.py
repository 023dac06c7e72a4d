"""The built-in plugins run the same conformance suites a third party runs.

Plugins whose own test module already subclasses a suite (on its provider's recorded
responses or fake server) are listed in `ELSEWHERE`; the rest are exercised here. A
built-in plugin registered with no conformance class anywhere fails the last test.
"""

from __future__ import annotations

import importlib

import pytest
import respx
from aiosmtpd.controller import Controller

from hub.contracts.manager import discover
from hub.demo.smtp import free_port
from hub.testing.conformance import (
    ChannelConformance,
    ConnectorConformance,
    PaymentProviderConformance,
    PluginConformance,
)
from plugins.csv import CsvConnector, CsvSettings
from plugins.email import EmailChannel, EmailSettings

#: built-in plugin name -> the conformance class in its own test module
ELSEWHERE = {
    "xero": "tests.plugins.test_xero:TestXeroConformance",
    "quickbooks": "tests.plugins.test_quickbooks:TestQuickBooksConformance",
    "odoo": "tests.plugins.test_odoo:TestOdooConformance",
    "sms_twilio": "tests.plugins.test_sms_twilio:TestTwilioConformance",
    "letter_lob": "tests.plugins.test_letter_lob:TestLobConformance",
    "stripe": "tests.plugins.test_stripe:TestStripeConformance",
}


class TestCsvConformance(ConnectorConformance):
    @pytest.fixture
    def connector(self, relance_context):
        (relance_context.workspace / "invoices.csv").write_text(
            "invoice_number;customer_id;customer_name;currency;amount_due;due_date\n"
            "F-1;C1;Alpha;EUR;10,50;24/11/2026\nF-2;C2;Beta;GBP;99.99;2026-12-01\n")
        return CsvConnector(CsvSettings(path="invoices.csv"), relance_context)

    # no error cases: a CSV connector reports a missing or unreadable file as a
    # RecordProblem (the sync goes on), it never raises


class Smtp:
    """A loopback SMTP server whose answers a test can turn into failures."""

    def __init__(self):
        self.rcpt_reply = "250 OK"
        self.data_reply = "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server, session, envelope):
        return self.data_reply


class TestEmailConformance(ChannelConformance):
    @pytest.fixture
    def smtp(self):
        handler = Smtp()
        ctl = Controller(handler, hostname="127.0.0.1", port=free_port())
        ctl.start()
        handler.port = ctl.port
        yield handler
        ctl.stop()

    @pytest.fixture
    def channel(self, relance_context, smtp):
        return EmailChannel(EmailSettings(host="127.0.0.1", port=smtp.port, security="none",
                                          from_address="ar@acme.example"), relance_context)

    @pytest.fixture
    def error_cases(self, channel, smtp):
        def unreachable():
            channel.settings.port = free_port()

        def no_such_user():
            smtp.rcpt_reply = "550 5.1.1 <camille@example.com>: Recipient address rejected"
        return {"transient": unreachable, "permanent": no_such_user}


class TestTaskConformance(ChannelConformance):
    @pytest.fixture
    def channel(self, relance_context):
        from plugins.task import TaskChannel, TaskSettings

        return TaskChannel(TaskSettings(), relance_context)


class TestHandoffConformance(ChannelConformance):
    @pytest.fixture
    def channel(self, relance_context):
        from plugins.handoff import HandoffChannel, HandoffSettings

        return HandoffChannel(HandoffSettings(agency="Recouvrex"), relance_context)


class TestLetterPdfConformance(ChannelConformance):
    @pytest.fixture
    def message(self, sample_message):
        return sample_message.model_copy(update={"html": "<html><body><p>Mise en demeure</p></body></html>"})

    @pytest.fixture
    def channel(self, relance_context):
        pytest.importorskip("weasyprint", reason="letter_pdf renders with WeasyPrint (extra `pdf`)")
        from plugins.letter_pdf import LetterPdfChannel, LetterPdfSettings

        return LetterPdfChannel(LetterPdfSettings(), relance_context)


class ErrorsOnly:
    """Only the error classification: the rest of the suite runs in the plugin's own module
    (on its fake server); here every call meets the provider's recorded failure."""

    test_records_are_valid = test_cursor_moves_forward = test_second_sync_yields_nothing_new = None
    test_refresh_rereads_invoices = test_refresh_leaves_out_an_id_the_source_does_not_know = None
    test_fetch_pdf = test_write_note = test_webhook_verify = None
    test_declares_the_contract = test_capabilities_are_implemented = test_secrets_never_logged = None

    @pytest.fixture
    def router(self):
        with respx.mock(assert_all_called=False) as r:
            self.route = r.route(host=self.host)
            yield r

    @pytest.fixture
    def error_cases(self, router):
        def answer(status, body, headers=None):
            return lambda: self.route.respond(status, json=body, headers=headers)
        return {case: answer(*reply) for case, reply in self.recorded.items()}


class TestXeroErrors(ErrorsOnly, ConnectorConformance):
    host = "api.xero.com"
    recorded = {  # bodies as Xero documents them
        "auth": (401, {"Type": None, "Title": "Unauthorized", "Status": 401,
                       "Detail": "AuthenticationUnsuccessful"}),
        "permanent": (400, {"ErrorNumber": 10, "Type": "ValidationException",
                            "Message": "A validation exception occurred",
                            "Elements": [{"ValidationErrors": [{"Message": "Invalid where clause"}]}]}),
        "rate_limited": (429, {}, {"Retry-After": "3600", "X-Rate-Limit-Problem": "day"}),
        "transient": (503, {"Title": "Service Unavailable", "Status": 503,
                            "Detail": "The Xero API is currently offline for maintenance"}),
    }

    @pytest.fixture
    def connector(self, make_relance_context, router):
        from hub.testing import StaticTokenProvider
        from plugins.xero import XeroConnector, XeroSettings

        oauth = StaticTokenProvider(extras={"tenant_id": "7a513ee4-4e1e-4a4c-9e5b-1e1d2e0a0a11"})
        return XeroConnector(XeroSettings(client_id="cid", client_secret="cs"),
                             make_relance_context("xero", oauth=oauth))


class TestQuickBooksErrors(ErrorsOnly, ConnectorConformance):
    host = "quickbooks.api.intuit.com"
    recorded = {  # v3 Fault bodies as Intuit documents them
        "auth": (401, {"Fault": {"Error": [{"Message": "message=AuthenticationFailed; errorCode=003200; "
                                            "statusCode=401", "Detail": "Token expired", "code": "3200"}],
                                 "type": "AUTHENTICATION"}, "time": "2026-11-24T09:00:00.000-08:00"}),
        "permanent": (400, {"Fault": {"Error": [{"Message": "Invalid query", "Detail": "QueryParserError: "
                                                 "Encountered \"<EOF>\"", "code": "4000"}],
                                      "type": "ValidationFault"}, "time": "2026-11-24T09:00:00.000-08:00"}),
        "rate_limited": (429, {"Fault": {"Error": [{"Message": "message=ThrottleExceeded; errorCode=003001; "
                                                    "statusCode=429", "Detail": "The request limit was reached.",
                                                    "code": "3001"}], "type": "ThrottlingFault"}},
                         {"Retry-After": "60"}),
        "transient": (503, {"Fault": {"Error": [{"Message": "Service Unavailable", "code": "503"}],
                                      "type": "SystemFault"}}),
    }

    @pytest.fixture
    def connector(self, make_relance_context, router):
        from hub.testing import StaticTokenProvider
        from plugins.quickbooks import QuickBooksConnector, QuickBooksSettings

        oauth = StaticTokenProvider(extras={"realmId": "9130"})
        return QuickBooksConnector(QuickBooksSettings(client_id="cid", client_secret="cs"),
                                   make_relance_context("qbo", oauth=oauth))


SUITES = {"connector": ConnectorConformance, "channel": ChannelConformance,
          "payment_provider": PaymentProviderConformance}


def test_every_builtin_plugin_runs_a_conformance_suite():
    here = {cls for cls in globals().values()
            if isinstance(cls, type) and issubclass(cls, PluginConformance) and cls.__name__.startswith("Test")}
    builtin = [i for i in discover(entry_points=True).all() if i.module.startswith("plugins.")]
    assert builtin, "no built-in plugin found: is the project installed (pip install -e .)?"
    missing = []
    for info in builtin:
        if info.name in ELSEWHERE:
            module, _, name = ELSEWHERE[info.name].partition(":")
            suite = getattr(importlib.import_module(module), name)
            assert issubclass(suite, SUITES[info.kind]), f"{ELSEWHERE[info.name]} is not a {info.kind} suite"
            continue
        fixture_source = [c for c in here if issubclass(c, SUITES[info.kind])
                          and info.cls.__name__ in _source(c)]
        if not fixture_source:
            missing.append(f"{info.kind} {info.name} ({info.cls.__name__})")
    assert not missing, f"built-in plugins without a conformance test: {missing}; add one here"


def _source(cls) -> str:
    import inspect

    return inspect.getsource(cls)
