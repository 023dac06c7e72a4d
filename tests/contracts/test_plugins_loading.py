"""The plugin manager refuses what would break at run time, says why and how to fix it,
and keeps loading everything else."""

from __future__ import annotations

import json
import textwrap
import types

import pytest

from hub.contracts import API_VERSION
from hub.contracts.manager import _distributions, api_compatible, discover

MAJOR, MINOR = (int(x) for x in API_VERSION.split("."))


@pytest.mark.parametrize("declared,ok", [
    (API_VERSION, True),
    (f"{MAJOR}.0", True),
    (f"{MAJOR}.{MINOR + 1}", False),  # may call what this hub does not have yet
    (f"{MAJOR + 1}.0", False),
    (f"{MAJOR - 1}.9", False),
    ("one", False),
    ("", False),
])
def test_contract_versions_compatible_with_this_hub(declared, ok):
    assert api_compatible(declared) is ok


def module(name: str, source: str) -> types.ModuleType:
    """A plugin module without packaging (what `discover(plugins=[...])` accepts)."""
    mod = types.ModuleType(name)
    exec(compile(textwrap.dedent(source), f"<{name}>", "exec"), mod.__dict__)
    return mod


HEAD = """
from hub.contracts import Channel, Connector, PluginSettings, SendResult
from hub.hookspecs import hookimpl
"""


def channel(cls_name: str, name: str, body: str = "", register: str = "") -> str:
    return HEAD + f"""
class {cls_name}(Channel):
    name = {name!r}
    description = "test"
{textwrap.indent(textwrap.dedent(body), "    ")}
    async def send(self, message):
        return SendResult(provider_ref="x")

@hookimpl
def register_channels(register):
    register({register or cls_name})
"""


def test_registration_errors_are_reported_one_by_one_and_the_rest_loads():
    good = module("plug_good", channel("Pigeon", "pigeon"))
    newer = module("plug_newer", channel("Newer", "newer", f"api_version = '{MAJOR}.{MINOR + 1}'"))
    older = module("plug_older", channel("Older", "older", f"api_version = '{MAJOR - 1}.9'"))
    no_settings = module("plug_nosettings", channel("Bare", "bare", "Settings = dict"))
    wrong_base = module("plug_wrongbase", HEAD + """
class NotAChannel:
    name = "nac"

@hookimpl
def register_channels(register):
    register(NotAChannel)
""")
    abstract = module("plug_abstract", HEAD + """
class Half(Connector):
    name = "half"

@hookimpl
def register_connectors(register):
    register(Half)
""")
    bad_name = module("plug_badname", channel("Named", "Not An Identifier"))
    twice = module("plug_twice", channel("Pigeon2", "pigeon"))
    reg = discover(entry_points=False,
                   plugins=[good, newer, older, no_settings, wrong_base, abstract, bad_name, twice])
    assert list(reg.channels) == ["pigeon"] and reg.channels["pigeon"].cls.__name__ == "Pigeon"
    errors = reg.errors
    assert len(errors) == 7, errors

    def one(fragment: str) -> str:
        hits = [e for e in errors if fragment in e]
        assert len(hits) == 1, (fragment, errors)
        return hits[0]

    msg = one("plug_newer.Newer")
    assert f"targets plugin API {MAJOR}.{MINOR + 1} but this Relance offers {API_VERSION}" in msg
    assert "upgrade Relance (`pip install -U relance`)" in msg  # the hub is the one behind
    assert "upgrade the plugin (`pip install -U" in one("plug_older.Older")
    assert "needs `Settings`, a pydantic model" in one("plug_nosettings.Bare")
    assert "does not subclass hub.contracts.Channel" in one("plug_wrongbase.NotAChannel")
    assert "does not implement sync" in one("plug_abstract.Half")
    assert "needs a class attribute `name`" in one("plug_badname.Named")
    dup = one("channel name 'pigeon' is registered twice")
    assert "plug_twice" in dup and "uninstall one" in dup


def fake_dist(where, dist: str, module_name: str, source: str, ep_name: str) -> None:
    """An installed distribution (a dist-info folder with an entry point), without pip."""
    info = where / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[relance]\n{ep_name} = {module_name}\n")
    (info / "top_level.txt").write_text(module_name + "\n")
    (info / "RECORD").write_text(f"{module_name}.py,,\n")
    (where / f"{module_name}.py").write_text(source)


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _distributions.cache_clear()
    yield tmp_path
    _distributions.cache_clear()


def test_broken_distributions_each_explain_themselves_and_the_others_load(site):
    fake_dist(site, "relance-good", "relance_good", channel("Pigeon", "pigeon"), "good")
    fake_dist(site, "relance-broken-import", "relance_broken_import",
              "import does_not_exist_anywhere\n", "broken_import")
    fake_dist(site, "relance-old", "relance_old", channel("Old", "old", "api_version = '0.9'"), "old")
    fake_dist(site, "relance-bad-settings", "relance_bad_settings",
              channel("Bad", "bad", "Settings = dict"), "bad")
    fake_dist(site, "relance-crash", "relance_crash", HEAD + """
@hookimpl
def register_channels(register):
    raise RuntimeError("the hook itself blew up")
""", "crash")
    reg = discover()
    assert reg.channels["pigeon"].distribution == "relance-good" and reg.channels["pigeon"].version == "1.0"
    assert {"csv", "email"} <= set(reg.connectors) | set(reg.channels)  # built-ins unaffected
    errors = "\n".join(reg.errors)
    assert "'broken_import' (relance-broken-import, relance_broken_import) failed to load: " \
           "ModuleNotFoundError" in errors and "pip uninstall relance-broken-import" in errors
    assert f"relance_old.Old (relance-old) targets plugin API 0.9 but this Relance offers {API_VERSION}" \
        in errors and "pip install -U relance-old" in errors
    assert "relance_bad_settings.Bad (relance-bad-settings) needs `Settings`, a pydantic model" in errors
    assert "plugin 'crash': the hook itself blew up" in errors
    assert len(reg.errors) == 4, reg.errors


def test_local_plugin_modules_from_the_environment(site, monkeypatch):
    (site / "my_local_plugin.py").write_text(channel("Local", "local"))
    monkeypatch.setenv("RELANCE_PLUGINS", "my_local_plugin,no_such_module_here")
    reg = discover()
    assert "local" in reg.channels
    assert any("no_such_module_here" in e and "RELANCE_PLUGINS" in e for e in reg.errors)


def test_plugins_cli_lists_broken_plugins_after_the_good_ones(site):
    from typer.testing import CliRunner

    from hub.cli import app

    fake_dist(site, "relance-old", "relance_old", channel("Old", "old", "api_version = '0.9'"), "old")
    fake_dist(site, "relance-good", "relance_good", channel("Pigeon", "pigeon"), "good")
    r = CliRunner().invoke(app, ["plugins", "--json"])
    out = json.loads(r.stdout)
    assert any(p["name"] == "pigeon" and p["distribution"] == "relance-good" for p in out["plugins"])
    assert any("relance-old" in e and "0.9" in e for e in out["errors"])
