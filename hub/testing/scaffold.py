"""`relance plugin new`: a ready-to-publish package skeleton for a connector, channel or
payment provider. Its stubs fail loudly until written and its tests run the conformance
suite from the first `pytest`, so the author always knows what is left to do.

Templates live in `hub/testing/scaffold_templates/` (Jinja2, one file per generated file).
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import jinja2

from hub import __version__
from hub.contracts import API_VERSION
from hub.errors import PermanentError

TEMPLATES = Path(__file__).with_name("scaffold_templates")

#: --kind -> (base class, conformance suite, label, relance.yaml section, example key)
KINDS = {
    "connector": ("Connector", "ConnectorConformance", "connector", "connections", "books"),
    "channel": ("Channel", "ChannelConformance", "channel", "channels", "email"),
    "payment": ("PaymentProvider", "PaymentProviderConformance", "payment provider",
                "payment_providers", "payments"),
}


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def plan(name: str, kind: str) -> dict[str, str]:
    """The values the templates see, after checking the name and kind."""
    if kind not in KINDS:
        raise PermanentError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise PermanentError(f"plugin name {name!r}: use lowercase letters, digits and _, starting "
                             "with a letter (it is what users write after `plugin:`), e.g. pennylane")
    base, suite, label, section, example_key = KINDS[kind]
    title = name.replace("_", " ").title()
    return dict(name=name, dist=name.replace("_", "-"), package=f"relance_{name}", kind=kind,
                kind_label=label, base=base, suite=suite, cls=f"{title.replace(' ', '')}{base}",
                title=title, api=API_VERSION, env=name.upper(), section=section,
                example_key=example_key, relance_version=__version__,
                base_url=f"https://api.{name.replace('_', '')}.example")


def new_plugin(name: str, kind: str, where: Path, *, rest: bool = False) -> Path:
    """Write relance-NAME/ under `where`; returns its path. Refuses to overwrite.
    `rest`: a connector on `RestConnector` (a paged REST ledger)."""
    if rest and kind != "connector":
        raise PermanentError("--rest is for --kind connector (a paged REST ledger)")
    values = plan(name, kind)
    variant = "_rest" if rest else ""
    root = Path(where) / f"relance-{values['dist']}"
    if root.exists():
        raise PermanentError(f"{root} already exists; choose another --dir or name")
    env = _env()
    files = {
        "pyproject.toml": "pyproject.toml.j2",
        "README.md": "README.md.j2",
        f"{values['package']}/__init__.py": f"{kind}{variant}.py.j2",
        f"tests/test_{name}.py": f"test_{kind}{variant}.py.j2",
    }
    for target, template in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(values))
    return root
