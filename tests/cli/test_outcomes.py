"""Outcomes that tell the truth: exit codes cron can trust, and a summary that says why
nothing was sent."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.send.test_unknown_is_not_open import CONFIG, export

runner = CliRunner()


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch):
    monkeypatch.setenv("RELANCE_PLUGINS", "tests.memory_plugins_entry")


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("relance ")


def test_run_exits_1_and_says_why_when_the_export_is_gone(make_ws, tmp_path):
    make_ws(CONFIG)
    export(tmp_path, range(1, 6))
    first = runner.invoke(app, ["run", "-w", str(tmp_path)])
    assert first.exit_code == 0, first.output
    (tmp_path / "invoices.csv").unlink()
    later = runner.invoke(app, ["run", "-w", str(tmp_path)])
    assert later.exit_code == 1
    assert "no file found" in later.output
    assert "every due reminder has already gone out" not in later.output


def test_held_reminders_are_not_called_already_sent(make_ws, tmp_path):
    ws = make_ws(CONFIG)
    export(tmp_path, range(1, 4))
    from hub.store.db import session
    from hub.store.models import Connection

    runner.invoke(app, ["sync", "-w", str(tmp_path)])
    with session(ws.engine) as s:  # the data is older than max_staleness
        s.execute(Connection.__table__.update().values(
            last_sync_ok_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    result = runner.invoke(app, ["run", "--no-sync", "-w", str(tmp_path)])
    assert "already gone out" not in result.output
    assert "Nothing was sent" in result.output and "3 held" in result.output
