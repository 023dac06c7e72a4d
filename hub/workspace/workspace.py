"""A workspace: one folder with `relance.yaml`, its database and its plugins, opened once.

Opening validates everything that can be validated before work starts — the YAML, each
plugin's Settings, references between sections — and reports every problem at once with
its file:line. Plugin instances are built lazily, each with its own HTTP client.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.engine import Engine, make_url

from hub import config as cfgmod
from hub.contracts import (
    Address,
    Budgets,
    Channel,
    CompanyInfo,
    Connector,
    OAuthBearer,
    PaymentProvider,
    Plugin,
    PluginContext,
)
from hub.contracts.manager import Registry, discover
from hub.errors import ConfigError
from hub.store.db import make_engine, migrate
from hub.workspace.firm import Firm
from hub.workspace.http import make_client

log = logging.getLogger("relance")

_SECTIONS = {"connector": "connections", "channel": "channels",
             "payment_provider": "payment_providers"}


class Workspace:
    def __init__(self, root: Path, loaded: cfgmod.LoadedConfig, registry: Registry,
                 *, transport: httpx.AsyncBaseTransport | None = None,
                 database_url: str | None = None):
        self.root = root.resolve()
        self.loaded = loaded
        self.config = loaded.model
        self.registry = registry
        self.transport = transport
        # RELANCE_DATABASE_URL overrides database.url (a deployment's, a test suite's)
        self._db_url = database_url or os.environ.get("RELANCE_DATABASE_URL") or None
        self._instances: dict[tuple[str, str], Plugin] = {}
        self._loop: int | None = None
        self.settings: dict[tuple[str, str], Any] = {}
        self.firm: Firm | None = None  # set when this is one company of a firm

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: Path | str = ".", *, plugins: tuple = (), entry_points: bool = True,
             transport: httpx.AsyncBaseTransport | None = None, migrate_db: bool = True,
             database_url: str | None = None, read_only: bool = False) -> Workspace:
        """`read_only`: for commands that only read the store (status, history, reports):
        the plugins' secrets need not be in the environment."""
        root = Path(root)
        firm = Firm.of_company(root)
        if firm is None and (whole := Firm.at(root)) is not None:
            raise ConfigError(f"{whole.root} is the folder of the firm {whole.name!r}, whose "
                              f"companies are {', '.join(whole.slugs()) or 'not added yet'}: "
                              "name one with --company NAME (or -w companies/NAME)")
        loaded = cfgmod.load(root / cfgmod.CONFIG_FILE, secrets_optional=read_only,
                             inherited=firm.inherited() if firm else None)
        registry = discover(entry_points=entry_points, plugins=plugins)
        ws = cls(root, loaded, registry, transport=transport, database_url=database_url)
        ws.firm = firm
        ws.validate_plugins()
        if migrate_db:
            migrate(ws.engine)
        return ws

    def sibling(self) -> Workspace:
        """The same workspace and store with plugin instances of its own: for work on
        another thread's event loop (a dashboard action), which must not swap the clients
        the service's loop is using."""
        other = type(self)(self.root, self.loaded, self.registry, transport=self.transport,
                           database_url=self._db_url)
        other.settings = self.settings
        other.firm = self.firm
        other.__dict__["engine"] = self.engine
        return other

    def validate_plugins(self) -> None:
        """Resolve every configured plugin and validate its Settings; one error for all."""
        problems: list[str] = []
        for kind, section in _SECTIONS.items():
            for name, entry in getattr(self.config, section).items():
                plugin = entry.plugin or name
                try:
                    info = self.registry.get(kind, plugin)
                except Exception as exc:
                    problems.append(str(self.loaded.error(str(exc), section, name, "plugin")))
                    continue
                try:
                    self.settings[(kind, name)] = info.cls.Settings.model_validate(entry.settings)
                except ValidationError as exc:
                    for err in exc.errors():
                        loc = (section, name, "settings", *err["loc"])
                        msg = err["msg"].removeprefix("Value error, ")
                        if err["type"] == "extra_forbidden":
                            fields = ", ".join(info.cls.Settings.model_fields)
                            msg = f"unknown setting for plugin {plugin!r} (valid: {fields})"
                        problems.append(str(self.loaded.error(msg, *loc)))
        if problems:
            raise ConfigError("\n".join(problems))

    # ------------------------------------------------------------------ resources
    @property
    def database_url(self) -> str:
        url = self._db_url or self.config.database.url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            db = Path(parsed.database)
            if not db.is_absolute():
                return str(parsed.set(database=str(self.root / db)))
        return url

    @cached_property
    def engine(self) -> Engine:
        if self.firm is not None:  # the company's schema in the firm's PostgreSQL
            self.firm.database_url(self._db_url)  # refuses one SQLite file for all
            engine = self.firm.company_engine(self.slug, self._db_url)
            if engine is not None:
                return engine
        return make_engine(self.database_url)

    @property
    def slug(self) -> str | None:
        """The company's name in its firm (its folder); None for a one-company workspace."""
        return self.root.name if self.firm is not None else None

    @property
    def company_key(self) -> str:
        """What a dashboard user's company scope names: the folder in a firm, else the
        company's name."""
        return self.slug or self.config.company.name

    @property
    def users_engine(self) -> Engine:
        """Where dashboard users live: the firm's store (one sign-in for its companies)."""
        return self.firm.users_engine(self._db_url) if self.firm is not None else self.engine

    @cached_property
    def budgets(self) -> Budgets:
        """Providers' call budgets: in Redis when several processes call them."""
        url = self.config.scale.limits_url
        if url:
            return Budgets.shared(url)
        return self.firm.local_budgets() if self.firm is not None else Budgets.local()

    @cached_property
    def box(self):
        # imported on first use: `cryptography` costs 6–7 MB of RSS, and a workspace
        # without OAuth connections never needs it
        from hub.workspace.secrets import SecretBox

        return SecretBox.for_workspace(self.root)

    @cached_property
    def company(self) -> CompanyInfo:
        c = self.config.company
        return CompanyInfo(
            name=c.name, country=c.country, timezone=c.timezone, language=c.language,
            locale=c.babel_locale, currency=c.currency, email=c.email, phone=c.phone,
            signatory=c.signatory, address=Address(**c.address.model_dump()),
        )

    # ------------------------------------------------------------------ plugin instances
    @cached_property
    def default_languages(self) -> dict[int, str]:
        """Connection id → the language its customers without one get (`default_language`)."""
        from sqlalchemy import select

        from hub.store.db import session
        from hub.store.models import Connection

        wanted = {n: c.default_language for n, c in self.config.connections.items()
                  if c.default_language}
        if not wanted:
            return {}
        with session(self.engine) as s:
            return {cid: wanted[name] for cid, name in s.execute(
                select(Connection.id, Connection.name).where(Connection.name.in_(wanted)))}

    def plugin_name(self, kind: str, name: str) -> str:
        entry = getattr(self.config, _SECTIONS[kind])[name]
        return entry.plugin or name

    def _context(self, kind: str, name: str, cls: type) -> PluginContext:
        tokens = oauth = auth = None
        if kind == "connector" and getattr(cls, "auth", "none") == "oauth2":
            from hub.workspace.auth import OAuth2TokenProvider

            tokens = self.token_store(name, cls.name)
            oauth = OAuth2TokenProvider(cls.oauth_for(self.settings[(kind, name)]),
                                        self.settings[(kind, name)], tokens, transport=self.transport)
            auth = OAuthBearer(oauth)
        return PluginContext(
            name=name,
            http=make_client(name, transport=self.transport),
            logger=logging.getLogger(f"relance.{kind}.{name}"),
            workspace=self.root,
            company=self.company,
            tokens=tokens,
            oauth=oauth,
            auth=auth,
            public_url=self.config.serve.public_url,
            budget=self.budgets,
        )

    def token_store(self, connection: str, plugin: str):
        """Where the connection's OAuth token lives: its own row, or — `consent:` in a
        firm — the firm's consent shared by several companies."""
        from hub.workspace.auth import DbTokenStore, SharedConsentStore

        consent = self.config.connections[connection].consent
        if consent is None:
            return DbTokenStore(self.engine, connection, self.box, plugin=plugin)
        if self.firm is None:
            raise ConfigError(f"connections.{connection}.consent: a shared consent is a "
                              "firm's; this workspace is one company (remove `consent:`)")
        return SharedConsentStore(self.firm.users_engine(self._db_url), consent,
                                  self.firm.box, plugin, self.engine, connection)

    def _instance(self, kind: str, name: str) -> Any:
        # HTTP clients belong to one event loop: a new loop (another asyncio.run) gets new
        # plugin instances instead of clients bound to a closed loop.
        try:
            loop = id(asyncio.get_running_loop())
        except RuntimeError:
            loop = None
        if loop != self._loop:
            self._instances.clear()
            self._loop = loop
        key = (kind, name)
        if key not in self._instances:
            section = getattr(self.config, _SECTIONS[kind])
            if name not in section:
                raise ConfigError(f"no {kind} named {name!r} in {self.loaded.path.name} "
                                  f"(configured: {', '.join(section) or 'none'})")
            cls = self.registry.get(kind, self.plugin_name(kind, name)).cls
            self._instances[key] = cls(self.settings[key], self._context(kind, name, cls))
        return self._instances[key]

    def connector(self, name: str) -> Connector:
        return self._instance("connector", name)

    def channel(self, name: str) -> Channel:
        return self._instance("channel", name)

    def payment_provider(self, name: str) -> PaymentProvider:
        return self._instance("payment_provider", name)

    def plugin_class(self, kind: str, name: str) -> type:
        return self.registry.get(kind, self.plugin_name(kind, name)).cls

    async def aclose(self) -> None:
        for inst in self._instances.values():
            try:
                await inst.aclose()
            finally:
                await inst.http.aclose()
        self._instances.clear()
