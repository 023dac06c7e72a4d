"""`relance company add|list`: the companies a firm serves from one deployment."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import JsonOpt, WorkspaceOpt, console, fail, print_json, run_guarded
from hub.workspace import Workspace

app = typer.Typer(help="A firm's companies: each its own connections, scenarios, templates, "
                       "calendar, law pack and store.", no_args_is_help=True)



def _company_config(name: str, country: str, timezone: str, language: str, currency: str) -> str:
    """The starter config, as a company of a firm: its own sections, none of the firm's."""
    from hub.cli.setup import STARTER

    text = STARTER.read_text(encoding="utf-8")
    head, _, rest = text.partition("company:\n")
    _, _, after = rest.partition("\ndatabase:\n")
    after = after.split("\n\n", 1)[1]  # the database block ends at the blank line
    company = (f"company:\n  name: {name}\n  country: {country}\n  timezone: {timezone}\n"
               f"  language: {language}\n  currency: {currency}\n")
    return head + company + "\n" + after


def firm_or_fail(workspace: Path):
    from hub.workspace.firm import Firm

    firm = run_guarded(lambda: Firm.at(workspace))
    if firm is None:
        raise fail(f"{workspace.resolve()} is not a firm's folder (its relance.yaml has no "
                   "`firm:` section): make one with `relance init --firm NAME -w FOLDER`")
    return firm


@app.command("add")
def add(slug: str = typer.Argument(..., help="the company's folder name, e.g. acme-sas"),
        name: str = typer.Option(None, "--name", help="as messages sign (default: the folder)"),
        country: str = typer.Option("FR", "--country"),
        timezone: str = typer.Option("Europe/Paris", "--timezone"),
        language: str = typer.Option("fr", "--language"),
        currency: str = typer.Option("EUR", "--currency"),
        workspace: Path = WorkspaceOpt):
    """Add a company to the firm: companies/SLUG/relance.yaml to edit, and its store."""
    from hub.workspace.firm import check_slug

    firm = firm_or_fail(workspace)
    run_guarded(lambda: check_slug(slug))
    root = firm.company_root(slug)
    if (root / "relance.yaml").exists():
        raise fail(f"company {slug} exists already ({root / 'relance.yaml'})")
    (root / "templates").mkdir(parents=True, exist_ok=True)
    (root / "relance.yaml").write_text(_company_config(
        name or slug, country.upper(), timezone, language, currency.upper()), encoding="utf-8")
    ws = run_guarded(lambda: Workspace.open(firm.company(slug), read_only=True))  # validates, migrates
    console.print(f"company {slug} added: edit {root / 'relance.yaml'}, then "
                  f"`relance doctor -w {firm.root} --company {slug}`", highlight=False)
    return ws


@app.command("list")
def list_(workspace: Path = WorkspaceOpt, as_json: bool = JsonOpt):
    """The firm's companies: open invoices, connections and their last sync."""
    from sqlalchemy import func, select

    from hub.store.db import session
    from hub.store.models import Connection, Invoice

    firm = firm_or_fail(workspace)
    rows = []
    for slug in firm.slugs():
        ws = run_guarded(lambda slug=slug: Workspace.open(firm.company(slug), read_only=True))
        with session(ws.engine) as s:
            n_open = s.execute(select(func.count()).select_from(Invoice).where(
                Invoice.status == "open")).scalar_one()
            last = s.execute(select(func.max(Connection.last_sync_ok_at))).scalar_one()
        rows.append({"company": slug, "name": ws.config.company.name,
                     "country": ws.config.company.country,
                     "connections": sorted(ws.config.connections), "open_invoices": n_open,
                     "last_sync": last})
    if as_json:
        return print_json(rows)
    t = Table(title=f"{firm.name}: {len(rows)} compan{'y' if len(rows) == 1 else 'ies'}")
    for col in ("company", "name", "country", "connections", "open invoices", "last sync"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["company"], r["name"], r["country"], ", ".join(r["connections"]) or "—",
                  str(r["open_invoices"]),
                  f"{r['last_sync']:%Y-%m-%d %H:%M}" if r["last_sync"] else "never")
    console.print(t)
    return None
