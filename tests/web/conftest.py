"""A dashboard on a real SQLite store with reminders waiting, and its users."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.cli import app
from hub.store.db import session
from hub.web.users import add_user
from tests.cli.test_approvals import _test_plugins  # noqa: F401  (the test plugins)
from tests.cli.test_explain import export
from tests.send.test_unknown_is_not_open import CONFIG

CONFIG_WEB = CONFIG.replace("complete_export: true", "complete_export: false") + \
    "approvals:\n  above: {EUR: 50}\n"
PASSWORD = "correct horse battery"


@pytest.fixture
def ws(make_ws, tmp_path):
    ws = make_ws(CONFIG_WEB)
    export(tmp_path, [("INV-1", "C1", "100.00", 10), ("INV-2", "C2", "5000.00", 10),
                      ("INV-3", "C3", "8000.00", 20)])
    result = CliRunner().invoke(app, ["run", "-w", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with session(ws.engine, immediate=True) as s:
        for name, role in (("vera", "viewer"), ("alice", "approver"), ("adam", "admin")):
            add_user(s, name, PASSWORD, role)
        add_user(s, "otto", PASSWORD, "admin", ["Another Company"])
    return ws


def client(ws, **kw) -> TestClient:
    from hub.web.app import dashboard

    return TestClient(dashboard(ws), follow_redirects=False, **kw)


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(ws, username: str, **kw) -> tuple[TestClient, str]:
    """A client signed in as `username`, and the CSRF token of its session."""
    c = client(ws, **kw)
    login = c.get("/login")
    r = c.post("/login", data={"username": username, "password": PASSWORD,
                               "csrf_token": token(login.text)})
    assert r.status_code == 303, r.text
    page = c.get("/today")
    return c, token(page.text) if page.status_code == 200 else ""
