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
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.models import MONEY_SCALE


def money_units(value: Decimal | None) -> int | None:
    """A Decimal as the integer of 1/10,000 units the `Money` column stores."""
    if value is None:
        return None
    if type(value) is not Decimal:
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        value = Decimal(value)
    scaled = value.scaleb(MONEY_SCALE)
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

    def __init__(self, bind: Session | Connection | str):
        """`bind`: where the values go, or the name of its dialect."""
        sqlite = (bind if isinstance(bind, str) else dialect_of(bind)) == "sqlite"
        self.money = money_units
        self.date = _sqlite_date if sqlite else _same
        self.instant = _sqlite_instant if sqlite else _same


def dialect_of(bind: Session | Connection) -> str:
    return (bind if isinstance(bind, Connection) else bind.get_bind()).dialect.name


def literal(value) -> str:
    """An SQL literal for one of our own constants (never for data from a ledger)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    raise TypeError(f"not a constant literal: {value!r}")


Statement = tuple[str, object]  # SQL text and its DBAPI parameters


class Upsert:
    """`INSERT INTO table (columns) VALUES (…) ON CONFLICT (keys) DO UPDATE SET …`.

    `values` replaces a column's placeholder by an SQL expression that may hold its own
    `?` placeholders and `{column}` references to fixed values (e.g. a sub-select);
    `update` gives a column's SQL on conflict (default `excluded.<column>`); columns in
    `keep` are not updated; `nothing=True` means DO NOTHING. `run(…, fixed=)` gives
    columns whose value is the same for every row (ids, flags): they are written into
    the statement instead of bound per row.
    """

    def __init__(self, table: str, columns: Sequence[str], keys: Sequence[str], *,
                 values: Mapping[str, str] | None = None, update: Mapping[str, str] | None = None,
                 keep: Sequence[str] = (), nothing: bool = False):
        self.table, self.columns, self.values = table, tuple(columns), dict(values or {})
        if nothing:
            self.conflict = f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        else:
            update = dict(update or {})
            sets = [f"{c} = {update.get(c, f'excluded.{c}')}" for c in columns
                    if c not in keys and c not in keep]
            self.conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(sets)
        self._texts: dict[tuple, str] = {}

    def text(self, dialect: str, fixed: Mapping[str, object]) -> str:
        key = (dialect, tuple(sorted(fixed.items())))
        if key not in self._texts:
            consts = {k: literal(v) for k, v in fixed.items()}
            exprs = [consts[c] if c in fixed else self.values.get(c, "?").format(**consts)
                     for c in self.columns]
            head = f"INSERT INTO {self.table} ({', '.join(self.columns)})"
            if dialect == "sqlite":
                # The page as one JSON parameter: the insert is then a single
                # sqlite3_step, run without the GIL while the connector parses the next
                # page (binding row by row hands the GIL back and forth for every row).
                # `WHERE true` resolves the parsing ambiguity SQLite documents for upserts.
                n = iter(range(10_000))
                exprs = [re.sub(r"\?", lambda _: f"value ->> {next(n)}", e) for e in exprs]
                text = f"{head} SELECT {', '.join(exprs)} FROM json_each(?) WHERE true {self.conflict}"
            else:
                text = f"{head} VALUES ({', '.join(exprs)}) {self.conflict}".replace("?", "%s")
            self._texts[key] = text
        return self._texts[key]

    def statement(self, dialect: str, rows: Sequence[tuple],
                  fixed: Mapping[str, object] = {}) -> Statement | None:
        """The statement and its parameters for `rows` (the values of the columns not in
        `fixed`, in column order); building them is pure Python, so a caller can do it in
        one thread and run them in another."""
        if not rows:
            return None
        params = (json.dumps(rows),) if dialect == "sqlite" else list(rows)
        return self.text(dialect, fixed), params

    def run(self, session: Session, rows: Sequence[tuple], fixed: Mapping[str, object] = {}) -> None:
        execute(session, self.statement(dialect_of(session), rows, fixed))


def execute(session: Session, statement: Statement | None) -> None:
    if statement is not None:
        session.connection().exec_driver_sql(*statement)
