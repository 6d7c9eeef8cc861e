"""The walking skeleton as a supervisor sees it, in Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.served import ServedApp, start_served_app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
SCREENSHOTS = (
    Path(os.environ.get("SCREENSHOT_DIR", ""))
    if os.environ.get("SCREENSHOT_DIR")
    else None
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(tmp_path_factory.mktemp("served"))
    yield app
    app.stop()


async def logged_in(p: Any, served: ServedApp) -> tuple[Any, Any]:
    """Chromium, logged in as the demo supervisor, console live."""
    browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{served.url}/")
    await page.get_by_label("Username").fill(served.username)
    await page.get_by_label("Password").fill(served.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#worker-status")).to_have_text("Live")
    return browser, page


async def test_supervisor_sees_a_live_call_and_holds_it(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)

        created = await sim.post("/_sim/calls", json={"scenario": "inbound"})
        session_id = created.json()["telephonySessionId"]
        card = page.locator(f'[data-session-id="{session_id}"]')
        await expect(card).to_be_visible()
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})

        await card.get_by_role("button", name="Hold").click()
        await expect(card.get_by_role("button", name="Unhold")).to_be_visible()
        await expect(card.locator(".state")).to_have_text("On hold")
        if SCREENSHOTS:
            await page.screenshot(path=str(SCREENSHOTS / "console.png"))

        await card.get_by_role("button", name="Unhold").click()
        await expect(card.get_by_role("button", name="Hold")).to_be_visible()

        await card.get_by_role("button", name="Mute").click()
        await expect(card.locator(".flags")).to_contain_text("Muted")
        await card.get_by_role("button", name="Record").click()
        await expect(card.locator(".flags")).to_contain_text("Recording")
        await expect(card.get_by_role("button", name="Pause rec")).to_be_visible()

        await card.get_by_role("button", name="Transfer").click()
        await card.get_by_label("Transfer to").fill("103")
        await card.get_by_role("button", name="Transfer now").click()
        # The agent's leg leaves; extension 103 now rings for the customer.
        await expect(card.locator(".parties")).to_contain_text(
            "Carmen Ortiz (103) — Proceeding"
        )

        await card.get_by_role("button", name="End").click()
        await expect(card).to_have_count(0)
        await browser.close()


async def test_a_refused_command_is_explained_with_ringcentrals_code(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        created = await sim.post(
            "/_sim/calls", json={"scenario": "inbound", "auto_answer": False}
        )
        session_id = created.json()["telephonySessionId"]
        card = page.locator(f'[data-session-id="{session_id}"]')
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
        hold = card.get_by_role("button", name="Hold")
        await expect(hold).to_be_visible()
        # RingCentral refuses the next Call Control request with a 404 (as
        # when the call ends just before the click): plain words + its code.
        await sim.post(
            "/_sim/faults",
            json={
                "fault": "http_status",
                "status": 404,
                "count": 1,
                "path_prefix": "/restapi/v1.0/account/~/telephony/sessions",
            },
        )
        await hold.click()
        error = card.locator(".call-error")
        await expect(error).to_contain_text("The call or party no longer exists")
        await expect(error).to_contain_text("(CMN-120: Invalid URI)")
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})
        await expect(card).to_have_count(0)
        await browser.close()
