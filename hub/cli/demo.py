"""`relance demo`: the whole job on sample data, with a real SMTP server on loopback."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(workspace: Path = typer.Option(Path("demo-workspace"), "--workspace", "-w",
                                        help="where the demo keeps its files"),
         reset: bool = typer.Option(False, "--reset", help="start from a fresh workspace")):
    """Run Relance end to end on ~200 sample invoices: sync, plan, send, report."""
    from hub.demo.run import run_demo

    run_demo(workspace, reset=reset)
