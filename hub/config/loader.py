"""`relance.yaml`: loading, `${ENV}` interpolation, validation with file:line errors.

The YAML is composed first so every key keeps its line; pydantic then validates the
plain data and each error is mapped back to ``relance.yaml:LINE: key.path: reason``.
All errors are collected and reported together, before anything runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.config.conditions import compile_check
from hub.config.model import RelanceConfig
from hub.config.offsets import parse_offset
from hub.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class LoadedConfig:
    """The validated config plus where each key came from."""

    def __init__(self, model: RelanceConfig, path: Path, lines: dict[tuple, int]):
        self.model, self.path, self.lines = model, path, lines
        self.unset_secrets: list[str] = []  # plugin secrets left unset (read-only commands)

    def place(self, *key: Any) -> str:
        """`relance.yaml:LINE` of the nearest known ancestor of `key`."""
        key = tuple(key)
        while key and key not in self.lines:
            key = key[:-1]
        line = self.lines.get(key)
        return f"{self.path.name}:{line}" if line else self.path.name

    def error(self, message: str, *key: Any) -> ConfigError:
        return ConfigError(message, place=self.place(*key), key=".".join(map(str, key)) or None)


def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int],
          twice: list[tuple[tuple, int, int]]) -> Any:
    """The data, with the line of every key; a key given twice in one mapping goes to
    `twice` (YAML would keep the last without a word)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = yaml.safe_load(yaml.serialize(k)) if not isinstance(k, yaml.ScalarNode) else k.value
            if key in out:
                twice.append(((*path, key), k.start_mark.line + 1, lines[(*path, key)]))
            lines[(*path, key)] = k.start_mark.line + 1
            out[key] = _walk(v, (*path, key), lines, twice)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, (*path, i), lines, twice) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


PLUGIN_SECTIONS = ("connections", "channels", "payment_providers")


def _is_plugin_setting(path: tuple) -> bool:
    return len(path) > 2 and path[0] in PLUGIN_SECTIONS and path[2] == "settings"


def _interpolate(value: Any, path: tuple, errors: list[tuple[tuple, str]],
                 unset: list[str] | None = None) -> Any:
    """`${NAME}` and `${NAME:-default}`. With `unset` (read-only commands), a plugin's
    missing secret is noted there instead of failing: nothing will call the provider."""
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), errors, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), errors, unset) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            if unset is not None and _is_plugin_setting(path):
                unset.append(name)
                return f"(${name} is not set)"
            errors.append((path, f"environment variable {name} is not set "
                                 f"(export it, or write ${{{name}:-default}})"))
            return ""
        return _ENV.sub(sub, value)
    return value


def parse(text: str, path: Path, *, secrets_optional: bool = False,
          inherited: dict[str, Any] | None = None, model: type = RelanceConfig) -> LoadedConfig:
    """Parse and validate config text; raise one ConfigError listing every problem.
    `inherited`: the sections a firm's companies share (a company of a firm); `model`: the
    file's shape (a firm's own file is a `FirmConfig`)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{path.name}:{mark.line + 1}" if mark else path.name
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", place=place) from None
    lines: dict[tuple, int] = {}
    twice: list[tuple[tuple, int, int]] = []
    data = _walk(node, (), lines, twice) if node is not None else {}
    if not isinstance(data, dict):
        raise ConfigError("the file must be a mapping with a `company:` section", place=path.name)
    if twice:
        raise ConfigError("\n".join(str(ConfigError(
            f"given twice (first at line {first}): keep one", place=f"{path.name}:{line}",
            key=".".join(map(str, key)))) for key, line, first in twice))
    env_errors: list[tuple[tuple, str]] = []
    unset: list[str] | None = [] if secrets_optional else None
    data = _interpolate(data, (), env_errors, unset)
    problems: list[str] = []
    for key, value in (inherited or {}).items():
        if key in data:
            problems.append(str(LoadedConfig(None, path, lines).error(  # type: ignore[arg-type]
                f"`{key}:` is the firm's, shared by every company: set it in the firm's "
                f"{path.name} (two folders up) and remove it here", key)))
        data[key] = value
    shape = model
    try:
        model = shape.model_validate(data)
    except ValidationError as exc:
        model = None
        for err in exc.errors():
            loc = tuple(err["loc"])
            loaded = LoadedConfig(None, path, lines)  # type: ignore[arg-type]
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling; `relance config schema` lists valid keys)"
            problems.append(str(loaded.error(msg, *loc)))
    loaded = LoadedConfig(model, path, lines)  # type: ignore[arg-type]
    problems += [str(loaded.error(m, *p)) for p, m in env_errors]
    if model is not None and shape is RelanceConfig:
        problems += cross_check(loaded)
    if problems:
        raise ConfigError("\n".join(problems))
    loaded.unset_secrets = unset or []
    return loaded


def cross_check(cfg: LoadedConfig) -> list[str]:
    """References between sections: steps → channels, assign → scenarios, expressions."""
    m, out = cfg.model, []
    for sname, sc in m.scenarios.items():
        seen: set[str] = set()
        for i, step in enumerate(sc.steps):
            key = ("scenarios", sname, "steps", i)
            if step.channel not in m.channels:
                out.append(str(cfg.error(f"channel {step.channel!r} is not defined under "
                                         f"`channels:` (defined: {', '.join(m.channels) or 'none'})",
                                         *key, "channel")))
            if step.payment_link and step.payment_link not in m.payment_providers:
                out.append(str(cfg.error(f"payment provider {step.payment_link!r} is not "
                                         "defined under `payment_providers:`", *key, "payment_link")))
            try:
                parse_offset(step.at)
            except ValueError as exc:
                out.append(str(cfg.error(str(exc), *key, "at")))
            if step.when:
                for problem in compile_check(step.when, scope="invoice"):
                    out.append(str(cfg.error(problem, *key, "when")))
            sid = step.id or step.at.replace(" ", "")  # the key the planner uses
            if sid in seen:
                out.append(str(cfg.error(f"two steps are named {sid!r}; give one an `id:`", *key)))
            seen.add(sid)
    for i, rule in enumerate(m.assign):
        if rule.scenario not in m.scenarios:
            out.append(str(cfg.error(f"scenario {rule.scenario!r} is not defined under "
                                     f"`scenarios:`", "assign", i, "scenario")))
        if rule.when:
            for problem in compile_check(rule.when, scope="customer"):
                out.append(str(cfg.error(problem, "assign", i, "when")))
    for sname, sc in m.scenarios.items():
        ids = [st.id or st.at.replace(" ", "") for st in sc.steps]
        if sc.on_broken_promise and sc.on_broken_promise not in ids:
            out.append(str(cfg.error(f"no step {sc.on_broken_promise!r} in scenario {sname} "
                                     f"(its steps: {', '.join(ids)})", "scenarios", sname,
                                     "on_broken_promise")))
    reminder = m.cases.instalment_reminder
    if reminder and reminder.channel not in m.channels:
        out.append(str(cfg.error(f"channel {reminder.channel!r} is not defined under "
                                 "`channels:`", "cases", "instalment_reminder", "channel")))
    known = {st.id or st.at.replace(" ", "") for sc in m.scenarios.values()
             for st in sc.steps} | {
        st.template for sc in m.scenarios.values() for st in sc.steps}
    for i, name in enumerate(m.approvals.steps):
        if name not in known:
            out.append(str(cfg.error(f"no step or template is named {name!r} in any scenario "
                                     f"(known: {', '.join(sorted(known)) or 'none'})",
                                     "approvals", "steps", i)))
    for i, name in enumerate(m.approvals.scenarios):
        if name not in m.scenarios:
            out.append(str(cfg.error(f"scenario {name!r} is not defined under `scenarios:`",
                                     "approvals", "scenarios", i)))
    if m.scenarios and not any(r.when is None for r in m.assign):
        out.append(str(cfg.error("no catch-all rule: add `- {scenario: NAME}` without `when` "
                                 "last, or some customers follow no scenario", "assign")))
    return out


def load(path: Path, *, secrets_optional: bool = False, **kw: Any) -> LoadedConfig:
    if not path.exists():
        raise ConfigError(f"{path} not found: run `relance init` to write a starter config",
                          place=str(path))
    return parse(path.read_text(encoding="utf-8"), path, secrets_optional=secrets_optional, **kw)


def json_schema() -> dict[str, Any]:
    schema = RelanceConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "relance.yaml"
    return schema
