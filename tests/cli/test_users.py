"""`relance user add|list|passwd|remove`: dashboard accounts from the command line."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store.db import session
from hub.store.models import User
from hub.web.users import authenticate
from tests.cli.test_approvals import _test_plugins  # noqa: F401  (the test plugins)

runner = CliRunner()


def test_users_are_added_listed_changed_and_removed(make_ws, tmp_path):
    ws = make_ws()
    w = ["-w", str(tmp_path)]
    r = runner.invoke(app, ["user", "add", "marie", "--role", "approver", "--password-stdin", *w],
                      input="a long passphrase\n")
    assert r.exit_code == 0 and "marie added as approver" in r.output, r.output
    again = runner.invoke(app, ["user", "add", "marie", "--password-stdin", *w],
                          input="another passphrase\n")
    assert again.exit_code == 2 and "exists" in again.output
    short = runner.invoke(app, ["user", "add", "paul", "--password-stdin", *w], input="short\n")
    assert short.exit_code == 2 and "shorter than 10" in short.output
    role = runner.invoke(app, ["user", "add", "paul", "--role", "boss", "--password-stdin", *w],
                         input="a long passphrase\n")
    assert role.exit_code == 2 and "viewer, approver, admin" in role.output
    listed = json.loads(runner.invoke(app, ["user", "list", "--json", *w]).stdout)
    assert [(u["username"], u["role"], u["companies"]) for u in listed] == [
        ("marie", "approver", ["*"])]
    assert runner.invoke(app, ["user", "passwd", "marie", "--password-stdin", *w],
                         input="the new passphrase\n").exit_code == 0
    with session(ws.engine) as s:
        assert authenticate(s, "marie", "a long passphrase") is None
        assert authenticate(s, "marie", "the new passphrase") is not None
    assert runner.invoke(app, ["user", "remove", "marie", *w]).exit_code == 0
    with session(ws.engine) as s:
        assert s.execute(select(User)).first() is None
