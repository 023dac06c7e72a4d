"""What `relance plugins --verbose` shows about a plugin: where it comes from, the contract
version it targets, what it can do, and the settings a user writes in relance.yaml."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import SecretStr

from hub.contracts.manager import PluginInfo

_PREFIXES = re.compile(r"\b(typing|pydantic\.types|pathlib|datetime|decimal)\.")


def type_name(annotation: Any) -> str:
    """`str | None`, `SecretStr`, `'us' | 'eu'` — as an author would write it."""
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return _PREFIXES.sub("", str(annotation)).replace("NoneType", "None")


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def settings_fields(settings_cls: type) -> list[dict[str, Any]]:
    out = []
    for name, field in settings_cls.model_fields.items():
        secret = _is_secret(field.annotation)
        required = field.is_required()
        default = None if required else field.get_default(call_default_factory=True)
        out.append({"name": name, "type": type_name(field.annotation), "required": required,
                    "default": None if required or secret else repr(default),
                    "secret": secret, "description": field.description})
    return out


def describe_plugin(info: PluginInfo) -> dict[str, Any]:
    cls = info.cls
    caps = dict(cls.capabilities())
    if hasattr(cls, "quiet_hours_relevant"):
        caps["quiet_hours_relevant"] = bool(cls.quiet_hours_relevant)
    return {"name": info.name, "kind": info.kind, "distribution": info.distribution,
            "version": info.version, "module": info.module, "api_version": cls.api_version,
            "description": cls.description, "capabilities": caps,
            "auth": getattr(cls, "auth", None), "requires": list(getattr(cls, "requires", ())),
            "settings": settings_fields(cls.Settings)}
