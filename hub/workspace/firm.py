"""A firm: one deployment serving many companies.

    firm/relance.yaml                 firm:, database:, serve:, scale: (shared)
    firm/companies/acme/relance.yaml  company:, connections:, channels:, scenarios:, …
    firm/companies/acme/templates/    its own templates, law/ rates, secret key

Each company is a whole workspace of its own — connections, scenarios, templates, calendar,
law pack — and its own store: a schema of the firm's PostgreSQL database (`co_<name>`; the
companies share one connection pool, each transaction names its schema), or a SQLite file
in its folder. Isolation is the database's, not a `WHERE company = …` every query must
remember: a company's code cannot read another's rows. The firm's own store (the users who
sign in to the dashboard) is the `firm` schema, or the firm folder's SQLite file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine, make_url

from hub import config as cfgmod
from hub.config.model import FIRM_SECTIONS, FirmConfig
from hub.errors import ConfigError
from hub.store.db import make_engine, migrate, schema_engine

COMPANIES = "companies"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def check_slug(name: str) -> str:
    if not SLUG.match(name):
        raise ConfigError(f"{name!r} cannot name a company folder: use lower-case letters, "
                          "digits and dashes (at most 40), e.g. acme-sas")
    return name


def is_firm_file(path: Path) -> bool:
    """A relance.yaml with a top-level `firm:` (read cheaply, before validation)."""
    try:
        head = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(head, dict) and "firm" in head


@dataclass
class Firm:
    root: Path
    loaded: cfgmod.LoadedConfig

    @classmethod
    def at(cls, root: Path | str) -> Firm | None:
        """The firm whose folder is `root`, or None when `root` is a one-company workspace."""
        root = Path(root).resolve()
        path = root / cfgmod.CONFIG_FILE
        if not is_firm_file(path):
            return None
        return cls(root, cfgmod.load(path, model=FirmConfig))

    @classmethod
    def of_company(cls, company_root: Path) -> Firm | None:
        """The firm a company folder (firm/companies/NAME) belongs to, if any."""
        company_root = Path(company_root).resolve()
        if company_root.parent.name != COMPANIES:
            return None
        return cls.at(company_root.parent.parent)

    @property
    def config(self) -> FirmConfig:
        return self.loaded.model

    def slugs(self) -> list[str]:
        folder = self.root / COMPANIES
        return sorted(p.name for p in folder.iterdir()
                      if (p / cfgmod.CONFIG_FILE).exists()) if folder.is_dir() else []

    def company_root(self, slug: str) -> Path:
        return self.root / COMPANIES / check_slug(slug)

    def inherited(self) -> dict[str, Any]:
        """The sections every company takes from the firm's file."""
        return {key: getattr(self.config, key).model_dump() for key in FIRM_SECTIONS}

    def company(self, slug: str) -> Path:
        """The folder of the company `slug` (open it with `Workspace.open`), or a clear
        error naming the firm's companies."""
        root = self.company_root(slug)
        if not (root / cfgmod.CONFIG_FILE).exists():
            known = ", ".join(self.slugs()) or "none yet"
            raise ConfigError(f"no company {slug!r} in the firm at {self.root} (companies: "
                              f"{known}); add one with `relance company add {slug}`")
        return root

    # ------------------------------------------------------------------ stores
    def database_url(self, override: str | None = None) -> str:
        url = override or os.environ.get("RELANCE_DATABASE_URL") or self.config.database.url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and \
                Path(parsed.database).is_absolute():
            raise ConfigError(f"{url}: a firm on SQLite keeps one file per company, in its "
                              "folder; write a relative path (sqlite:///relance.db), or use "
                              "PostgreSQL (a schema per company)", key="database.url")
        return url

    def local_budgets(self):
        """The firm's call budgets when it runs in one process: its companies share a Lob
        key or a Twilio number, and so their count."""
        from hub.contracts import Budgets

        return _LOCAL_BUDGETS.setdefault(self.root, Budgets.local())

    def is_postgres(self, override: str | None = None) -> bool:
        return make_url(self.database_url(override)).get_backend_name() == "postgresql"

    def company_engine(self, slug: str, override: str | None = None) -> Engine | None:
        """The company's schema on the firm's PostgreSQL; None on SQLite (a file per
        company, the workspace's own)."""
        if not self.is_postgres(override):
            return None
        return schema_engine(self.database_url(override), "co_" + check_slug(slug).replace("-", "_"))

    def users_engine(self, override: str | None = None, *, migrate_db: bool = True) -> Engine:
        """The firm's own store: who signs in, and which companies each sees."""
        return _firm_store(self.root, self.database_url(override), migrate_db)

    @cached_property
    def box(self):
        """The firm's secret key: its shared consents' tokens, its dashboard sessions."""
        from hub.workspace.secrets import SecretBox

        return SecretBox.for_workspace(self.root)

    @cached_property
    def name(self) -> str:
        return self.config.firm.name


_STORES: dict[tuple[Path, str], Engine] = {}
_MIGRATED: set[tuple[Path, str]] = set()
_LOCAL_BUDGETS: dict[Path, Any] = {}


def _firm_store(root: Path, url: str, migrate_db: bool = True) -> Engine:
    key = (root, url)
    if key not in _STORES:
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            _STORES[key] = schema_engine(url, "firm")
        else:
            _STORES[key] = make_engine(str(parsed.set(database=str(root / (parsed.database
                                                                          or "relance.db")))))
    if migrate_db and key not in _MIGRATED:
        migrate(_STORES[key])
        _MIGRATED.add(key)
    return _STORES[key]
