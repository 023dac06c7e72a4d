"""Engine and sessions. SQLite in the workspace by default, any SQLAlchemy URL otherwise.

The schema is owned by Alembic (`hub/store/migrations`): `migrate()` brings any database to
head, so an upgrade of Relance is an upgrade of the schema, never a `create_all`.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from hub.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB page cache: planning joins stay in memory
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


SQLITE_MINIMUM = (3, 35)  # upserts (3.24) and RETURNING (3.35), used by the store and outbox


def check_sqlite(version: tuple[int, ...] = sqlite3.sqlite_version_info) -> None:
    if version < SQLITE_MINIMUM:
        raise ConfigError(
            f"this Python links SQLite {'.'.join(map(str, version))}; Relance needs "
            f"{'.'.join(map(str, SQLITE_MINIMUM))} or newer. Use a Python built against a "
            "newer SQLite, or set `database.url` to a PostgreSQL database",
            key="database.url")


def make_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL + busy timeout on SQLite, pooling on PG."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        check_sqlite()
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's implicit transactions break SAVEPOINT and BEGIN IMMEDIATE: own them.
        @event.listens_for(engine, "connect")
        def _no_implicit(dbapi_conn, _r):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)

    @event.listens_for(engine, "begin")
    def _company_schema(conn):
        # a firm's companies share one pool, each in its own schema: every transaction says
        # which (SET LOCAL ends with it, so a pooled connection never carries one over)
        schema = conn.get_execution_options().get(SCHEMA_OPTION)
        if schema:
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
    return engine


SCHEMA_OPTION = "relance_schema"
SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@functools.cache
def shared_engine(url: str) -> Engine:
    """One engine (one pool) per database in this process, for the companies it holds."""
    return make_engine(url)


def schema_engine(url: str, schema: str) -> Engine:
    """The companies' shared PostgreSQL pool, each transaction in `schema` (created here)."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"{schema!r} is not a schema name Relance makes")
    base = shared_engine(url)
    with base.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.commit()
    return base.execution_options(**{SCHEMA_OPTION: schema})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_MIGRATE_LOCK = threading.Lock()  # Alembic's command API keeps module-global state


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; a no-op read when already there)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config(engine)
    with _MIGRATE_LOCK, _across_processes(engine):
        if revision == "head":
            with engine.connect() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
            if current == ScriptDirectory.from_config(cfg).get_current_head():
                return
        command.upgrade(cfg, revision)


MIGRATION_LOCK = 0x72656C616E6366  # PostgreSQL advisory lock key of the migration


@contextmanager
def _across_processes(engine: Engine) -> Iterator[None]:
    """Several processes starting at once on a fresh PostgreSQL database migrate one at a
    time (the others wait, then find the schema at head). SQLite's write lock serialises
    them already."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            conn.commit()


_INSTALLATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def installation_id(s: Session) -> str:
    """This database's random id (16 hex digits), read once per engine, in the caller's
    own transaction (a second connection would wait for the caller's write lock)."""
    engine = s.get_bind().engine
    if engine not in _INSTALLATIONS:
        _INSTALLATIONS[engine] = s.connection().exec_driver_sql(
            "SELECT id FROM installation").scalar_one()[:16]
    return _INSTALLATIONS[engine]


@contextmanager
def session(engine: Engine, *, immediate: bool = False) -> Iterator[Session]:
    """A session that commits on success. `immediate` takes SQLite's write lock up front."""
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if immediate else engine
    with Session(bind, expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A Core connection in a write transaction (SQLite's lock taken up front), for the
    hot paths that write plain SQL."""
    with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        yield conn
