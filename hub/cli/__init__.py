"""`relance`: the command line, one module per command group."""

from __future__ import annotations

import importlib

import typer

from hub import __version__
from hub.cli.common import setup_logging

app = typer.Typer(
    name="relance", no_args_is_help=True, add_completion=False,
    help="Relance: reminds the customers who owe you, once, through the right channel.",
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:  # eager: runs before Typer asks for a command
        typer.echo(f"relance {__version__}")
        raise typer.Exit()


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logs on stderr"),
          company: str = typer.Option(None, "--company", "-C", envvar="RELANCE_COMPANY",
                                      help="in a firm's folder: the company the command is for"),
          version: bool = typer.Option(False, "--version", help="print the version and exit",
                                       is_eager=True, callback=_print_version)):
    """Exit codes: 0 everything worked; 1 something failed (a connection, a dispatch, a
    check); 2 usage or configuration error."""
    import sys

    from hub.cli.common import SELECTED

    SELECTED["company"] = company  # read where each command opens its workspace
    setup_logging(verbose, service="serve" in sys.argv[1:2] or "serve" in sys.argv)


def _mount() -> None:
    from hub.cli import approvals, demo, lookup, pipeline, plugins_cmd, reports, setup, simulate

    for module in (setup, pipeline, approvals, reports, lookup, simulate, plugins_cmd, demo):
        module.register(app)
    # Command groups owned by other modules; each is optional while it is being built.
    for module_name, attr, name in (("hub.cli.connect", "register", None),
                                    ("hub.cli.tasks", "app", "tasks"),
                                    ("hub.cli.case", "app", "case"),
                                    ("hub.cli.users", "app", "user"),
                                    ("hub.cli.company", "app", "company"),
                                    ("hub.cli.db", "app", "db"),
                                    ("hub.cli.simulate", "scenarios_app", "scenarios"),
                                    ("hub.cli.plugin", "app", "plugin"),
                                    ("hub.cli.serve", "register", None)):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        obj = getattr(module, attr)
        if name:
            app.add_typer(obj, name=name)
        else:
            obj(app)


_mount()


def main() -> None:
    app()
