"""Serve a fake provider's ASGI app on loopback in a thread (shared by the fakes)."""

from __future__ import annotations

import threading
import time


def serve_app(app, port: int):
    """Start uvicorn on 127.0.0.1:port in a daemon thread; returns the server
    (set `server.should_exit = True` to stop it)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server
