"""pytest plugin (entry point `pytest11`): fixtures for testing Relance plugins.

Installed with Relance, so a plugin's own test suite gets them with no conftest:
`relance_context` (the `PluginContext` the hub would inject, in a temporary workspace),
`sample_message` and `sample_company`.
"""

from __future__ import annotations

import pytest

from hub.contracts import CompanyInfo, Message, PluginContext


def pytest_configure(config):
    config.addinivalue_line("markers", "relance_conformance: a Relance plugin conformance test")


@pytest.fixture
def sample_company() -> CompanyInfo:
    from hub.testing.conformance import sample_message

    return sample_message().company


@pytest.fixture
def sample_message() -> Message:
    from hub.testing.conformance import sample_message as build

    return build()


@pytest.fixture
def relance_context(tmp_path, sample_company) -> PluginContext:
    from hub.testing import make_context

    return make_context("test", tmp_path, company=sample_company)
