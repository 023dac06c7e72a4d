"""A firm on disk: its relance.yaml and companies/<name>/relance.yaml, each company with
its own in-memory ledger (the memory connector's `ledger` setting) and capture channel."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests import memory_plugins

COMPANY = """
company: {{name: {name}, country: {country}, timezone: Europe/Paris, language: en}}
connections: {{ledger: {{plugin: memory, settings: {{ledger: {slug}}}}}}}
channels: {{email: {{plugin: capture}}}}
scenarios: {{standard: {{closed_days: ignore, steps: [{{at: due+3d, channel: email, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
"""


def write_firm(root: Path, companies: dict[str, str], *, database_url: str | None = None,
               extra: str = "") -> Path:
    """companies: slug → company name. Returns the firm's folder."""
    root.mkdir(parents=True, exist_ok=True)
    db = f"database: {{url: {json.dumps(database_url)}}}\n" if database_url else ""
    (root / "relance.yaml").write_text(f"firm: {{name: Dupont & Associés}}\n{db}{extra}")
    templates = Path(__file__).parents[1] / "data" / "templates" / "en"
    for slug, name in companies.items():
        folder = root / "companies" / slug
        (folder / "templates" / "en").mkdir(parents=True, exist_ok=True)
        (folder / "relance.yaml").write_text(textwrap.dedent(COMPANY.format(
            name=name, slug=slug, country="FR")))
        for src in templates.glob("*.j2"):
            (folder / "templates" / "en" / src.name).write_text(src.read_text())
    return root


@pytest.fixture
def open_company():
    """Open one company of a firm with the in-memory plugins; engines disposed after."""
    from hub.workspace import Workspace
    from hub.workspace.firm import Firm

    opened = []

    def open_(firm_root: Path, slug: str, **kw):
        kw.setdefault("plugins", (memory_plugins.Plugin(),))
        ws = Workspace.open(Firm.at(firm_root).company(slug), **kw)
        opened.append(ws)
        return ws

    yield open_
    for ws in opened:
        ws.engine.dispose()


@pytest.fixture(autouse=True)
def _firm_picks_its_own_store(monkeypatch):
    """Each firm test names its store (SQLite files, or a fresh PostgreSQL database):
    the suite-wide RELANCE_DATABASE_URL would put every company of every test in one."""
    monkeypatch.delenv("RELANCE_DATABASE_URL", raising=False)
