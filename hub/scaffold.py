"""`relance plugin new`: a ready-to-publish package skeleton for a connector, channel or
payment provider, whose stubs fail loudly until written and whose tests run the
conformance suite from the first `pytest`."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from hub.contracts import API_VERSION
from hub.errors import PermanentError

KINDS = {
    "connector": ("Connector", "register_connectors", "ConnectorConformance", "connector"),
    "channel": ("Channel", "register_channels", "ChannelConformance", "channel"),
    "payment": ("PaymentProvider", "register_payment_providers", "PaymentProviderConformance",
                "provider_plugin"),
}

PYPROJECT = Template('''[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "relance-$dist"
version = "0.1.0"
description = "$title $kind for Relance"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["relance>=0.1"]

[project.optional-dependencies]
test = ["pytest", "respx"]

[project.entry-points.relance]
$name = "$package"
''')

METHODS = {
    "connector": '''
    async def sync(self, cursor: Cursor) -> AsyncIterator[SyncPage]:
        """Yield pages of records changed since `cursor`, each with the cursor after it."""
        raise NotImplementedError("TODO: read customers and invoices from $title")
        yield  # pragma: no cover  (makes this an async generator)

    async def refresh(self, external_ids: Sequence[str]) -> list[InvoiceRecord]:
        """Re-read these invoices just before a send (declare supports_refresh = True)."""
        raise NotImplementedError("TODO: fetch the current state of invoices from $title")
''',
    "channel": '''
    async def send(self, message: Message) -> SendResult:
        """Deliver the rendered message; return the provider's reference."""
        raise NotImplementedError("TODO: send through $title and return SendResult(...)")
''',
    "payment": '''
    async def create_link(self, request: PaymentLinkRequest) -> PaymentLink:
        """Create a payment link for request.amount in request.currency (send the
        request.idempotency_key so a retry never creates two links)."""
        raise NotImplementedError("TODO: create a payment link with $title")
''',
}

MODULE = Template('''"""$title $kind for Relance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from pydantic import SecretStr

from hub.contracts import (
    $base,
    Cursor,
    InvoiceRecord,
    Message,
    PaymentLink,
    PaymentLinkRequest,
    PluginSettings,
    SendResult,
    SyncPage,
)
from hub.hookspecs import hookimpl


class Settings(PluginSettings):
    api_key: SecretStr
    base_url: str = "https://api.example.com"  # TODO: the provider's URL (sandbox/proxy/mock)


class $cls($base):
    name = "$name"
    description = "$title $kind"
    api_version = "$api"
    Settings = Settings
$methods

@hookimpl
def $hook(register):
    register($cls)
''')

TEST = Template('''"""Conformance: the suite every Relance $kind must pass."""

import pytest

from hub.testing.conformance import $suite
from $package import $cls


class Test$cls($suite):
    @pytest.fixture
    def $fixture(self, relance_context):
        return $cls($cls.Settings(api_key="test-key"), relance_context)
''')

README = Template('''# relance-$dist

A $title $kind for [Relance](https://pypi.org/project/relance/).

    pip install relance-$dist

```yaml
# relance.yaml
$section:
  $name:
    plugin: $name
    settings:
      api_key: $${${env}_API_KEY}
```

Develop: `pip install -e ".[test]" && pytest` — the conformance suite runs from the start;
every stub raises `NotImplementedError("TODO: …")` until you write it.
''')


def new_plugin(name: str, kind: str, where: Path) -> Path:
    if kind not in KINDS:
        raise PermanentError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise PermanentError(f"plugin name {name!r}: use lowercase letters, digits and _ "
                             "(it is what users write in `plugin:`)")
    base, hook, suite, fixture = KINDS[kind]
    dist = name.replace("_", "-")
    package = f"relance_{name}"
    root = where / f"relance-{dist}"
    if root.exists():
        raise PermanentError(f"{root} already exists; choose another --dir or name")
    title = name.replace("_", " ").title()
    values = dict(name=name, dist=dist, package=package, kind=kind, base=base, hook=hook,
                  suite=suite, fixture=fixture, cls=f"{title.replace(' ', '')}{base}",
                  title=title, api=API_VERSION, env=name.upper(),
                  section={"connector": "connections", "channel": "channels",
                           "payment": "payment_providers"}[kind])
    values["methods"] = Template(METHODS[kind]).substitute(values)
    (root / package).mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT.substitute(values))
    (root / package / "__init__.py").write_text(MODULE.substitute(values))
    (root / "tests" / f"test_{name}.py").write_text(TEST.substitute(values))
    (root / "README.md").write_text(README.substitute(values))
    return root
