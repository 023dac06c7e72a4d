"""relance.yaml errors name file:line and key, all at once, before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hub.config import parse
from hub.errors import ConfigError
from tests.conftest import BASE_CONFIG


def load(text: str):
    return parse(textwrap.dedent(text), Path("relance.yaml"))


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(textwrap.dedent(text).splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_base_config_is_valid():
    cfg = load(BASE_CONFIG)
    assert list(cfg.model.scenarios) == ["standard"]
    assert cfg.model.connections["ledger"].max_staleness == 6 * 3600


def test_unknown_key_names_file_line_and_key():
    text = BASE_CONFIG.replace("  language: en\n", "  language: en\n  langauge: fr\n")
    with pytest.raises(ConfigError) as e:
        load(text)
    assert f"relance.yaml:{line_of(text, 'langauge')}" in str(e.value)
    assert "company.langauge" in str(e.value)
    assert "unknown key" in str(e.value)


def test_every_problem_is_reported_together():
    text = (BASE_CONFIG.replace("due+3d, channel: email", "due+3x, channel: email")
            .replace("due+15d, channel: email", "due+15d, channel: fax"))
    with pytest.raises(ConfigError) as e:
        load(text)
    msg = str(e.value)
    assert f"relance.yaml:{line_of(text, 'due+3x')}" in msg and "due+3x" in msg
    assert f"relance.yaml:{line_of(text, 'channel: fax')}" in msg
    assert "channel 'fax' is not defined" in msg


def test_env_interpolation(monkeypatch):
    text = BASE_CONFIG.replace("plugin: capture", "plugin: capture\n    settings: {delay: '${DELAY}'}")
    monkeypatch.setenv("DELAY", "0.5")
    assert load(text).model.channels["email"].settings == {"delay": "0.5"}
    monkeypatch.delenv("DELAY")
    with pytest.raises(ConfigError) as e:
        load(text)
    assert "DELAY is not set" in str(e.value)
    assert f"relance.yaml:{line_of(text, 'DELAY')}" in str(e.value)
    assert load(text.replace("${DELAY}", "${DELAY:-0}")).model.channels["email"].settings == {"delay": "0"}


def test_bad_condition_names_its_line():
    text = BASE_CONFIG.replace("template: first_reminder}",
                               "template: first_reminder, when: \"__import__('os')\"}")
    with pytest.raises(ConfigError) as e:
        load(text)
    assert f"relance.yaml:{line_of(text, '__import__')}" in str(e.value)


def test_missing_catch_all_assignment():
    text = BASE_CONFIG.replace("  - {scenario: standard}", "  - {scenario: standard, when: \"segment == 'x'\"}")
    with pytest.raises(ConfigError, match="catch-all"):
        load(text)


def test_invalid_yaml_names_line():
    with pytest.raises(ConfigError) as e:
        load("company:\n  name: [oops\n")
    assert "relance.yaml:" in str(e.value) and "not valid YAML" in str(e.value)


def test_plugin_settings_validated_at_open(make_ws):
    text = BASE_CONFIG.replace("plugin: capture", "plugin: capture\n    settings: {dealy: 1}")
    with pytest.raises(ConfigError) as e:
        make_ws(text)
    assert "channels.email.settings.dealy" in str(e.value)
    assert f"relance.yaml:{line_of(text, 'dealy')}" in str(e.value)
    assert "valid: delay" in str(e.value)


def test_unknown_plugin_is_named(make_ws):
    with pytest.raises(ConfigError) as e:
        make_ws(BASE_CONFIG.replace("plugin: capture", "plugin: carrier_pigeon"))
    assert "carrier_pigeon" in str(e.value) and "pip install relance-carrier_pigeon" in str(e.value)


def test_json_schema_lists_sections():
    from hub.config import json_schema

    schema = json_schema()
    assert {"company", "connections", "channels", "scenarios", "assign"} <= set(schema["properties"])


def test_a_sqlite_too_old_for_the_store_is_refused_with_the_way_out():
    from hub.errors import ConfigError
    from hub.store.db import check_sqlite

    check_sqlite()  # the one this Python links
    with pytest.raises(ConfigError, match=r"database.url: .*SQLite 3\.31\.1.*3\.35 or newer.*PostgreSQL"):
        check_sqlite((3, 31, 1))


def test_a_key_given_twice_is_refused_naming_both_lines():
    """YAML keeps the last of two equal keys without a word: `closed_days: next` under
    `closed_days: ignore` silently won. Both places are named instead."""
    text = BASE_CONFIG.replace("  language: en\n", "  language: en\n  name: Other SAS\n")
    with pytest.raises(ConfigError) as e:
        load(text)
    second = [i for i, line in enumerate(text.splitlines(), 1) if "name:" in line][1]
    assert f"relance.yaml:{second}" in str(e.value) and "company.name" in str(e.value)
    assert "given twice" in str(e.value) and f"line {line_of(text, 'Acme SAS')}" in str(e.value)
