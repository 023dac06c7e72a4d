"""What `relance plugins --verbose` shows about a plugin: origin, contract, capabilities, settings."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from hub.plugins import PluginInfo


def describe_plugin(info: PluginInfo) -> dict[str, Any]:
    cls = info.cls
    settings = []
    for name, field in cls.Settings.model_fields.items():
        annotation = field.annotation
        secret = "SecretStr" in str(annotation) or annotation is SecretStr
        settings.append({
            "name": name,
            "type": getattr(annotation, "__name__", str(annotation)).replace("typing.", ""),
            "required": field.is_required(),
            "default": None if field.is_required() or secret else repr(field.default),
            "secret": secret,
            "description": field.description,
        })
    return {"name": info.name, "kind": info.kind, "distribution": info.distribution,
            "version": info.version, "module": info.module, "api_version": cls.api_version,
            "description": cls.description, "capabilities": cls.capabilities(),
            "requires": list(getattr(cls, "requires", ())), "settings": settings}
