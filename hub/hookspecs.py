"""The plugin contract: what a Relance plugin may implement.

Hooks only *register*; the classes they register do the work (see `hub.contracts`).
Each hook receives a `register` callback that validates what it is given and raises a
`hub.errors.PluginError` naming the class, its distribution and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.contracts import Channel, Connector, PaymentProvider

hookspec = pluggy.HookspecMarker("relance")
hookimpl = pluggy.HookimplMarker("relance")


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register ledger connectors.

    :param register: call it once per `hub.contracts.Connector` subclass.

    Added in API 1.0.
    """


@hookspec
def register_channels(register: Callable[[type[Channel]], None]) -> None:
    """Register delivery channels.

    :param register: call it once per `hub.contracts.Channel` subclass.

    Added in API 1.0.
    """


@hookspec
def register_payment_providers(register: Callable[[type[PaymentProvider]], None]) -> None:
    """Register payment-link providers.

    :param register: call it once per `hub.contracts.PaymentProvider` subclass.

    Added in API 1.0.
    """


@hookspec
def register_template_filters(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register Jinja2 filters available to every template.

    :param register: call ``register(name, function)``; names must be unique.

    Added in API 1.0.
    """
