"""pytest plugin (entry point `pytest11`): fixtures for testing Relance plugins.

Installed with Relance, so a plugin's own test suite gets them with no conftest:

- `relance_context`: the `PluginContext` the hub would inject, in a temporary workspace;
  its HTTP client retries like the hub's but without waiting (respx patches its transport);
- `make_relance_context`: the same as a factory, for a name, a transport, tokens, …;
- `sample_message`, `sample_company`, `sample_link_request`: realistic inputs;
- the marker `relance_conformance`, set on every test of `hub.testing.conformance`
  (`pytest -m relance_conformance` runs only the contract).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hub.contracts import CompanyInfo, Message, PaymentLinkRequest, PluginContext


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "relance_conformance: a test of the Relance plugin contract (hub.testing.conformance)")


def _no_wait_retry():
    from hub.workspace.http import default_retry

    retry = default_retry(backoff=0)
    retry.respect_retry_after_header = False
    return retry


@pytest.fixture
def make_relance_context(tmp_path, sample_company) -> Callable[..., PluginContext]:
    """`make_relance_context(name="test", **make_context_kwargs)` → a PluginContext."""
    from hub.testing import make_context
    from hub.workspace.http import make_client

    def build(name: str = "test", **kwargs: Any) -> PluginContext:
        kwargs.setdefault("company", sample_company)
        ctx = make_context(name, kwargs.pop("workspace", tmp_path), **kwargs)
        http = make_client(name, base_url=kwargs.get("base_url", ""),
                           transport=kwargs.get("transport"), retry=_no_wait_retry())
        return ctx.model_copy(update={"http": http})

    return build


@pytest.fixture
def relance_context(make_relance_context) -> PluginContext:
    return make_relance_context("test")


@pytest.fixture
def sample_company() -> CompanyInfo:
    from hub.testing.recorded import sample_company as build

    return build()


@pytest.fixture
def sample_message() -> Message:
    from hub.testing.recorded import sample_message as build

    return build()


@pytest.fixture
def sample_link_request() -> PaymentLinkRequest:
    from hub.testing.recorded import sample_link_request as build

    return build()
