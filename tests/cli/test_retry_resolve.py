"""Failed dispatches are retried once the cause is fixed; uncertain ones are listed with
what a person needs to check, and settled many at once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store.db import session
from hub.store.models import Dispatch
from tests import memory_plugins
from tests.conftest import TODAY, customer, invoice
from tests.send.test_dispatcher import send, setup

runner = CliRunner()


def statuses(ws) -> list[str]:
    with session(ws.engine) as s:
        return list(s.execute(select(Dispatch.status).order_by(Dispatch.id)).scalars())


def two_sends_that_end(ws, outcome: str) -> None:
    setup(ws, customer("C1"), invoice("1", "C1", TODAY - dt.timedelta(days=3)),
          customer("C2"), invoice("2", "C2", TODAY - dt.timedelta(days=3)))
    memory_plugins.FAIL["email"] += [outcome, outcome]
    send(ws)


@pytest.fixture(autouse=True)
def _cli_sees_the_test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def test_failed_dispatches_are_sent_again_by_retry(make_ws, tmp_path):
    ws = make_ws()
    two_sends_that_end(ws, "permanent")
    assert statuses(ws) == ["failed", "failed"]
    result = runner.invoke(app, ["retry", "--failed", "-w", str(tmp_path)])
    assert result.exit_code == 0 and "2 failed dispatch(es) approved again" in result.output
    assert send(ws).sent == 2 and statuses(ws) == ["sent", "sent"]


def test_uncertain_dispatches_are_listed_with_recipient_and_settled_at_once(make_ws, tmp_path):
    ws = make_ws()
    two_sends_that_end(ws, "uncertain")
    assert statuses(ws) == ["uncertain", "uncertain"]
    listing = runner.invoke(app, ["resolve", "-w", str(tmp_path)])
    assert "c1@example.com" in listing.output and "2 uncertain" in listing.output
    settled = runner.invoke(app, ["resolve", "--uncertain", "--sent", "-w", str(tmp_path)])
    assert settled.exit_code == 0 and statuses(ws) == ["sent", "sent"]
