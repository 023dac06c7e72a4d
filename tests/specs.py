"""The providers' own API specs, read from `../shared/specs` (or `$RELANCE_SPECS`).

A public clone has no `../shared`: a test that needs a spec is skipped with a reason that
names the missing folder, and the rest of the suite runs. Fixtures that check every
request against a spec (`check_if_present`) keep working without it, checking nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hub.testing.openapi import OpenAPISpec

ROOT = Path(__file__).resolve().parents[1]
SPECS = Path(os.environ.get("RELANCE_SPECS") or ROOT.parent / "shared" / "specs")


def need(relative: str) -> Path:
    """The spec file, or skip the test saying where it was looked for."""
    path = SPECS / relative
    if not path.exists():
        pytest.skip(f"needs the provider spec {relative}: {SPECS} is missing (the specs live "
                    "in ../shared/specs beside the repo; set RELANCE_SPECS to point elsewhere)")
    return path


class Spec:
    """An OpenAPI document loaded on first use."""

    def __init__(self, relative: str):
        self.relative = relative
        self._spec: OpenAPISpec | None = None

    @property
    def present(self) -> bool:
        return (SPECS / self.relative).exists()

    def _load(self) -> OpenAPISpec:
        if self._spec is None:
            self._spec = OpenAPISpec.load(need(self.relative))
        return self._spec

    def check(self, request) -> str:
        """The spec's path template for `request`; skips the test when the spec is missing."""
        return self._load().check(request)

    def check_if_present(self, request) -> str | None:
        """`check` where the spec is here; nothing otherwise (for fixtures every test uses)."""
        return self.check(request) if self.present else None


class JsonFixtures(Mapping):
    """A provider's published example objects (`key` of a JSON file), loaded on first use."""

    def __init__(self, relative: str, key: str):
        self.relative, self.key = relative, key
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(need(self.relative).read_text())[self.key]
        return self._data

    def __getitem__(self, name: str) -> Any:
        return self._load()[name]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())
