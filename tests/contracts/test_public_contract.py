"""The contract is `hub.contracts.__all__`: complete, importable, and documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import hub.contracts as contracts
from hub.contracts import Channel, Connector, PaymentProvider, Plugin

PUBLIC_MODULES = [m.name for m in pkgutil.iter_modules(contracts.__path__)
                  if not m.name.startswith("_") and m.name not in ("manager", "info")]


def test_every_name_in_all_resolves_and_every_public_class_is_in_all():
    assert len(set(contracts.__all__)) == len(contracts.__all__)
    for name in contracts.__all__:
        assert hasattr(contracts, name), name
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"hub.contracts.{module_name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                assert name in contracts.__all__, f"{module.__name__}.{name} is not in __all__"


def test_the_record_constructor_generator_is_private():
    assert "record_maker" not in contracts.__all__ and not hasattr(contracts, "record_maker")
    assert "exec(" not in inspect.getsource(importlib.import_module("hub.contracts.records"))


def test_every_public_method_of_the_contract_has_a_docstring():
    undocumented = []
    for name in contracts.__all__:
        cls = getattr(contracts, name)
        if not inspect.isclass(cls) or not cls.__module__.startswith("hub.contracts"):
            continue
        for mname, member in vars(cls).items():
            func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if inspect.isfunction(func) and not mname.startswith("_") and not inspect.getdoc(func):
                undocumented.append(f"{name}.{mname}")
    assert not undocumented, undocumented


def test_every_kind_documents_its_methods_in_the_reference():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs/plugins/gen_reference.py"
    spec = importlib.util.spec_from_file_location("gen_reference", path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.render()
    for kind, methods in ((Plugin, ["check", "verify_webhook", "aclose"]),
                          (Connector, ["sync", "refresh", "fetch_pdf", "write_note", "record_payment"]),
                          (Channel, ["send", "status", "problems"]),
                          (PaymentProvider, ["create_link", "deactivate_link"])):
        section = text.split(f"### `{kind.__name__}`", 1)[1].split("\n### ", 1)[0]
        for method in methods:
            assert f"- `{method}(" in section, f"{kind.__name__}.{method} missing from the reference"
