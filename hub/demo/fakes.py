"""Local stand-ins for Twilio and Stripe, for the demo and benchmarks only.

They answer the few endpoints Relance calls, in the providers' documented shapes, on
loopback, so the demo shows SMS and payment links without credentials. The demo says
when it uses them. An optional latency makes them behave like a remote API.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


class FakeProviders:
    def __init__(self, latency: float = 0.0):
        self.latency = latency
        self.sms: list[tuple[float, dict]] = []
        self.links: list[dict] = []
        self._ids = itertools.count(1)
        self.port: int | None = None

    async def _pause(self) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)

    async def twilio_messages(self, request: Request):
        await self._pause()
        form = dict(parse_qsl((await request.body()).decode()))
        sid = f"SM{next(self._ids):032x}"
        self.sms.append((time.monotonic(), form))
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"),
                             "from": form.get("From"), "body": form.get("Body"),
                             "num_segments": "1", "error_code": None}, status_code=201)

    async def stripe_price(self, request: Request):
        await self._pause()
        return JSONResponse({"id": f"price_{next(self._ids)}", "object": "price"})

    async def stripe_link(self, request: Request):
        await self._pause()
        n = next(self._ids)
        link = {"id": f"plink_{n}", "object": "payment_link", "active": True,
                "url": f"http://127.0.0.1:{self.port}/pay/plink_{n}"}
        self.links.append(link)
        return JSONResponse(link)

    async def stripe_update(self, request: Request):
        return JSONResponse({"id": request.path_params["id"], "object": "payment_link",
                             "active": False})

    async def pay_page(self, request: Request):
        return PlainTextResponse(f"Demo payment page for {request.path_params['id']}")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", self.twilio_messages, methods=["POST"]),
            Route("/v1/prices", self.stripe_price, methods=["POST"]),
            Route("/v1/payment_links", self.stripe_link, methods=["POST"]),
            Route("/v1/payment_links/{id}", self.stripe_update, methods=["POST"]),
            Route("/pay/{id}", self.pay_page),
        ])

    def __enter__(self) -> str:
        import uvicorn

        from hub.demo.smtp import free_port

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.025)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)
