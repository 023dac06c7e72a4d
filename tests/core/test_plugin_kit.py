"""The third-party path end to end, and broken plugins that never stop the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hub.contracts import API_VERSION
from hub.demo_smtp import free_port
from hub.plugins import _distributions, discover

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "relance-mailgun"


def fake_dist(where: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    """An installed distribution (dist-info with an entry point) without pip."""
    info = where / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[relance]\n{ep_name} = {module}\n")
    (info / "top_level.txt").write_text(module + "\n")
    (info / "RECORD").write_text(f"{module}.py,,\n")
    (where / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
from hub.contracts import Channel, PluginSettings, SendResult
from hub.hookspecs import hookimpl

class Pigeon(Channel):
    name = "pigeon"
    Settings = PluginSettings
    async def send(self, message):
        return SendResult(provider_ref="coo")

@hookimpl
def register_channels(register):
    register(Pigeon)
"""


def test_broken_plugins_each_explain_themselves_and_the_others_load(tmp_path, monkeypatch):
    fake_dist(tmp_path, "relance-good", "relance_good", GOOD, "good")
    fake_dist(tmp_path, "relance-broken-import", "relance_broken_import",
              "import does_not_exist_anywhere\n", "broken_import")
    fake_dist(tmp_path, "relance-old", "relance_old", GOOD.replace("Pigeon", "Old").replace(
        '"pigeon"', '"old"').replace("Settings = PluginSettings",
                                     "Settings = PluginSettings\n    api_version = '0.9'"),
              "old")
    fake_dist(tmp_path, "relance-bad-settings", "relance_bad_settings", GOOD.replace(
        "Pigeon", "Bad").replace('"pigeon"', '"bad"').replace(
        "Settings = PluginSettings", "Settings = dict"), "bad")
    monkeypatch.syspath_prepend(str(tmp_path))
    _distributions.cache_clear()
    reg = discover()
    _distributions.cache_clear()
    assert "pigeon" in reg.channels and reg.channels["pigeon"].distribution == "relance-good"
    assert "csv" in reg.connectors and "email" in reg.channels  # the built-ins are unaffected
    errors = "\n".join(reg.errors)
    assert "'broken_import'" in errors and "ModuleNotFoundError" in errors \
        and "pip uninstall relance-broken-import" in errors
    assert f"targets plugin API 0.9 but this Relance offers {API_VERSION}" in errors \
        and "pip install -U relance-old" in errors
    assert "relance_bad_settings.Bad" in errors and "needs `Settings`, a pydantic model" in errors
    assert len(reg.errors) == 3


def test_scaffold_creates_a_package_whose_stubs_fail_loudly(tmp_path):
    from typer.testing import CliRunner

    from hub.cli import app

    r = CliRunner().invoke(app, ["plugin", "new", "pennylane", "--kind", "connector",
                                 "--dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    root = tmp_path / "relance-pennylane"
    assert 'pennylane = "relance_pennylane"' in (root / "pyproject.toml").read_text()
    assert "ConnectorConformance" in (root / "tests" / "test_pennylane.py").read_text()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=120)
    assert "NotImplementedError: TODO: read customers and invoices from Pennylane" in out.stdout
    again = CliRunner().invoke(app, ["plugin", "new", "pennylane", "--kind", "connector",
                                     "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


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
    # Relance and its dependencies come from the project's environment (offline)
    (Path(site) / "_relance_parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    before = subprocess.run([str(py), "-m", "hub", "plugins", "--json"], capture_output=True,
                            text=True, timeout=120)
    assert "mailgun" not in before.stdout  # not there until installed
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", str(EXAMPLE)], check=True, timeout=300, cwd=tmp_path)
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
scenarios: {{standard: {{steps: [{{at: due+3d, channel: email, template: first_reminder}}]}}}}
assign: [{{scenario: standard}}]
""")
    run = subprocess.run([str(py), "-m", "hub", "run", "-w", str(ws), "--json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    summary = json.loads(run.stdout)
    assert summary["sent"] == 2, run.stderr
    assert sorted(m["to"] for m in fake.received) == ["alpha@example.com", "beta@example.com"]
    assert all("payment reminder" in m["subject"] for m in fake.received)
    fake.server.should_exit = True
