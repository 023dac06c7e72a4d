"""Render the plugin contract's docstrings into docs/plugins/reference.md.

    python docs/plugins/gen_reference.py          # rewrite the file
A test (tests/test_docs.py) fails when the committed file is out of date.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

OUT = Path(__file__).with_name("reference.md")


def public_methods(cls: type) -> list[tuple[str, object]]:
    """The public methods a class of the contract defines itself (not pydantic's)."""
    out = []
    for mname, member in vars(cls).items():
        if mname.startswith("_") or mname.startswith("model_"):
            continue
        func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        if inspect.isfunction(func):
            out.append((mname, getattr(cls, mname)))
    return out


def render() -> str:
    from hub import contracts, errors, hookspecs

    lines = ["# Plugin contract reference", "",
             f"Generated from the docstrings of `hub.hookspecs`, `hub.contracts` and `hub.errors` "
             f"(contract version {contracts.API_VERSION}). Do not edit: run "
             "`python docs/plugins/gen_reference.py`.", "", "## Hooks", ""]
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("register_"):
            lines += [f"### `{name}{inspect.signature(fn)}`", "", inspect.getdoc(fn) or "", ""]
    lines += ["## Classes and records", ""]
    for name in contracts.__all__:
        cls = getattr(contracts, name)
        if not inspect.isclass(cls):
            continue
        lines += [f"### `{name}`", "", f"`{cls.__module__}`", "", inspect.getdoc(cls) or "", ""]
        fields = getattr(cls, "model_fields", None)
        if fields:
            lines += ["| field | type | default |", "|---|---|---|"]
            for fname, f in fields.items():
                ann = str(f.annotation).replace("typing.", "").replace("|", "\\|")
                default = "required" if f.is_required() else repr(f.default).replace("|", "\\|")
                lines.append(f"| `{fname}` | `{ann}` | {default} |")
            lines.append("")
        for mname, member in public_methods(cls):
            try:
                sig = str(inspect.signature(member))
            except (TypeError, ValueError):
                sig = "(…)"
            doc = (inspect.getdoc(member) or "").splitlines()
            lines += [f"- `{mname}{sig}` — {doc[0] if doc else ''}"]
        lines.append("")
    lines += ["## Errors", "", "```", inspect.getdoc(errors) or "", "```", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    OUT.write_text(render())
    print(f"wrote {OUT}")
