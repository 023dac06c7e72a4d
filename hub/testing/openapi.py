"""Check that an HTTP request a plugin made is one the provider's OpenAPI spec defines.

Use it in respx tests: ``spec = OpenAPISpec.load(path); spec.check(route.calls.last.request)``.
It checks the operation (path template + method), required path/query/header
parameters, the body's media type, its required fields, and that every field sent is
one the schema names. It raises `AssertionError` with the reason.
"""

from __future__ import annotations

import functools
import json
import re
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
            data = json.loads(request.content)
        elif ctype == "application/x-www-form-urlencoded":
            data = {k: v[-1] for k, v in parse_qs(request.content.decode(),
                                                 keep_blank_values=True).items()}
        else:
            return
        self.check_object(where, schema, data)

    def check_object(self, where: str, schema: dict[str, Any], data: Any) -> None:
        schema = self.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                errors = []
                for sub in schema[key]:
                    try:
                        self.check_object(where, sub, data)
                        return
                    except AssertionError as exc:
                        errors.append(str(exc))
                raise AssertionError(f"{where}: body matches none of {key}: {errors}")
        if not isinstance(data, dict) or not schema.get("properties"):
            return
        props = schema["properties"]
        missing = [k for k in schema.get("required", []) if k not in data]
        if missing:
            raise AssertionError(f"{where}: required body fields missing: {missing}")
        if schema.get("additionalProperties") not in (True, {}) or "additionalProperties" not in schema:
            unknown = [k for k in data if k not in props and not _bracketed(k, props)]
            if unknown:
                raise AssertionError(f"{where}: body fields not in the spec: {unknown}")


def _bracketed(key: str, props: dict[str, Any]) -> bool:
    """Form fields like ``metadata[invoice]`` belong to the ``metadata`` property."""
    return "[" in key and key.split("[", 1)[0] in props
