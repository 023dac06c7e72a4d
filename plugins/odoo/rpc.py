"""Talking to Odoo: the JSON-2 API (Odoo 19+) or the external JSON-RPC API (16–18).

One `call(model, method, *args, **kwargs)` for both, so the connector never cares which.
Odoo's faults become Relance errors naming the model and method.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hub.errors import AuthError, PermanentError, RelanceError

FAULTS = {
    "odoo.exceptions.AccessDenied": AuthError,
    "odoo.exceptions.AccessError": PermanentError,
    "odoo.exceptions.ValidationError": PermanentError,
    "odoo.exceptions.MissingError": PermanentError,
    "odoo.exceptions.UserError": PermanentError,
}


def fault(name: str, message: str, where: str) -> Exception:
    cls = FAULTS.get(name, PermanentError)
    short = name.rsplit(".", 1)[-1] if name else "error"
    hint = " — check login and API key (Preferences → Account Security → API keys)" \
        if cls is AuthError else ""
    return cls(f"Odoo {short} on {where}: {message}{hint}")


class OdooRPC:
    """`plugin` is the connector: its base class sends the requests and maps the answers
    (`OdooConnector.error_for` and `body_error` know Odoo's faults)."""

    def __init__(self, plugin, url: str, database: str, login: str, key: str,
                 protocol: str = "auto"):
        self.plugin, self.url, self.db, self.login, self.key = plugin, url.rstrip("/"), database, login, key
        self.protocol = protocol
        self.uid: int | None = None
        self.version: tuple[int, ...] | None = None
        self.calls = 0
        self.fresh_login = False  # False while the uid comes from the stored cursor
        self._ids = itertools.count(1)

    async def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None,
                    where: str = "") -> Any:
        self.calls += 1
        r = await self.plugin.request("POST", self.url + path, where=where, json=payload,
                                      headers=headers or {})
        return self.plugin.json_body(r)

    async def jsonrpc(self, service: str, method: str, *args: Any, where: str = "") -> Any:
        body = await self._post("/jsonrpc", {"jsonrpc": "2.0", "method": "call", "id": next(self._ids),
                                             "params": {"service": service, "method": method,
                                                        "args": list(args)}}, where=where or method)
        problem = body_error(body, where or method)  # JSON-RPC faults come in a 200 answer
        if problem is not None:
            raise problem
        return body.get("result")

    async def detect(self) -> str:
        """The server version decides the protocol (JSON-2 from Odoo 19)."""
        if self.version is None:
            info = await self.jsonrpc("common", "version", where="common.version")
            self.version = tuple(int(x) for x in info.get("server_version_info", [0])[:2]
                                 if isinstance(x, int | Decimal))
            if self.protocol == "auto":
                self.protocol = "json2" if self.version and self.version[0] >= 19 else "jsonrpc"
        return self.protocol

    async def authenticate(self) -> int:
        if self.uid is None:
            uid = await self.jsonrpc("common", "authenticate", self.db, self.login, self.key, {},
                                     where="common.authenticate")
            if not uid:
                raise AuthError(f"Odoo refused login {self.login!r} on database {self.db!r} — "
                                "check login and API key")
            self.uid = int(uid)
            self.fresh_login = True
        return self.uid

    async def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        where = f"{model}.{method}"
        if await self.detect() == "json2":
            if args:  # JSON-2 takes named arguments only
                kwargs = {("vals_list" if method == "create" else "ids"): args[0], **kwargs}
            return await self._post(f"/json/2/{model}/{method}", kwargs, where=where, headers={
                "Authorization": f"bearer {self.key}", "X-Odoo-Database": self.db})
        uid = await self.authenticate()
        try:
            return await self.jsonrpc("object", "execute_kw", self.db, uid, self.key, model, method,
                                      list(args), kwargs, where=where)
        except AuthError:
            if self.fresh_login:
                raise
            self.uid = None  # a remembered uid may be stale: log in again, once
            uid = await self.authenticate()
            return await self.jsonrpc("object", "execute_kw", self.db, uid, self.key, model, method,
                                      list(args), kwargs, where=where)


def body_error(body: Any, where: str) -> RelanceError | None:
    """JSON-RPC reports a fault inside a 200 answer: `{"error": {"data": {"name", "message"}}}`."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    data = body["error"].get("data", {}) if isinstance(body["error"], dict) else {}
    message = data.get("message") or (body["error"].get("message", "") if isinstance(
        body["error"], dict) else str(body["error"]))
    return fault(data.get("name", ""), message, where)
