"""The plugin manager: loads built-in and third-party plugins and validates them.

Built-in plugins are found through the same entry-point group (``relance``) as a
third party's. A plugin that fails to import, targets another contract version or
registers something invalid is reported by name with the reason; the others load.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata as md
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from pydantic import BaseModel

from hub import hookspecs
from hub.contracts import API_VERSION, Channel, Connector, PaymentProvider, Plugin
from hub.errors import PluginError

log = logging.getLogger("relance.plugins")
GROUP = "relance"


@dataclass(frozen=True)
class PluginInfo:
    """One registered class and where it came from (for `relance plugins`)."""

    kind: str
    name: str
    cls: type
    distribution: str
    version: str
    module: str


@dataclass
class Registry:
    """What the loaded plugins registered, plus what failed to load."""

    connectors: dict[str, PluginInfo] = field(default_factory=dict)
    channels: dict[str, PluginInfo] = field(default_factory=dict)
    payment_providers: dict[str, PluginInfo] = field(default_factory=dict)
    template_filters: dict[str, Callable[..., Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def all(self) -> list[PluginInfo]:
        return [*self.connectors.values(), *self.channels.values(),
                *self.payment_providers.values()]

    def get(self, kind: str, name: str) -> PluginInfo:
        table = {"connector": self.connectors, "channel": self.channels,
                 "payment_provider": self.payment_providers}[kind]
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            related = [e for e in self.errors if f"'{name}'" in e or f"relance-{name}" in e
                       or f"relance_{name}" in e]
            if related:  # installed, but it did not load: that is the reason, not pip
                raise PluginError(f"no {kind} plugin named {name!r} is loaded: {related[0]}")
            raise PluginError(
                f"no {kind} plugin named {name!r} is installed (installed: {known}); "
                f"install it with `pip install relance-{name}` or fix the `plugin:` key"
            )
        return table[name]


def api_compatible(declared: str) -> bool:
    """Same MAJOR, and a MINOR this hub already offers."""
    try:
        dmaj, dmin = (int(x) for x in str(declared).split(".")[:2])
        hmaj, hmin = (int(x) for x in API_VERSION.split(".")[:2])
    except ValueError:
        return False
    return dmaj == hmaj and dmin <= hmin


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return md.packages_distributions()


def _origin(obj: Any) -> tuple[str, str]:
    """The distribution and version that ship the module of `obj`."""
    top = (getattr(obj, "__module__", "") or "").split(".")[0]
    for dist in _distributions().get(top, []):
        try:
            return dist, md.version(dist)
        except md.PackageNotFoundError:
            continue
    return "(not installed)", "-"


def get_plugin_manager(
    entry_points: bool = True, plugins: Iterable[object] = ()
) -> tuple[pluggy.PluginManager, list[str]]:
    """Build a fresh manager. Returns it with the load errors (one sentence each)."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    errors: list[str] = []
    origins: dict[str, str] = {}  # plugin name -> "distribution, module" for messages
    if entry_points:
        for ep in md.entry_points(group=GROUP):
            try:
                module = ep.load()
                if pm.is_registered(module):
                    continue
                pm.register(module, name=ep.name)
                origins[ep.name] = f"{ep.dist.name if ep.dist else '?'}, {ep.value}"
            except Exception as exc:  # a broken plugin must not stop the others
                dist = ep.dist.name if ep.dist else "?"
                errors.append(
                    f"plugin {ep.name!r} ({dist}, {ep.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}. Fix or uninstall it (`pip uninstall {dist}`)"
                )
    for plugin in plugins:
        try:
            pm.register(plugin)
        except Exception as exc:
            errors.append(f"plugin {plugin!r} could not be registered: {exc}")
    # Local plugin modules without packaging (ops scripts, tests): RELANCE_PLUGINS=a.b,c.d
    # (importable module names) or paths to a .py file or a package folder
    for name in filter(None, os.environ.get("RELANCE_PLUGINS", "").split(",")):
        try:
            module = _local_module(name.strip())
            if not pm.is_registered(module):
                pm.register(module, name=f"local:{name.strip()}")
        except Exception as exc:
            errors.append(f"plugin module {name!r} from RELANCE_PLUGINS failed to load: "
                          f"{type(exc).__name__}: {exc}")
    errors += _unknown_hooks(pm, origins)
    errors += _silent(pm, origins)
    pm.check_pending()  # whatever is left implements only real hooks
    return pm, errors


def _silent(pm: pluggy.PluginManager, origins: dict[str, str]) -> list[str]:
    """A plugin module with no hook implementation would load and register nothing, in
    silence (a missing `@hookimpl`, a misspelt undecorated function): say which and why."""
    known = [n for n in dir(hookspecs) if n.startswith("register_")]
    errors = []
    for name, plugin in pm.list_name_plugin():
        if pm.get_hookcallers(plugin) or name is None:
            continue
        where = origins.get(name, getattr(plugin, "__name__", name))
        functions = [n for n, v in vars(plugin).items() if callable(v) and not n.startswith("_")] \
            if hasattr(plugin, "__dict__") else []
        undecorated = [n for n in functions if n in known]
        close = [(n, m[0]) for n in functions if n not in known
                 for m in [difflib.get_close_matches(n, known, n=1, cutoff=0.8)] if m]
        if undecorated:
            why = (f"`{undecorated[0]}` has no `@hookimpl` (add `from hub.hookspecs import "
                   f"hookimpl` and decorate it)")
        elif close:
            why = f"`{close[0][0]}` is no Relance hook: did you mean {close[0][1]!r} (with @hookimpl)?"
        else:
            why = f"it implements no Relance hook ({', '.join(known)})"
        errors.append(f"plugin {name!r} ({where}) registered nothing: {why}")
    return errors


def _local_module(spec: str) -> Any:
    """`a.b` (importable), or `path/to/plugin.py`, or `path/to/package/` (its __init__)."""
    path = Path(spec).expanduser()
    if not (spec.endswith(".py") or os.sep in spec or path.is_dir()):
        return importlib.import_module(spec)
    target = path / "__init__.py" if path.is_dir() else path
    if not target.is_file():
        raise FileNotFoundError(f"no plugin file at {target}")
    name = f"relance_local_{path.stem if not path.is_dir() else path.name}"
    loader = importlib.util.spec_from_file_location(
        name, target, submodule_search_locations=[str(path)] if path.is_dir() else None)
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    loader.loader.exec_module(module)
    return module


def _unknown_hooks(pm: pluggy.PluginManager, origins: dict[str, str]) -> list[str]:
    """A hookimpl whose name is no Relance hook (a typo) would be ignored in silence: name
    the plugin, the closest real hook, and leave the plugin out."""
    known = [n for n in dir(hookspecs) if n.startswith("register_")]
    errors, bad = [], set()
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.spec is not None:
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            where = origins.get(impl.plugin_name, impl.plugin_name)
            errors.append(f"plugin {impl.plugin_name!r} ({where}) implements {name!r}, which is "
                          "not a Relance hook" + (f": did you mean {close[0]!r}?" if close else
                                                  f" (hooks: {', '.join(known)})")
                          + " Rename the function; the plugin was not loaded")
            bad.add(impl.plugin)
    for plugin in bad:
        pm.unregister(plugin)
    return errors


_KINDS: dict[str, tuple[type[Plugin], str]] = {
    "connector": (Connector, "connectors"),
    "channel": (Channel, "channels"),
    "payment_provider": (PaymentProvider, "payment_providers"),
}


def _validate(kind: str, cls: Any) -> None:
    base, _ = _KINDS[kind]
    where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    dist, _v = _origin(cls)
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise PluginError(f"{where} ({dist}) was registered as a {kind} but does not "
                          f"subclass hub.contracts.{base.__name__}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PluginError(f"{where} ({dist}) does not implement {missing}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise PluginError(f"{where} ({dist}) needs a class attribute `name` "
                          f"(a lowercase identifier), got {name!r}")
    if not api_compatible(cls.api_version):
        raise PluginError(f"{where} ({dist}) targets plugin API {cls.api_version} but this "
                          f"Relance offers {API_VERSION}; {_upgrade_hint(cls.api_version, dist)}")
    settings = getattr(cls, "Settings", None)
    if not (inspect.isclass(settings) and issubclass(settings, BaseModel)):
        raise PluginError(f"{where} ({dist}) needs `Settings`, a pydantic model")


def _upgrade_hint(declared: str, dist: str) -> str:
    """Who must move: a plugin written for a newer hub needs a newer Relance; one written
    for an older major needs a newer plugin."""
    try:
        newer = tuple(int(x) for x in str(declared).split(".")[:2]) > \
            tuple(int(x) for x in API_VERSION.split(".")[:2])
    except ValueError:
        return f"its api_version must be MAJOR.MINOR: fix the plugin ({dist})"
    if newer:
        return "upgrade Relance (`pip install -U relance`) to use it"
    return f"upgrade the plugin (`pip install -U {dist}`)"


def load_registry(pm: pluggy.PluginManager, errors: Iterable[str] = ()) -> Registry:
    """Call every register hook, validating each registration on its own."""
    reg = Registry(errors=list(errors))
    for kind, (_base, attr) in _KINDS.items():
        table: dict[str, PluginInfo] = getattr(reg, attr)
        for impl in getattr(pm.hook, f"register_{attr}").get_hookimpls():
            def register(cls: Any, _kind: str = kind, _table=table, _impl=impl) -> None:
                _validate(_kind, cls)
                dist, version = _origin(cls)
                if cls.name in _table and _table[cls.name].cls is not cls:
                    other = _table[cls.name]
                    raise PluginError(
                        f"{_kind} name {cls.name!r} is registered twice: by {cls.__module__} "
                        f"({dist}) and {other.module} ({other.distribution}); uninstall one"
                    )
                _table[cls.name] = PluginInfo(_kind, cls.name, cls, dist, version, cls.__module__)

            try:
                impl.function(register=register)
            except Exception as exc:
                reg.errors.append(f"plugin {impl.plugin_name!r}: {exc}")
    for impl in pm.hook.register_template_filters.get_hookimpls():
        def register_filter(name: str, func: Callable[..., Any], _impl=impl) -> None:
            if not callable(func) or not str(name).isidentifier():
                raise PluginError(f"template filter {name!r} from {_impl.plugin_name} "
                                  "must be an identifier and a callable")
            if name in reg.template_filters:
                raise PluginError(f"template filter {name!r} is registered twice")
            reg.template_filters[name] = func

        try:
            impl.function(register=register_filter)
        except Exception as exc:
            reg.errors.append(f"plugin {impl.plugin_name!r}: {exc}")
    for message in reg.errors:
        log.warning(message)
    return reg


def discover(entry_points: bool = True, plugins: Iterable[object] = ()) -> Registry:
    """The one call the rest of the hub uses: manager + registry."""
    pm, errors = get_plugin_manager(entry_points=entry_points, plugins=plugins)
    return load_registry(pm, errors)
