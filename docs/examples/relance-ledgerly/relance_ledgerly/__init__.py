"""Ledgerly connector for Relance: customers and invoices of a small paged REST ledger.

Ledgerly (a made-up API, shaped like many small ones) answers
`GET /v1/customers|invoices?page=N&per_page=M&updated_since=ISO` and
`GET /v1/invoices?ids=a,b`, with a bearer API key. `RestConnector` does the paging, the
cursor, the fresh-check and the error mapping: this module only says where and how to map.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, SecretStr

from hub.contracts import Address, CustomerRecord, InvoiceRecord, PluginSettings, RestConnector
from hub.hookspecs import hookimpl

STATUS = {"sent": "open", "overdue": "open", "paid": "paid", "void": "void"}


class LedgerlySettings(PluginSettings):
    api_key: SecretStr = Field(description="Settings → API keys in Ledgerly")
    base_url: str = "https://api.ledgerly.example/v1"


class LedgerlyConnector(RestConnector):
    name = "ledgerly"
    description = "Ledgerly (REST, API key)"
    api_version = "1.1"
    Settings = LedgerlySettings
    provider = "Ledgerly"
    auth = "api_key"
    updated_since_param = "updated_since"

    def customer(self, o: dict[str, Any]) -> CustomerRecord:
        a = o.get("address") or {}
        return CustomerRecord(external_id=str(o["id"]), name=o["name"], email=o.get("email"),
                              phone=o.get("phone"), language=o.get("locale"),
                              address=Address(line1=a.get("street"), city=a.get("city"),
                                              postcode=a.get("zip"), country=a.get("country")))

    def invoice(self, o: dict[str, Any]) -> InvoiceRecord | None:
        if o["state"] == "draft":
            return None  # never sent to the customer
        return InvoiceRecord(
            external_id=str(o["id"]), customer_external_id=str(o["customer_id"]),
            number=o["number"], currency=o["currency"], total=Decimal(o["total"]),
            amount_due=Decimal(o["balance"]), issue_date=o.get("issued_on"),
            due_date=o["due_on"], status=STATUS[o["state"]])


@hookimpl
def register_connectors(register):
    register(LedgerlyConnector)
