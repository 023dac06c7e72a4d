"""A copy of a store into a fresh SQLite file: what `relance simulate` replays on, whatever
the store is (SQLite's online backup for SQLite; a table-by-table copy from PostgreSQL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

from hub.store.db import make_engine, migrate

BATCH = 5000


def copy_to_sqlite(engine: Engine, target: Path) -> str:
    """Copy the store behind `engine` to `target`; the copy's URL."""
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        src, dst = sqlite3.connect(url.database), sqlite3.connect(target)
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return f"sqlite:///{target}"
    copy = make_engine(f"sqlite:///{target}")
    migrate(copy)
    # one snapshot: a live service writing between two tables would break their links
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as source, \
            copy.begin() as dest:
        for table in SQLModel.metadata.sorted_tables:  # parents before children
            dest.execute(table.delete())  # what the migrations seeded (the installation id)
            rows = source.execution_options(stream_results=True).execute(select(table))
            while chunk := rows.fetchmany(BATCH):
                dest.execute(insert(table), [dict(r._mapping) for r in chunk])
    copy.dispose()
    return f"sqlite:///{target}"
