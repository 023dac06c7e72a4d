"""`relance user add|list|passwd|remove`: who may sign in to the dashboard, and as what."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from hub.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    console,
    fail,
    open_workspace,
    print_json,
    run_guarded,
    selected_company,
)

app = typer.Typer(help="Dashboard users: their role (viewer, approver, admin) and password.",
                  no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    """From stdin (`--password-stdin`, for scripts), $RELANCE_PASSWORD, or asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("RELANCE_PASSWORD"):
        return os.environ["RELANCE_PASSWORD"]
    if not sys.stdin.isatty():
        raise fail("no password: pass --password-stdin and pipe it, or set RELANCE_PASSWORD")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _users(workspace: Path, *, read_only: bool = False):
    """The store of dashboard users: the firm's own (one sign-in for all its companies), or
    the workspace's."""
    from hub.workspace.firm import Firm

    firm = run_guarded(lambda: Firm.at(workspace))
    if firm is not None and not selected_company():
        return run_guarded(firm.users_engine)
    return run_guarded(lambda: open_workspace(workspace, read_only=read_only)).users_engine


def _check_companies(workspace: Path, companies: list[str]) -> None:
    from hub.workspace.firm import Firm

    firm = run_guarded(lambda: Firm.at(workspace))
    unknown = [c for c in companies if firm is not None and c not in firm.slugs()]
    if unknown:
        raise fail(f"no company {', '.join(unknown)} in this firm (companies: "
                   f"{', '.join(firm.slugs()) or 'none'}): see `relance company list`")


@app.command("add")
def add(username: str = typer.Argument(...),
        role: str = typer.Option("viewer", "--role", help="viewer | approver | admin"),
        company: list[str] = typer.Option(None, "--company",
                                          help="a company they may see (repeat; default all)"),
        password_stdin: bool = typer.Option(False, "--password-stdin"),
        workspace: Path = WorkspaceOpt):
    """Add a dashboard user. Viewers read; approvers also approve, reject and set case
    states; admins also re-authorise connections and send test messages."""
    from hub.store.db import session
    from hub.web.users import add_user

    _check_companies(workspace, list(company or []))
    engine = _users(workspace)
    secret = _password(password_stdin)
    with session(engine, immediate=True) as s:
        run_guarded(lambda: add_user(s, username, secret, role, list(company or [])))
    console.print(f"user {username} added as {role}; sign in at the dashboard of "
                  "`relance serve`", highlight=False)


@app.command("passwd")
def passwd(username: str = typer.Argument(...),
           password_stdin: bool = typer.Option(False, "--password-stdin"),
           workspace: Path = WorkspaceOpt):
    """Change a user's password (their open sessions end)."""
    from hub.store.db import session
    from hub.web.users import set_password

    engine = _users(workspace)
    secret = _password(password_stdin)
    with session(engine, immediate=True) as s:
        run_guarded(lambda: set_password(s, username, secret))
    console.print(f"password of {username} changed; their sessions ended", highlight=False)


@app.command("remove")
def remove(username: str = typer.Argument(...), workspace: Path = WorkspaceOpt):
    """Remove a user (their open sessions end)."""
    from hub.store.db import session
    from hub.web.users import remove_user

    with session(_users(workspace), immediate=True) as s:
        run_guarded(lambda: remove_user(s, username))
    console.print(f"user {username} removed", highlight=False)


@app.command("list")
def list_(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """The dashboard's users, their role, companies and last sign-in."""
    from hub.store.db import session
    from hub.store.models import User

    with session(_users(workspace, read_only=True)) as s:
        users = s.execute(select(User).order_by(User.username)).scalars().all()
        data = [{"username": u.username, "role": u.role, "companies": u.companies,
                 "disabled": u.disabled, "last_login_at": u.last_login_at} for u in users]
    if as_json:
        return print_json(data)
    t = Table(title=f"{len(data)} user(s)")
    for col in ("user", "role", "companies", "last sign-in"):
        t.add_column(col)
    for u in data:
        t.add_row(u["username"], u["role"], ", ".join(u["companies"]),
                  f"{u['last_login_at']:%Y-%m-%d %H:%M}" if u["last_login_at"] else "never")
    console.print(t)
    return None
