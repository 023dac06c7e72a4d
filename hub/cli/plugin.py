"""`relance plugin new`: scaffold a third-party plugin package."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.common import console, fail

app = typer.Typer(help="Write your own plugin.", no_args_is_help=True)


@app.command("new")
def new(name: str = typer.Argument(..., help="plugin name, e.g. mailgun or pennylane"),
        kind: str = typer.Option(..., "--kind", help="connector | channel | payment"),
        directory: Path = typer.Option(Path("."), "--dir", help="where to create relance-NAME/"),
        rest: bool = typer.Option(False, "--rest", help="a connector for a paged REST ledger, "
                                                         "on RestConnector (paging, cursor, "
                                                         "fresh-check and errors done)")):
    """Create relance-NAME/: pyproject with the entry point, stubs, conformance tests, README."""
    from hub.errors import PermanentError
    from hub.testing.scaffold import new_plugin

    try:
        root = new_plugin(name, kind, directory, rest=rest)
    except PermanentError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"created {root}\n"
        f"next:\n  cd {root}\n  pip install -e '.[test]'\n"
        "  pytest            # the conformance suite: it fails until the TODOs are written\n"
        "  relance plugins   # once installed, your plugin is listed\n"
        "guide: docs/plugins/README.md", markup=False, highlight=False)
