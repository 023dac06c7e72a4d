"""The dashboard in a real browser: headless Debian Chromium driven by Playwright, against
the app served by uvicorn on loopback. Each result is checked in the database; screenshots
go to $RELANCE_ARTIFACTS (default .artifacts/screenshots)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.demo.smtp import free_port
from hub.store.db import session
from hub.store.models import CaseState, Customer, Dispatch, Event
from tests.web.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; "
                             ".ci/run does it)")
SHOTS = Path(os.environ.get("RELANCE_ARTIFACTS", ".artifacts/screenshots"))


@pytest.fixture
def served(ws):
    import uvicorn

    from hub.web.app import dashboard

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(dashboard(ws), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page, base: str, user: str) -> None:
    page.goto(f"{base}/today")
    assert "/login" in page.url  # sent to sign in first
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/today")


def _dispatch(ws, customer: str) -> Dispatch:
    with session(ws.engine) as s:
        return s.execute(select(Dispatch).join(Customer, Customer.id == Dispatch.customer_id)
                         .where(Customer.name == customer)).scalars().one()


def test_an_approver_works_the_queue_and_an_account_in_the_browser(ws, served, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, served, "alice")
    _shot(page, "today")
    one, two = _dispatch(ws, "Customer C1"), _dispatch(ws, "Customer C2")
    page.click(f"#dispatch-{one.id} button[name=approve]")
    page.wait_for_selector("text=approved: it goes in the next send pass")
    page.fill(f"#dispatch-{two.id} input[name=reason]", "customer in talks with sales")
    page.click(f"#dispatch-{two.id} button[name=reject]")
    page.wait_for_selector(f"text=reminder {two.id} rejected")
    with session(ws.engine) as s:
        assert s.get(Dispatch, one.id).status == "approved"
        assert s.get(Dispatch, two.id).status == "cancelled"
        assert "rejected by alice: customer in talks with sales" in s.execute(
            select(Event.message).where(Event.dispatch_id == two.id)).scalars().all()

    # a promise on a customer, from its page
    page.click("nav >> text=Customers")
    page.fill("input[name=q]", "C3")
    page.click("text=Search")
    page.click("a:text('Customer C3')")
    until = dt.date.today() + dt.timedelta(days=6)
    form = page.locator("#case-form")
    form.locator("select[name=kind]").select_option("promise")
    form.locator("input[name=until]").fill(until.isoformat())
    form.locator("input[name=amount]").fill("8000.00")
    form.locator("input[name=reason]").fill("said on the phone")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=promise set")
    _shot(page, "customer")
    with session(ws.engine) as s:
        promise = s.execute(select(CaseState).where(CaseState.kind == "promise")).scalars().one()
    assert (promise.opened_by, promise.until, promise.amount) == ("alice", until, 8000)

    # a template previewed for that customer with their data
    page.click("nav >> text=Templates")
    page.select_option("select[name=template]", "first_reminder")
    page.fill("input[name=customer]", "Customer C3")
    page.click("text=Preview")
    text = page.locator("pre[data-text]").inner_text()
    assert "Customer C3" in text and "INV-3" in text
    _shot(page, "templates")
    page.click("nav >> text=Overview")
    page.wait_for_selector(".chart .uplot", timeout=5000)  # the vendored chart library drew
    _shot(page, "overview")
    page.click("nav >> text=Audit log")
    assert "approved by alice" in page.content()
    _shot(page, "audit")
