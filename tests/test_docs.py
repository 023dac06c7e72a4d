"""Docs kept honest: the contract reference is generated, and every hook is documented."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from hub import hookspecs

ROOT = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs/plugins/gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contract_reference_is_up_to_date():
    gen = load_generator()
    assert gen.OUT.read_text() == gen.render(), \
        "docs/plugins/reference.md is stale: run python docs/plugins/gen_reference.py"


def test_every_hook_is_documented_with_its_version_and_in_the_guide():
    guide = (ROOT / "docs/plugins/README.md").read_text()
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("register_"):
            doc = inspect.getdoc(fn) or ""
            assert ":param register:" in doc and "Added in API" in doc, name
            assert f"`{name}(register)`" in guide, f"{name} missing from the plugin guide"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:6]
    assert any("make demo" in line for line in head) and any("make test" in line for line in head)


def test_every_relative_link_in_the_docs_leads_to_a_file():
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = [f"{page.relative_to(ROOT)} → {target}" for page in pages
              for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
              if not target.startswith(("http://", "https://", "mailto:"))
              and not (page.parent / target).exists()]
    assert len(pages) > 10 and not broken, broken
