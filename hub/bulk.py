"""Bulk upserts written once and run as one DBAPI `executemany` per page.

A sync writes hundreds of thousands of rows; SQLAlchemy's per-row parameter processing
cost more than SQLite's own work. SQLite (≥ 3.24) and PostgreSQL share the
`INSERT … ON CONFLICT (…) DO UPDATE SET … excluded.…` syntax, so one statement text
serves both; only the placeholder and the Python → column value conversion differ,
and `Converters` does the latter exactly as the ORM types would (Money as 1/10,000
units, dates as ISO text on SQLite).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from hub.models import MONEY_SCALE


def money_units(value: Decimal | None) -> int | None:
    """A Decimal as the integer of 1/10,000 units the `Money` column stores."""
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    scaled = Decimal(value).scaleb(MONEY_SCALE)
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"{value} has more than {MONEY_SCALE} decimal places")
    return units


def _sqlite_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _sqlite_instant(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DATETIME format


def _same(value):
    return value


class Converters:
    """Python values → what the driver should bind for the dialect of `session`."""

    def __init__(self, session: Session):
        sqlite = session.get_bind().dialect.name == "sqlite"
        self.money = money_units
        self.date = _sqlite_date if sqlite else _same
        self.instant = _sqlite_instant if sqlite else _same


class Upsert:
    """`INSERT INTO table (columns) VALUES (…) ON CONFLICT (keys) DO UPDATE SET …`.

    `values` replaces a column's placeholder by an SQL expression that may hold its own
    `?` placeholders (e.g. a sub-select); `update` gives a column's SQL on conflict
    (default `excluded.<column>`); columns in `keep` are not updated; `update=None`
    with `nothing=True` means DO NOTHING.
    """

    def __init__(self, table: str, columns: Sequence[str], keys: Sequence[str], *,
                 values: Mapping[str, str] | None = None, update: Mapping[str, str] | None = None,
                 keep: Sequence[str] = (), nothing: bool = False):
        values, update = dict(values or {}), dict(update or {})
        placeholders = ", ".join(values.get(c, "?") for c in columns)
        if nothing:
            conflict = f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        else:
            sets = [f"{c} = {update.get(c, f'excluded.{c}')}" for c in columns
                    if c not in keys and c not in keep]
            conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(sets)
        insert = f"INSERT INTO {table} ({', '.join(columns)})"
        self.text = f"{insert} VALUES ({placeholders}) {conflict}"
    def run(self, session: Session, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        connection = session.connection()
        text = self.text
        if connection.dialect.paramstyle != "qmark":
            text = text.replace("%", "%%").replace("?", "%s")
        connection.exec_driver_sql(text, list(rows))
