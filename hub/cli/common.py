"""What every command shares: the workspace option, output (Rich or JSON), progress, errors."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hub.errors import RelanceError

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = typer.Option(
    Path(os.environ.get("RELANCE_WORKSPACE", ".")), "--workspace", "-w",
    help="folder holding relance.yaml (env RELANCE_WORKSPACE)", show_default=True)
JsonOpt = typer.Option(False, "--json", help="machine-readable output on stdout")


def is_tty() -> bool:
    return sys.stdout.isatty()


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def cmd(workspace: Path | str, command: str) -> str:
    """A command to suggest, runnable as printed: with `-w` unless the workspace is here."""
    root = Path(workspace)
    if root.resolve() == Path(os.environ.get("RELANCE_WORKSPACE", ".")).resolve():
        return f"`relance {command}`"
    return f"`relance {command} -w {shlex.quote(str(root))}`"


def parse_day(value: str | None, option: str = "--date") -> dt.date | None:
    """A YYYY-MM-DD option (None when not given); a bad one is a usage error naming it."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: write YYYY-MM-DD") from None


def parse_amount(value: str | None, option: str, example: str = "5000.50") -> Decimal | None:
    """A number option (None when not given): a Decimal, never a float; anything else —
    NaN and infinities too — is a usage error naming the option."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise fail(f"{option} {value!r} is not a number: write {example}")
    return amount


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")


#: `relance --company NAME` (env RELANCE_COMPANY), set by the root callback each invocation
SELECTED: dict[str, str | None] = {"company": None}


def selected_company() -> str | None:
    return SELECTED["company"]


def workspace_root(path: Path) -> Path:
    """The folder a command works on: `path`, or with `--company NAME` (env
    RELANCE_COMPANY) that company's folder in the firm at `path`."""
    company = selected_company()
    if not company:
        return path
    from hub.workspace.firm import Firm

    firm = Firm.at(path)
    if firm is None:
        if Firm.of_company(path) is not None and path.resolve().name == company:
            return path
        raise fail(f"--company {company}: {path.resolve()} is not a firm's folder (its "
                   "relance.yaml has no `firm:` section); drop --company, or point -w at the firm")
    return run_guarded(lambda: firm.company(company))


def open_workspace(path: Path, **kw: Any):
    from hub.workspace import Workspace

    return Workspace.open(workspace_root(path), **kw)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int, str], None]]:
    """A Rich bar with counts and rate on a terminal; plain log lines otherwise."""
    log = logging.getLogger("relance.progress")
    if is_tty():
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                      console=err_console, transient=False) as bar:
            task = bar.add_task(label, total=total, rate="")

            def update(done: int, note: str = "") -> None:
                elapsed = bar.tasks[0].elapsed or 0
                rate = f"{done / elapsed:,.0f}/s" if elapsed > 0.2 else ""
                bar.update(task, completed=done, rate=f"{rate} {note}".strip())

            yield update
    else:
        last = [0]

        def update(done: int, note: str = "") -> None:
            if done - last[0] >= max(1, (total or 1000) // 10) or done == total:
                last[0] = done
                log.info("%s: %s%s %s", label, done, f"/{total}" if total else "", note)

        yield update


def run_guarded(fn: Callable[[], Any]) -> Any:
    """Turn Relance errors into a clear message and exit code 2 (no traceback)."""
    try:
        return fn()
    except RelanceError as exc:
        raise fail(str(exc)) from None


def setup_logging(verbose: bool, service: bool = False) -> None:
    """Commands log warnings (their output is the report); the service logs every event."""
    level = logging.DEBUG if verbose else (logging.INFO if service else logging.WARNING)
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    if is_tty():
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.WARNING if not verbose else logging.DEBUG)
    else:
        from hub.logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "alembic", "mail.log", "aiosmtpd"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
