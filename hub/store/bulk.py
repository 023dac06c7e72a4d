"""Bulk upserts as plain SQL, a few statements per page.

A sync writes hundreds of thousands of rows; SQLAlchemy's per-row parameter processing
cost more than SQLite's own work. SQLite (≥ 3.24) and PostgreSQL share the
`INSERT … ON CONFLICT (…) DO UPDATE SET … excluded.…` syntax; `Upsert` writes the
statement for each, and `Converters` turns Python values into what the driver binds,
exactly as the ORM types would (Money as 1/10,000 units, dates as ISO text on SQLite).
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.store.money import money_column, money_units


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


def _each_distinct(convert):
    """`convert` for a column, run once per distinct value (a page has few dates)."""
    def column(values: Sequence) -> list:
        table = {value: convert(value) for value in set(values)}
        return list(map(table.__getitem__, values))
    return column


def _ints(values: Sequence) -> list:
    return list(map(int, values))


class Converters:
    """Python values → what the driver should bind for the dialect of `session`."""

    def __init__(self, bind: Session | Connection | str):
        """`bind`: where the values go, or the name of its dialect."""
        sqlite = (bind if isinstance(bind, str) else dialect_of(bind)) == "sqlite"
        self.money = money_units
        # SQLite stores a boolean as 0/1, and sqlite3 binds a bool through its slow adapter path
        self.flag = int if sqlite else _same
        # the same, for a column of values at once
        self.money_column = money_column
        self.date_column = _each_distinct(_sqlite_date) if sqlite else list
        self.instant_column = _each_distinct(_sqlite_instant) if sqlite else list
        self.flag_column = _ints if sqlite else list
        self.date = _sqlite_date if sqlite else _same
        self.instant = _sqlite_instant if sqlite else _same


def dialect_of(bind: Session | Connection) -> str:
    return (bind if isinstance(bind, Connection) else bind.get_bind()).dialect.name


Statement = tuple[str, object]  # SQL text and its DBAPI parameters


def literal(value: object) -> str:
    """An SQL literal for one of our own constants (ids, flags), never for ledger data."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    raise TypeError(f"not a constant literal: {value!r}")


@dataclass(frozen=True)
class Lookup:
    """A column holding the `id` of the `table` row whose `key` is the value bound for the
    column and whose `scope` column equals the fixed value of the same name — e.g. an
    invoice's customer, by external id within the connection."""

    table: str
    key: str
    scope: str


class Upsert:
    """`INSERT INTO table (columns) … ON CONFLICT (keys) DO UPDATE SET …` for many rows.

    `lookups` resolve a column to another table's id in the statement itself; `update`
    gives a column's SQL on conflict (default `excluded.<column>`); columns in `keep` are
    not updated; `nothing=True` means DO NOTHING. `fixed` columns (ids, flags) have the
    same value in every row and are bound once per statement.

    SQLite: one statement binds up to SQLite's parameter limit of rows (`INSERT … SELECT …
    FROM (VALUES (…), (…), …)`), so a page is a handful of `sqlite3_step`s run without
    the GIL while the connector parses the next page — binding row by row would hand the
    GIL back and forth for every row. Statement sizes are a full chunk or a power of two,
    so SQLite's statement cache holds a few shapes, not one per page. A column that is
    NULL in every row of a statement is written `NULL` rather than bound: Python's sqlite3
    binds a None through its adapter lookup, which cost the writer thread half its GIL
    time on a CSV import (ledgers leave many columns empty). PostgreSQL: one
    `executemany` (psycopg pipelines it).
    """

    def __init__(self, table: str, columns: Sequence[str], keys: Sequence[str], *,
                 lookups: Mapping[str, Lookup] | None = None,
                 update: Mapping[str, str] | None = None, keep: Sequence[str] = (),
                 nothing: bool = False):
        self.table, self.columns, self.lookups = table, tuple(columns), dict(lookups or {})
        if nothing:
            self.conflict = f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
        else:
            update = dict(update or {})
            sets = [f"{c} = {update.get(c, f'excluded.{c}')}" for c in columns
                    if c not in keys and c not in keep]
            self.conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET " + ", ".join(sets)
        self.sqlite_text = functools.lru_cache(maxsize=64)(self._sqlite_text)
        self.pg_text = functools.lru_cache(maxsize=32)(self._pg_text)

    def _sqlite_text(self, fixed: tuple[str, ...], rows: int, nulls: frozenset[str]) -> str:
        """`fixed`: the names of the fixed columns, bound once, first (?1, ?2, …);
        `nulls`: columns NULL in every row, written in."""
        number = {name: i for i, name in enumerate(fixed, 1)}
        bound = [c for c in self.columns if c not in number and c not in nulls]
        exprs, joins = [], []
        for c in self.columns:
            if c in number:
                exprs.append(f"?{number[c]}")
            elif c in nulls:
                exprs.append("NULL")
            elif c in self.lookups:
                lk, alias = self.lookups[c], f"lookup_{c}"
                exprs.append(f"{alias}.id")
                joins.append(f"LEFT JOIN {lk.table} AS {alias} ON {alias}.{lk.key} = "
                             f"v.column{bound.index(c) + 1} AND {alias}.{lk.scope} = "
                             f"?{number[lk.scope]}")
            else:
                exprs.append(f"v.column{bound.index(c) + 1}")
        row = f"({', '.join('?' * len(bound))})"
        # `WHERE true` resolves the parsing ambiguity SQLite documents for upserts
        return (f"INSERT INTO {self.table} ({', '.join(self.columns)}) SELECT {', '.join(exprs)} "
                f"FROM (VALUES {', '.join([row] * rows)}) AS v {' '.join(joins)} WHERE true "
                f"{self.conflict}")

    def _pg_text(self, fixed: tuple[tuple[str, object], ...]) -> str:
        """One row's statement, the fixed values written in (they are our own ints and
        flags), so each row binds only its own values."""
        consts = {name: literal(value) for name, value in fixed}
        exprs = []
        for c in self.columns:
            if c in consts:
                exprs.append(consts[c])
            elif c in self.lookups:
                lk = self.lookups[c]
                exprs.append(f"(SELECT id FROM {lk.table} WHERE {lk.key} = %s "
                             f"AND {lk.scope} = {consts[lk.scope]})")
            else:
                exprs.append("%s")
        return (f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({', '.join(exprs)}) "
                f"{self.conflict}")

    def statements(self, dialect: str, rows: Sequence[tuple],
                   fixed: Mapping[str, object] = {}) -> list[Statement]:
        """The statements and their parameters for `rows` (the values of the columns not
        in `fixed`, in column order). Pure Python: a caller can build them in one thread
        and run them in another."""
        if not rows:
            return []
        return self.column_statements(dialect, list(zip(*rows, strict=True)), fixed)

    def column_statements(self, dialect: str, columns: Sequence[Sequence],
                          fixed: Mapping[str, object] = {}) -> list[Statement]:
        """`statements` for rows given as columns, as a page prepared column-wise has them."""
        count = len(columns[0]) if columns else 0
        if not count:
            return []
        if dialect != "sqlite":
            return [(self.pg_text(tuple(fixed.items())), list(zip(*columns, strict=True)))]
        names, consts = tuple(fixed), tuple(fixed.values())
        bound = [c for c in self.columns if c not in fixed]
        per_statement = _sqlite_rows_per_statement(len(bound), len(names))
        out, start = [], 0
        for size in _chunk_sizes(count, per_statement):
            part = [values[start:start + size] for values in columns]
            start += size
            nulls = [i for i, values in enumerate(part) if values.count(None) == size]
            if len(nulls) == len(part):
                nulls = nulls[1:]  # VALUES needs a column
            kept = [values for i, values in enumerate(part) if i not in nulls]
            # row-major parameters, each column written into its stride (no row tuples)
            params = [*consts, *repeat(None, size * len(kept))]
            for i, values in enumerate(kept):
                params[len(consts) + i::len(kept)] = values
            out.append((self.sqlite_text(names, size, frozenset(bound[i] for i in nulls)),
                        tuple(params)))  # a tuple: one statement
        return out

    def run(self, session: Session, rows: Sequence[tuple], fixed: Mapping[str, object] = {}) -> None:
        for statement in self.statements(dialect_of(session), rows, fixed):
            execute(session, statement)


def _sqlite_rows_per_statement(bound: int, fixed: int) -> int:
    return max(1, (_sqlite_max_variables() - fixed) // max(1, bound))


@functools.cache
def _sqlite_max_variables() -> int:
    probe = sqlite3.connect(":memory:")
    try:  # the limit the linked SQLite was built with (32,766 since 3.32, 999 before)
        return probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        probe.close()


def _chunk_sizes(total: int, full: int) -> list[int]:
    """`total` rows as full chunks, then powers of two (few distinct statement shapes)."""
    sizes = [full] * (total // full)
    rest = total % full
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


def execute(session: Session, statement: Statement) -> None:
    session.connection().exec_driver_sql(*statement)


def sql(connection: Connection, text: str, params: Sequence | list[Sequence] = ()):
    """Run `text` written with `?` placeholders on any of our dialects: `params` a tuple
    for one statement, a list of tuples for an executemany."""
    if connection.dialect.paramstyle != "qmark":
        text = text.replace("?", "%s")
    return connection.exec_driver_sql(text, params)
