"""init, doctor, config schema: getting a workspace right before anything runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from hub.cli.common import JsonOpt, WorkspaceOpt, console, fail, print_json

config_app = typer.Typer(help="Configuration helpers.", no_args_is_help=True)
STARTER = Path(__file__).resolve().parent.parent / "config" / "starter.yaml"


FIRM_STARTER = """\
# A firm's relance.yaml: what its companies share. Each company is a folder under
# companies/ with its own relance.yaml (`relance company add NAME`).
firm:
  name: {name}

database:
  url: sqlite:///relance.db      # PostgreSQL (one schema per company) for workers:
                                 # postgresql://relance@db/relance
"""


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(doctor)
    app.add_typer(config_app, name="config")


def init(workspace: Path = WorkspaceOpt,
         force: bool = typer.Option(False, "--force", help="overwrite an existing relance.yaml"),
         firm: str = typer.Option(None, "--firm", help="a firm's folder serving many companies "
                                                       "(then `relance company add NAME`)")):
    """Write a commented relance.yaml starter into the workspace."""
    target = workspace / "relance.yaml"
    if target.exists() and not force:
        raise fail(f"{target} exists; use --force to overwrite it")
    workspace.mkdir(parents=True, exist_ok=True)
    if firm:
        import json

        target.write_text(FIRM_STARTER.format(name=json.dumps(firm)), encoding="utf-8")
        (workspace / "companies").mkdir(exist_ok=True)
        console.print(f"wrote {target}\nnext: `relance company add NAME -w {workspace}`",
                      highlight=False)
        return
    target.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    (workspace / "templates").mkdir(exist_ok=True)
    console.print(f"wrote {target}\nnext: edit it, then `relance doctor -w {workspace}`")


@config_app.command("schema")
def schema():
    """Print the JSON Schema of relance.yaml (for editor validation)."""
    from hub.config import json_schema

    print_json(json_schema())


def doctor(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt,
           offline: bool = typer.Option(False, "--offline", help="skip connectivity checks")):
    """Check config, plugins, database, templates and connectivity; explain each problem."""
    from hub.cli.checks import diagnose

    checks = asyncio.run(diagnose(workspace, online=not offline))
    if as_json:
        print_json([c.__dict__ for c in checks])
    else:
        for c in checks:
            mark = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "error": "[red]✗[/]"}[c.level]
            console.print(f"{mark} [bold]{c.area}[/]: {c.message}", highlight=False)
    if any(c.level == "error" for c in checks):
        raise typer.Exit(1)
