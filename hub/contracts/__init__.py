"""The typed contract between the hub and its plugins: the only hub package a plugin imports
(with `hub.errors` and `hub.hookspecs`).

Everything that crosses the boundary is a frozen pydantic model (records, messages,
results) so a plugin can never mutate hub state and a database migration can never
break a plugin. Plugins subclass `Connector`, `Channel` or `PaymentProvider`, declare
`name`, `api_version`, a pydantic `Settings` model and their capabilities as class
attributes, and implement the abstract methods. I/O is `async` and goes through the
`httpx.AsyncClient` the hub injects in the context (timeouts, retries, logging and the
test seam belong to the hub).

`API_VERSION` is the contract's version: ``MAJOR.MINOR``. A plugin targeting another
MAJOR is refused at load time; a plugin targeting a newer MINOR is refused too (it may
call what this hub lacks).

The modules: `records` (what a connector yields), `webhooks`, `context` (what the hub hands
a plugin), `plugin` (what every kind shares), `connector`, `channel`, `payment`, and
`http` (base classes that do the shared HTTP work), `rest` (a paged JSON ledger in a few
lines). The names below are the contract.
"""

from hub.contracts.budget import ApiBudget, Budgets
from hub.contracts.channel import (
    Attachment,
    Channel,
    DeliveryStatus,
    FollowUp,
    InvoiceLine,
    Message,
    Recipient,
    SendResult,
)
from hub.contracts.connector import (
    Connector,
)
from hub.contracts.context import (
    CompanyInfo,
    OAuthBearer,
    OAuthSpec,
    PluginContext,
    TokenProvider,
    TokenStore,
)
from hub.contracts.http import (
    HttpChannel,
    HttpConnector,
    HttpPaymentProvider,
    HttpPlugin,
    pages,
    retry_after,
)
from hub.contracts.payment import (
    PaymentLink,
    PaymentLinkRequest,
    PaymentProvider,
)
from hub.contracts.plugin import (
    API_VERSION,
    AsyncTask,
    Plugin,
    PluginSettings,
    Register,
    TemplateFilter,
)
from hub.contracts.records import (
    CURRENCIES,
    Address,
    Cursor,
    CustomerRecord,
    InvoiceRecord,
    InvoiceStatus,
    LedgerNote,
    LedgerPayment,
    PaymentRecord,
    Record,
    RecordProblem,
    SyncItem,
    SyncPage,
    Tombstone,
    country_code,
    is_currency,
)
from hub.contracts.rest import RestConnector
from hub.contracts.webhooks import (
    DeliveryUpdate,
    LedgerChanged,
    PaymentReceived,
    WebhookEvent,
    WebhookRequest,
    WebhookResult,
)

__all__ = [
    'API_VERSION',
    'CURRENCIES',
    'Address',
    'ApiBudget',
    'AsyncTask',
    'Attachment',
    'Budgets',
    'Channel',
    'CompanyInfo',
    'Connector',
    'Cursor',
    'CustomerRecord',
    'DeliveryStatus',
    'DeliveryUpdate',
    'FollowUp',
    'HttpChannel',
    'HttpConnector',
    'HttpPaymentProvider',
    'HttpPlugin',
    'InvoiceLine',
    'InvoiceRecord',
    'InvoiceStatus',
    'LedgerChanged',
    'LedgerNote',
    'LedgerPayment',
    'Message',
    'OAuthBearer',
    'OAuthSpec',
    'PaymentLink',
    'PaymentLinkRequest',
    'PaymentProvider',
    'PaymentReceived',
    'PaymentRecord',
    'Plugin',
    'PluginContext',
    'PluginSettings',
    'Recipient',
    'Record',
    'RecordProblem',
    'Register',
    'RestConnector',
    'SendResult',
    'SyncItem',
    'SyncPage',
    'TemplateFilter',
    'TokenProvider',
    'TokenStore',
    'Tombstone',
    'WebhookEvent',
    'WebhookRequest',
    'WebhookResult',
    'country_code',
    'is_currency',
    'pages',
    'retry_after',
]
