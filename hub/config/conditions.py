"""The `when:` language: a small, safe expression language compiled to SQL.

Grammar (a subset of Python's expression syntax, parsed with `ast`, never evaluated):
comparisons (``== != < <= > >=``), ``in`` / ``not in`` (against a list, or
``'vip' in tags``), ``and`` / ``or`` / ``not``, parentheses, string and number
literals. Names are the fields below. Numbers are Decimal; no calls, attributes,
subscripts or arithmetic — so a condition can always be compiled to a SQL predicate and
planning stays set-based.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, false, not_, or_, true
from sqlalchemy.sql import ColumnElement

from hub.errors import ConfigError

CUSTOMER_FIELDS = {"segment", "tags", "country", "language", "customer_code", "customer_name"}
INVOICE_FIELDS = CUSTOMER_FIELDS | {"amount_due", "total", "currency", "days_overdue", "kind"}
FIELDS = {"customer": CUSTOMER_FIELDS, "invoice": INVOICE_FIELDS}
_NUMERIC = {"amount_due", "total", "days_overdue"}
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}


def _parse(text: str) -> ast.expr:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConfigError(f"cannot parse condition {text!r}: {exc.msg} at column {exc.offset}") from None


def _literal(node: ast.expr, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        v = node.value
        return Decimal(str(v)) if isinstance(v, int | float) and not isinstance(v, bool) else v
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, text)
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e, text) for e in node.elts]
    raise ConfigError(f"in {text!r}: only literals may be compared to fields "
                      f"(got {ast.unparse(node)!r})")


class _Compiler:
    """Walks the AST once; `leaf` turns (field, op, value) into the target representation."""

    def __init__(self, text: str, scope: str, leaf: Callable[[str, str, Any], Any],
                 all_: Callable, any_: Callable, neg: Callable):
        self.text, self.fields = text, FIELDS[scope]
        self.leaf, self.all, self.any, self.neg = leaf, all_, any_, neg

    def __call__(self, node: ast.expr) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self(v) for v in node.values]
            return self.all(parts) if isinstance(node.op, ast.And) else self.any(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return self.neg(self(node.operand))
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self._compare(left, op, right))
                left = right
            return self.all(parts)
        raise ConfigError(f"in {self.text!r}: {ast.unparse(node)!r} is not a condition "
                          "(write e.g. amount_due < 1000 and segment == 'retail')")

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> Any:
        sym = _OPS.get(type(op))
        if sym is None:
            raise ConfigError(f"in {self.text!r}: operator not allowed")
        if isinstance(right, ast.Name) and sym in ("in", "not in") and right.id == "tags":
            return self._leaf("tags", "has" if sym == "in" else "lacks", _literal(left, self.text))
        if not isinstance(left, ast.Name):
            left, right = right, left
            sym = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(sym, sym)
        if not isinstance(left, ast.Name):
            raise ConfigError(f"in {self.text!r}: compare a field with a value")
        return self._leaf(left.id, sym, _literal(right, self.text))

    def _leaf(self, name: str, op: str, value: Any) -> Any:
        if name not in self.fields:
            raise ConfigError(f"in {self.text!r}: unknown field {name!r} "
                              f"(fields: {', '.join(sorted(self.fields))})")
        if name in _NUMERIC and not (isinstance(value, Decimal) or (
                isinstance(value, list) and all(isinstance(v, Decimal) for v in value))):
            raise ConfigError(f"in {self.text!r}: {name} is a number, compare it with a number")
        if op in ("in", "not in") and not isinstance(value, list):
            raise ConfigError(f"in {self.text!r}: `{op}` needs a list like ['FR', 'BE']")
        return self.leaf(name, op, value)


def compile_check(text: str, scope: str) -> list[str]:
    """Problems with a condition (empty when it is valid), for config validation."""
    try:
        _Compiler(text, scope, lambda *a: True, all, any, lambda x: x)(_parse(text))
    except ConfigError as exc:
        return [str(exc)]
    return []


def fields_of(text: str) -> set[str]:
    """The field names a condition reads (so the planner selects only those columns)."""
    return {n.id for n in ast.walk(_parse(text)) if isinstance(n, ast.Name)}


def _apply(op: str, a: Any, b: Any) -> Any:
    return {"==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
            "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b,
            "in": lambda: a in b, "not in": lambda: a not in b}[op]()


def evaluate(text: str, scope: str, values: Mapping[str, Any]) -> bool:
    """Python evaluation (for `relance plan --explain` and tests); same semantics as SQL."""

    def leaf(name: str, op: str, value: Any) -> bool:
        actual = values.get(name)
        if name == "tags":
            tags = set(actual or ())
            return (value in tags) if op == "has" else (value not in tags)
        if actual is None:
            return op in ("!=", "not in")
        if isinstance(actual, int | float) and not isinstance(actual, bool):
            actual = Decimal(str(actual))
        return bool(_apply(op, actual, value))

    return bool(_Compiler(text, scope, leaf, all, any, lambda x: not x)(_parse(text)))


def to_sql(text: str, scope: str, columns: Mapping[str, Any], today: dt.date) -> ColumnElement:
    """A SQL predicate. `columns` maps fields to columns; `due_date` is required for
    `days_overdue`, which becomes a due-date comparison (index friendly, any dialect)."""

    def leaf(name: str, op: str, value: Any) -> ColumnElement:
        if name == "tags":
            like = columns["tags"].like(f"%,{value},%")
            return like if op == "has" else or_(columns["tags"].is_(None), not_(like))
        if name == "days_overdue":
            # days_overdue OP n  <=>  due_date FLIPPED(OP) today - n
            col = columns["due_date"]
            if op in ("in", "not in"):
                dates = [today - dt.timedelta(days=int(v)) for v in value]
                return col.in_(dates) if op == "in" else col.not_in(dates)
            ref = today - dt.timedelta(days=int(value))
            flipped = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
            return _apply(flipped, col, ref)
        col = columns[name]
        # NULL-safe, so `not` means the same as in Python (a missing field equals nothing)
        if op == "not in":
            return or_(col.is_(None), col.not_in(value))
        if op == "!=":
            return or_(col.is_(None), col != value)
        if op == "in":
            return and_(col.is_not(None), col.in_(value))
        return and_(col.is_not(None), _apply(op, col, value))

    return _Compiler(
        text, scope, leaf,
        lambda parts: and_(true(), *parts), lambda parts: or_(false(), *parts), not_,
    )(_parse(text))
