"""`relance serve`: the scheduler, the webhooks and the health endpoints, as a service."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.cli.common import WorkspaceOpt, console, fail, open_workspace, run_guarded, selected_company
from hub.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)


def serve(workspace: Path = WorkspaceOpt,
          host: str = typer.Option(None, "--host", help="bind address (default serve.host, 127.0.0.1)"),
          port: int = typer.Option(None, "--port", help="port (default serve.port, 8080)"),
          lease_ttl: float = typer.Option(15.0, "--lease-ttl",
                                          help="seconds before a standby takes over a dead clock"),
          no_clock: bool = typer.Option(False, "--no-clock",
                                        help="pages and webhooks only: never run the cycles "
                                             "here (a dashboard host; the demo)")):
    """Run Relance as a service: periodic sync, the daily cycle, webhooks, /metrics."""
    import uvicorn

    from hub.serve.app import create_service
    from hub.serve.executor import executor_for
    from hub.serve.scheduler import Runtime
    from hub.workspace.firm import Firm

    firm = None if selected_company() else run_guarded(lambda: Firm.at(workspace))
    if firm is not None:  # every company of the firm, one clock each, one web service
        slugs = firm.slugs()
        if not slugs:
            raise fail(f"the firm at {firm.root} has no company yet: `relance company add NAME`")
        spaces = {slug: run_guarded(lambda slug=slug: Workspace.open(firm.company(slug))) for slug in slugs}
        runtimes = {slug: run_guarded(lambda ws=ws, slug=slug: Runtime(
            ws, executor=executor_for(ws, slug))) for slug, ws in spaces.items()}
        ws = next(iter(spaces.values()))
        hooks, where = "/webhooks/<company>/<plugin>/<name>", f"firm {firm.name}, {len(slugs)} companies"
    else:
        ws = run_guarded(lambda: open_workspace(workspace))
        runtimes = {None: run_guarded(lambda: Runtime(ws))}
        hooks, where = "/webhooks/<plugin>/<name>", f"workspace {ws.root}"
    cfg = ws.config.serve
    host, port = host or cfg.host, port or cfg.port
    app = create_service(runtimes, firm=firm, lease_ttl=lease_ttl, clock=not no_clock)
    rt = next(iter(runtimes.values()))
    base = f"http://{host}:{port}{cfg.root_path}"
    console.print(f"relance serve: {base} ({where}); /healthz /readyz /metrics {hooks}",
                  highlight=False)
    if rt.executor.name == "celery":
        console.print(f"executor: celery on {ws.config.scale.broker.split('@')[-1]} — start "
                      "workers with `relance worker`", highlight=False)
    if cfg.dashboard:
        console.print(f"dashboard: {cfg.public_url or base}/ — sign in as a user made with "
                      "`relance user add NAME --role approver`", highlight=False)
    from hub.serve.app import freeze_startup

    freeze_startup()
    # behind a reverse proxy: its X-Forwarded-* headers are believed from trusted_proxies
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=60, root_path=cfg.root_path, proxy_headers=True,
                forwarded_allow_ips=cfg.trusted_proxies)


def worker(workspace: Path = WorkspaceOpt,
           concurrency: int = typer.Option(None, "--concurrency", "-c",
                                           help="tasks at once (processes; default: cores)"),
           name: str = typer.Option(None, "--name", "-n", help="worker name (default relance@host)"),
           queues: str = typer.Option(None, "--queues", "-Q", help="queues to take tasks from"),
           loglevel: str = typer.Option("info", "--loglevel", "-l")):
    """Run a Celery worker for `scale.executor: celery` (the clock is `relance serve`)."""
    import os

    from hub.serve.executor import CeleryExecutor
    from hub.workspace.firm import Firm

    firm = run_guarded(lambda: Firm.at(workspace))
    spaces = ([run_guarded(lambda s=s: Workspace.open(firm.company(s))) for s in firm.slugs()] if firm
              else [run_guarded(lambda: open_workspace(workspace))])
    if not spaces:
        raise fail(f"the firm at {firm.root} has no company yet: `relance company add NAME`")
    ws = spaces[0]
    if ws.config.scale.executor != "celery":
        console.print("[yellow]scale.executor is `local`: `relance serve` runs the work itself "
                      "and enqueues nothing; set `scale: {executor: celery}`[/]")
    run_guarded(lambda: CeleryExecutor(ws))  # the checks: PostgreSQL, a broker
    os.environ["RELANCE_WORKSPACE"] = str(firm.root if firm else ws.root)
    for each in spaces:  # the pool children open their own: no connection crosses a fork
        each.engine.dispose()
    from hub.serve.worker import app

    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    argv += [f"--concurrency={concurrency}"] if concurrency else []
    argv += [f"--hostname={name}"] if name else ["--hostname=relance@%h"]
    argv += [f"--queues={queues}"] if queues else []
    console.print(f"relance worker: {ws.root} on {app.conf.broker_url.split('@')[-1]}",
                  highlight=False)
    app.worker_main(argv)
