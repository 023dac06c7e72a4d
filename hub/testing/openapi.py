"""Check that an HTTP request a plugin made is one the provider's OpenAPI spec defines.

Use it in respx tests: ``spec = OpenAPISpec.load(path); spec.check(route.calls.last.request)``.
It checks the operation (path template + method), required path/query/header
parameters, the body's media type, its required fields, that every field sent is one the
schema names, and each value's type, format and enum, nested objects and arrays included
(a number sent as a string fails). It raises `AssertionError` with the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import yaml


class OpenAPISpec:
    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.base_paths = [httpx.URL(s["url"]).path.rstrip("/") for s in doc.get("servers", [])]
        self._ops = [(self._pattern(p), p, item) for p, item in doc.get("paths", {}).items()]

    @classmethod
    @functools.cache
    def load(cls, path: str | Path) -> OpenAPISpec:
        text = Path(path).read_text(encoding="utf-8")
        doc = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        return cls(doc)

    @staticmethod
    def _pattern(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", template)
        rx = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{rx}$")

    def resolve(self, node: Any) -> Any:
        """Follow `$ref`s and merge `allOf` (enough for request validation)."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            ref = node["$ref"]
            target: Any = self.doc
            for part in ref.lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, seen = target, seen + 1
        if isinstance(node, dict) and "allOf" in node:
            merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
            for sub in node["allOf"]:
                sub = self.resolve(sub)
                merged["properties"].update(sub.get("properties", {}))
                merged["required"] += sub.get("required", [])
                if sub.get("additionalProperties") is not None:
                    merged["additionalProperties"] = sub["additionalProperties"]
            return merged
        return node

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        for base in self.base_paths or [""]:
            if base and not path.startswith(base):
                continue
            rel = path[len(base):] or "/"
            for rx, template, item in self._ops:
                if rx.match(rel) and method.lower() in item:
                    return template, item, item[method.lower()]
        raise AssertionError(f"{method} {path} is not an operation of the spec")

    def check(self, request: httpx.Request) -> str:
        """Validate `request`; return the matched path template."""
        template, item, op = self.operation(request.method, request.url.path)
        where = f"{request.method} {template}"
        params = [self.resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
        query = parse_qs(request.url.query.decode() if isinstance(request.url.query, bytes)
                         else request.url.query, keep_blank_values=True)
        known_query = {p["name"] for p in params if p.get("in") == "query"}
        for p in params:
            if not p.get("required"):
                continue
            if p["in"] == "query" and p["name"] not in query:
                raise AssertionError(f"{where}: required query parameter {p['name']!r} missing")
            if p["in"] == "header" and p["name"].lower() not in {k.lower() for k in request.headers}:
                raise AssertionError(f"{where}: required header {p['name']!r} missing")
        for p in params:  # the values sent: types and formats, as for the body
            sent = request.headers.get(p["name"]) if p["in"] == "header" else (
                query[p["name"]][-1] if p["in"] == "query" and p["name"] in query else None)
            if sent is not None and p.get("schema"):
                problem = _scalar_problem(self.resolve(p["schema"]).get("type", "string"),
                                          self.resolve(p["schema"]), sent, form=True)
                if problem:
                    raise AssertionError(f"{where}: {p['in']} {p['name']} = {sent!r}: {problem}")
        unknown = set(query) - known_query
        if unknown and known_query:
            raise AssertionError(f"{where}: query parameters {sorted(unknown)} are not in the spec")
        body = self.resolve(op.get("requestBody")) if op.get("requestBody") else None
        if body and request.content:
            self._check_body(where, body, request)
        elif body and body.get("required") and not request.content:
            raise AssertionError(f"{where}: the spec requires a request body")
        return template

    def _check_body(self, where: str, body: dict[str, Any], request: httpx.Request) -> None:
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        content = body.get("content", {})
        if ctype not in content:
            raise AssertionError(f"{where}: body sent as {ctype!r}; spec accepts {sorted(content)}")
        schema = self.resolve(content[ctype].get("schema", {}))
        if ctype == "application/json":
            self.check_object(where, schema, json.loads(request.content))
        elif ctype == "application/x-www-form-urlencoded":
            data = {k: v[-1] for k, v in parse_qs(request.content.decode(),
                                                 keep_blank_values=True).items()}
            self.check_object(where, schema, data, form=True)

    def check_object(self, where: str, schema: dict[str, Any], data: Any, *, at: str = "",
                     form: bool = False) -> None:
        """`data` against `schema`: required and unknown fields, and each value's type,
        format (date, date-time, uuid) and enum, through nested objects and arrays. `form`:
        the values came form-encoded, so numbers and booleans arrive as text."""
        schema = self.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                errors = []
                for sub in schema[key]:
                    try:
                        self.check_object(where, sub, data, at=at, form=form)
                        return
                    except AssertionError as exc:
                        errors.append(str(exc))
                raise AssertionError(f"{where}: {at or 'body'} matches none of {key}: {errors}")
        if data is None:
            return
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object" and isinstance(data, dict) and schema.get("properties"):
            self._check_fields(where, schema, data, at, form)
        elif kind == "array" and not form:
            if not isinstance(data, list):
                raise AssertionError(f"{where}: {at} is {type(data).__name__}; the spec says array")
            for i, item in enumerate(data):
                self.check_object(where, schema.get("items", {}), item, at=f"{at}[{i}]")
        elif kind is not None and kind != "object":
            problem = _scalar_problem(kind, schema, data, form)
            if problem:
                raise AssertionError(f"{where}: {at or 'body'} = {data!r}: {problem}")

    def _check_fields(self, where: str, schema: dict[str, Any], data: dict[str, Any], at: str,
                      form: bool) -> None:
        props = schema["properties"]
        missing = [k for k in schema.get("required", []) if k not in data]
        if missing:
            raise AssertionError(f"{where}: required body fields missing{' in ' + at if at else ''}"
                                 f": {missing}")
        if schema.get("additionalProperties") not in (True, {}) or "additionalProperties" not in schema:
            unknown = [k for k in data if k not in props and not _bracketed(k, props)]
            if unknown:
                raise AssertionError(f"{where}: body fields not in the spec"
                                     f"{' (in ' + at + ')' if at else ''}: {unknown}")
        for key, value in data.items():
            if key in props:
                self.check_object(where, props[key], value, at=f"{at}.{key}".lstrip("."),
                                  form=form)


def _scalar_problem(kind: str, schema: dict[str, Any], value: Any, form: bool) -> str | None:
    """Why `value` is not of the spec's scalar type and format (None when it is)."""
    if form:
        value = str(value)
    if kind in ("number", "integer"):
        if form:
            try:
                Decimal(value) if kind == "number" else int(value)
            except (InvalidOperation, ValueError):
                return f"not a{'n integer' if kind == 'integer' else ' number'}"
        elif isinstance(value, bool) or not isinstance(value, int | float) or \
                (kind == "integer" and not isinstance(value, int)):
            return f"sent as {type(value).__name__}; the spec says {kind}"
    elif kind == "boolean":
        if (form and value not in ("true", "false")) or (not form and not isinstance(value, bool)):
            return "the spec says boolean"
    elif kind == "string":
        if not isinstance(value, str):
            return f"sent as {type(value).__name__}; the spec says string"
        return _format_problem(schema.get("format"), value) or (
            f"not one of {schema['enum']}" if schema.get("enum") and value not in schema["enum"]
            else None)
    return None


def _format_problem(fmt: str | None, value: str) -> str | None:
    try:
        if fmt == "uuid":
            uuid.UUID(value)
        elif fmt == "date":
            dt.date.fromisoformat(value)
        elif fmt == "date-time":  # RFC 3339: the offset is part of it
            if dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
                return "a date-time without its zone (RFC 3339 needs Z or an offset)"
    except ValueError:
        return f"not a {fmt} (the spec's format)"
    return None


def _bracketed(key: str, props: dict[str, Any]) -> bool:
    """Form fields like ``metadata[invoice]`` belong to the ``metadata`` property."""
    return "[" in key and key.split("[", 1)[0] in props
