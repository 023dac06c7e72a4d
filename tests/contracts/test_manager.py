"""The plugin manager refuses a hookimpl that implements no Relance hook, naming it."""

from __future__ import annotations

import types

from hub.contracts.manager import discover
from hub.hookspecs import hookimpl


def test_a_misspelt_hook_is_an_error_naming_the_plugin_and_the_real_hook():
    typo = types.ModuleType("relance_typo")

    @hookimpl
    def register_conectors(register):  # one letter short
        raise AssertionError("never called")

    typo.register_conectors = register_conectors
    registry = discover(entry_points=False, plugins=[typo])
    [message] = [e for e in registry.errors if "register_conectors" in e]
    assert "relance_typo" in message and "did you mean 'register_connectors'" in message
    assert "not loaded" in message


def test_real_hooks_still_load_beside_a_broken_plugin():
    from tests import memory_plugins

    typo = types.ModuleType("relance_typo2")

    @hookimpl
    def register_chanels(register):
        pass

    typo.register_chanels = register_chanels
    registry = discover(entry_points=False, plugins=[memory_plugins.Plugin(), typo])
    assert registry.connectors and registry.channels
    assert any("register_chanels" in e for e in registry.errors)


def test_a_plugin_without_hookimpl_is_named_with_the_fix():
    bare = types.ModuleType("relance_bare")

    def register_connectors(register):  # no @hookimpl: pluggy ignores it
        raise AssertionError("never called")

    bare.register_connectors = register_connectors
    registry = discover(entry_points=False, plugins=[bare])
    [message] = [e for e in registry.errors if "relance_bare" in e]
    assert "registered nothing" in message and "`register_connectors` has no `@hookimpl`" in message


def test_a_misspelt_undecorated_hook_gets_the_closest_name():
    typo = types.ModuleType("relance_typo3")
    typo.register_chanels = lambda register: None
    registry = discover(entry_points=False, plugins=[typo])
    [message] = [e for e in registry.errors if "relance_typo3" in e]
    assert "did you mean 'register_channels'" in message


def test_relance_plugins_accepts_a_file_path(tmp_path, monkeypatch):
    plugin = tmp_path / "pigeon_post.py"
    plugin.write_text('''
from hub.contracts import Channel, SendResult
from hub.hookspecs import hookimpl


class Pigeon(Channel):
    name = "pigeon"
    description = "by bird"

    async def send(self, message):
        return SendResult(provider_ref="coo")


@hookimpl
def register_channels(register):
    register(Pigeon)
''')
    monkeypatch.setenv("RELANCE_PLUGINS", str(plugin))
    registry = discover(entry_points=False)
    assert "pigeon" in registry.channels, registry.errors
    monkeypatch.setenv("RELANCE_PLUGINS", str(tmp_path / "missing.py"))
    assert any("missing.py" in e for e in discover(entry_points=False).errors)
