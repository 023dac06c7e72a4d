"""The plugin guide stays true: its excerpts are copied from the tested example, and its
tables name every conformance test and every capability the contract has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.contracts import Channel, Connector, PaymentProvider
from hub.testing import conformance

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins"
GUIDE = (DOCS / "README.md").read_text()
BLOCK = re.compile(r"```(\w+)\n# from (\S+)\n(.*?)```", re.S)


def excerpts() -> list[tuple[str, str]]:
    return [(path, body) for _lang, path, body in BLOCK.findall(GUIDE)]


def test_the_guide_has_excerpts_from_the_example():
    assert {p for p, _ in excerpts()} >= {
        "docs/examples/relance-mailgun/pyproject.toml",
        "docs/examples/relance-mailgun/relance_mailgun/__init__.py",
        "docs/examples/relance-mailgun/tests/test_mailgun.py"}


@pytest.mark.parametrize("path,body", excerpts(), ids=[f"{p}:{i}" for i, (p, _) in enumerate(excerpts())])
def test_each_excerpt_is_copied_verbatim_from_its_file(path, body):
    source = (ROOT / path).read_text()
    assert body in source, f"docs/plugins/README.md quotes {path} but the file no longer says:\n{body}"


def suite_tests(cls: type) -> set[str]:
    return {n for n in dir(cls) if n.startswith("test_") and callable(getattr(cls, n))}


@pytest.mark.parametrize("suite", [conformance.ConnectorConformance, conformance.ChannelConformance,
                                   conformance.PaymentProviderConformance])
def test_the_guide_lists_every_test_of_each_suite(suite):
    missing = sorted(n for n in suite_tests(suite) if f"`{n}`" not in GUIDE)
    assert not missing, f"docs/plugins/README.md does not mention {missing} of {suite.__name__}"


def test_every_capability_is_documented():
    table = (DOCS / "capabilities.md").read_text()
    for base in (Connector, Channel, PaymentProvider):
        flags = [n for n in dir(base) if n.startswith("supports_")] + \
                [n for n in ("idempotent", "quiet_hours_relevant", "requires", "auth") if hasattr(base, n)]
        missing = [f for f in flags if f"`{f}" not in table]
        assert not missing, f"docs/plugins/capabilities.md lacks {base.__name__} capabilities {missing}"
