"""`relance plugins`: what is installed, its version, kind and capabilities."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.common import JsonOpt, console, print_json


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins)


def describe(info) -> dict:
    try:
        from hub.contracts.info import describe_plugin

        return describe_plugin(info)
    except ImportError:
        cls = info.cls
        return {"name": info.name, "kind": info.kind, "distribution": info.distribution,
                "version": info.version, "api_version": cls.api_version,
                "capabilities": cls.capabilities(), "description": cls.description}


def plugins(verbose: bool = typer.Option(False, "--verbose", "-V", help="capabilities and settings"),
            as_json: bool = JsonOpt):
    """List installed plugins (built-in ones come through the same entry points)."""
    from hub.contracts.manager import discover

    reg = discover()
    rows = [describe(i) for i in sorted(reg.all(), key=lambda i: (i.kind, i.name))]
    if as_json:
        return print_json({"plugins": rows, "errors": reg.errors})
    t = Table(title="Plugins")
    for col in ("kind", "name", "distribution", "version", "api"):
        t.add_column(col)
    if verbose:
        t.add_column("capabilities")
    for r in rows:
        cells = [r["kind"], r["name"], r["distribution"], r["version"], str(r["api_version"])]
        if verbose:
            caps = [k for k, v in r["capabilities"].items() if v]
            cells.append(", ".join(caps) or "-")
        t.add_row(*cells)
    console.print(t)
    if verbose:
        for r in rows:
            console.print(f"[bold]{r['kind']} {r['name']}[/]: {r['description'] or ''}",
                          highlight=False)
            for f in r["settings"] or [{"name": "-"}]:
                if f["name"] == "-":
                    console.print("  settings: -")
                    continue
                how = "required" if f["required"] else f"default {f['default']}" \
                    if f["default"] is not None else "optional"
                console.print(f"  {f['name']}: {f['type']}, {how}"
                              f"{', secret' if f['secret'] else ''}"
                              f"{' — ' + f['description'] if f['description'] else ''}",
                              highlight=False, markup=False)
    for err in reg.errors:
        console.print(f"[red]✗[/] {err}", highlight=False)
