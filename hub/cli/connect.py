"""`relance connect NAME`: authorise a connection (OAuth2) or check its API key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from hub.cli.common import WorkspaceOpt, cmd, console, fail, open_workspace, run_guarded


def register(app: typer.Typer) -> None:
    app.command()(connect)


def connect(connection: str = typer.Argument(..., help="a name under `connections:`"),
            workspace: Path = WorkspaceOpt,
            no_browser: bool = typer.Option(False, "--no-browser", help="print the URL only"),
            port: int = typer.Option(8765, "--port", help="loopback port of the OAuth callback"),
            tenant: str = typer.Option(None, "--tenant", help="organisation id, non-interactive"),
            again: bool = typer.Option(False, "--again", help="a shared consent: ask for it anew")):
    """Connect a ledger: the OAuth2 consent (or client credentials), or an API-key check."""
    from hub.workspace.auth import authorize_interactively

    ws = run_guarded(lambda: open_workspace(workspace))
    if connection not in ws.config.connections:
        raise fail(f"no connection {connection!r} in relance.yaml "
                   f"(configured: {', '.join(ws.config.connections) or 'none'})")
    cls = ws.plugin_class("connector", connection)
    settings = ws.settings[("connector", connection)]
    connector = ws.connector(connection)

    async def after() -> list[str] | list[tuple[str, str]]:
        try:
            return await (connector.tenants() if cls.auth == "oauth2" else connector.check())
        finally:
            await ws.aclose()

    if cls.auth != "oauth2":
        problems = asyncio.run(after())
        for p in problems:
            console.print(p, highlight=False)
        if any(not p.lower().startswith(("note", "warning")) for p in problems):
            raise typer.Exit(1)
        from hub.sync.engine import mark_authorised

        if mark_authorised(ws, connection):
            console.print(f"connection {connection} no longer needs re-authorisation")
        console.print(f"[green]connection {connection} works[/]; next: {cmd(ws.root, f'sync {connection}')}")
        return
    store = run_guarded(lambda: ws.token_store(connection, cls.name))
    consent = ws.config.connections[connection].consent
    spec = cls.oauth_for(settings)
    if consent and store.load() and not again:  # another company granted it already
        console.print(f"connection {connection} uses the firm's consent {consent!r}, granted "
                      "already (`--again` asks for it anew)", highlight=False)
    elif spec.grant == "client_credentials":
        from hub.workspace.auth import OAuth2TokenProvider

        run_guarded(lambda: asyncio.run(OAuth2TokenProvider(spec, settings, store).access_token()))
    else:
        token = run_guarded(lambda: authorize_interactively(
            spec, settings, redirect_port=port, open_browser=not no_browser,
            echo=lambda t: console.print(t, highlight=False, markup=False)))
        store.save(token)
    tenants = asyncio.run(after())
    if tenants and consent:  # one consent, several organisations: each connection names its own
        return _consent_tenant(connection, consent, getattr(settings, "tenant_id", None), tenants)
    if tenants:
        choice = tenant
        if choice is None and len(tenants) == 1:
            choice = tenants[0][0]
        if choice is None:
            for i, (tid, name) in enumerate(tenants, 1):
                console.print(f"  {i}. {name} ({tid})")
            pick = typer.prompt("Which organisation is this connection for? (number)", type=int)
            choice = tenants[pick - 1][0]
        if choice not in {t[0] for t in tenants}:
            raise fail(f"--tenant {choice!r} is not one of {', '.join(t[0] for t in tenants)}")
        store.save({**(store.load() or {}), "tenant_id": choice})
        console.print(f"organisation: {dict(tenants)[choice]} ({choice})")
    console.print(f"[green]connection {connection} authorised[/]; tokens stored encrypted. "
                  f"Next: {cmd(ws.root, f'sync {connection}')}")


def _consent_tenant(connection: str, consent: str, chosen: str | None,
                    tenants: list[tuple[str, str]]) -> None:
    """A shared consent's connection names its organisation in its settings (the token is
    the firm's, so it cannot hold one company's choice)."""
    names = dict(tenants)
    if chosen in names:
        console.print(f"[green]connection {connection} authorised[/] through the firm's consent "
                      f"{consent!r}: organisation {names[chosen]} ({chosen})")
        return
    for tid, name in tenants:
        console.print(f"  {name}: {tid}", highlight=False)
    raise fail(f"connection {connection} shares the consent {consent!r}, which grants the "
               f"organisations above: set `tenant_id:` under connections.{connection}.settings "
               "to this company's" + (f" ({chosen!r} is not one of them)" if chosen else ""), 1)
