"""The plugin author kit: the scaffold, what `plugins --verbose` shows, and the third-party
path end to end (install the example into a throwaway virtualenv, list it, send with it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pytest

from hub.contracts import API_VERSION
from hub.contracts.manager import discover
from hub.demo.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "relance-mailgun"


@pytest.mark.parametrize("kind,suite,todo", [
    ("connector", "ConnectorConformance", "TODO: read customers and invoices from Pennylane"),
    ("connector --rest", "ConnectorConformance", "TODO: map a Pennylane customer to CustomerRecord"),
    ("channel", "ChannelConformance", "TODO: send through Pennylane and return SendResult"),
    ("payment", "PaymentProviderConformance", "TODO: create a payment link with Pennylane"),
])
def test_scaffold_creates_a_package_whose_stubs_fail_loudly(tmp_path, kind, suite, todo):
    from typer.testing import CliRunner

    from hub.cli import app

    r = CliRunner().invoke(app, ["plugin", "new", "pennylane", "--kind", *kind.split(),
                                 "--dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    root = tmp_path / "relance-pennylane"
    assert "[project.entry-points.relance]\npennylane = \"relance_pennylane\"" in (root / "pyproject.toml").read_text()
    assert suite in (root / "tests" / "test_pennylane.py").read_text()
    assert "plugin: pennylane" in (root / "README.md").read_text()
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated",
                           "--select", "E,F,W,I,B,UP", "--line-length", "120", "."],
                          cwd=root, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout  # what we hand an author is clean
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA"],
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=120)
    assert f"NotImplementedError: {todo}" in out.stdout, out.stdout[-3000:]
    # the generated class already meets the declarative part of the contract
    assert re.search(r"PASSED tests/test_pennylane.py::\w+::test_declares_the_contract", out.stdout)
    assert "failed" in out.stdout.splitlines()[-1]  # until the TODOs are written


def test_scaffold_refuses_bad_names_and_existing_folders(tmp_path):
    from typer.testing import CliRunner

    from hub.cli import app

    runner = CliRunner()
    args = ["plugin", "new", "gocardless", "--kind", "payment", "--dir", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(app, ["plugin", "new", "Sage-50", "--kind", "connector", "--dir", str(tmp_path)])
    assert bad.exit_code != 0 and "lowercase letters, digits and _" in bad.output
    kind = runner.invoke(app, ["plugin", "new", "sage", "--kind", "ledger", "--dir", str(tmp_path)])
    assert kind.exit_code != 0 and "connector, channel, payment" in kind.output


def test_describe_plugin_shows_contract_capabilities_and_settings():
    from hub.contracts.info import describe_plugin

    reg = discover()
    lob = describe_plugin(reg.channels["letter_lob"])
    assert lob["api_version"] == API_VERSION and lob["distribution"] == "relance"
    assert lob["capabilities"]["idempotent"] is True and lob["requires"] == ["address"]
    api_key = next(f for f in lob["settings"] if f["name"] == "api_key")
    assert api_key == {**api_key, "type": "SecretStr", "required": True, "secret": True, "default": None}
    csv = describe_plugin(reg.connectors["csv"])
    assert csv["auth"] == "none" and csv["capabilities"]["supports_refresh"] is True
    assert next(f for f in csv["settings"] if f["name"] == "page_size")["default"] == "5000"


class FakeMailgun:
    """Mailgun's messages endpoint on loopback, recording what it receives."""

    def __init__(self):
        self.received: list[dict] = []

    def start(self, port: int) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def messages(request):
            form = await request.form()
            self.received.append({k: form[k] for k in form if isinstance(form[k], str)})
            return JSONResponse({"id": f"<{len(self.received)}@mg.test>", "message": "Queued."})

        app = Starlette(routes=[Route("/v3/{domain}/messages", messages, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning"))
        threading.Thread(target=self.server.run, daemon=True).start()
        while not self.server.started:
            time.sleep(0.05)


@pytest.mark.slow
def test_example_plugin_installs_is_discovered_and_sends(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Relance and its dependencies come from the project's environment, offline. Not
    # --system-site-packages: from a venv's python that exposes the *base* interpreter's
    # packages, not the project venv's; a .pth naming the project's site-packages does.
    (Path(site) / "_relance_parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    before = subprocess.run([str(py), "-m", "hub", "plugins", "--json"], capture_output=True,
                            text=True, timeout=120)
    assert "mailgun" not in before.stdout  # not there until installed
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-e", str(EXAMPLE)], check=True, timeout=300, cwd=tmp_path)
    listed = json.loads(subprocess.run([str(py), "-m", "hub", "plugins", "--json"],
                                       capture_output=True, text=True, timeout=120,
                                       cwd=tmp_path).stdout)
    mailgun = next(p for p in listed["plugins"] if p["name"] == "mailgun")
    assert mailgun["distribution"] == "relance-mailgun" and mailgun["kind"] == "channel"

    port = free_port()
    fake = FakeMailgun()
    fake.start(port)
    ws = tmp_path / "ws"
    ws.mkdir()
    import datetime as dt

    due = (dt.date.today() - dt.timedelta(days=4)).isoformat()
    (ws / "invoices.csv").write_text("invoice_number,customer_name,email,amount_due,due_date\n"
                                     f"F-1,Alpha,alpha@example.com,100.00,{due}\n"
                                     f"F-2,Beta,beta@example.com,250.00,{due}\n")
    (ws / "relance.yaml").write_text(f"""
company: {{name: Acme, country: FR, timezone: Europe/Paris, language: en}}
connections: {{books: {{plugin: csv, settings: {{path: invoices.csv}}}}}}
channels:
  email:
    plugin: mailgun
    settings: {{api_key: key-test, domain: mg.test, from_address: ar@acme.example,
                base_url: "http://127.0.0.1:{port}"}}
scenarios: {{standard: {{closed_days: ignore, steps: [{{at: due+3d, channel: email, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
""")
    run = subprocess.run([str(py), "-m", "hub", "run", "-w", str(ws), "--json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    summary = json.loads(run.stdout)
    assert summary["sent"] == 2, run.stderr
    assert sorted(m["to"] for m in fake.received) == ["alpha@example.com", "beta@example.com"]
    assert all("payment reminder" in m["subject"] for m in fake.received)
    fake.server.should_exit = True
