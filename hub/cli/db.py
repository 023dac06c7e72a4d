"""`relance db upgrade|current`: the store's schema, for upgrades run before the services
restart (a firm: its own store and every company's)."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.common import WorkspaceOpt, console, open_workspace, run_guarded, selected_company
from hub.workspace import Workspace

app = typer.Typer(help="The store's schema (Alembic): upgrade it, or show where it is.",
                  no_args_is_help=True)


def _stores(workspace: Path) -> list[tuple[str, object]]:
    """(label, engine) of every store the command covers, opened without migrating."""
    from hub.workspace.firm import Firm

    firm = None if selected_company() else run_guarded(lambda: Firm.at(workspace))
    if firm is None:
        ws = run_guarded(lambda: open_workspace(workspace, migrate_db=False, read_only=True))
        return [(str(ws.root), ws.engine)]
    out = [(f"firm {firm.name}", run_guarded(lambda: firm.users_engine(migrate_db=False)))]
    for slug in firm.slugs():
        ws = run_guarded(lambda slug=slug: Workspace.open(firm.company(slug), migrate_db=False, read_only=True))
        out.append((f"company {slug}", ws.engine))
    return out


def _revision(engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@app.command("upgrade")
def upgrade(workspace: Path = WorkspaceOpt):
    """Bring every store to the schema this version of Relance needs (idempotent)."""
    from hub.store.db import migrate

    for label, engine in _stores(workspace):
        before = _revision(engine)
        migrate(engine)
        after = _revision(engine)
        console.print(f"{label}: {before or 'empty'} → {after}" if before != after
                      else f"{label}: at {after} already", highlight=False)


@app.command("current")
def current(workspace: Path = WorkspaceOpt):
    """The schema revision of every store, and the one this version needs."""
    from alembic.script import ScriptDirectory

    from hub.store.db import alembic_config

    stores = _stores(workspace)
    head = ScriptDirectory.from_config(alembic_config(stores[0][1])).get_current_head()
    behind = 0
    for label, engine in stores:
        rev = _revision(engine)
        behind += rev != head
        console.print(f"{label}: {rev or 'empty'}" + ("" if rev == head else f" (needs {head}: "
                      "relance db upgrade)"), highlight=False)
    raise typer.Exit(1 if behind else 0)
