"""The console as a supervisor sees it on a small floor, in Debian's
Chromium: cards, the buttons and their outcomes, search and layout in the
address bar."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, logged_in, screenshot
from tests.support.served import ServedApp, start_served_app

# tests/scaled imports these from here.
__all__ = ["CHROMIUM", "CHROMIUM_ARGS"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(tmp_path_factory.mktemp("served"))
    yield app
    app.stop()


async def place_call(sim: httpx.AsyncClient, answer: bool = False, **body) -> str:
    created = await sim.post("/_sim/calls", json={"scenario": "inbound", **body})
    assert created.status_code == 201, created.text
    session_id = str(created.json()["telephonySessionId"])
    if answer:
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
    return session_id


async def test_supervisor_sees_a_live_call_and_holds_it(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)

        session_id = await place_call(sim)
        card = page.locator(f'[data-session-id="{session_id}"]')
        await expect(card).to_be_visible()
        # A small floor is shown as cards, in a table of live calls.
        floor = page.get_by_role("table", name="Live calls")
        await expect(floor).to_have_attribute("data-layout", "cards")
        await expect(floor).to_have_attribute("aria-rowcount", "1")
        await expect(page.locator("#call-count")).to_have_text("1 live call")
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})

        await card.get_by_role("button", name="Hold").click()
        await expect(card.get_by_role("button", name="Unhold")).to_be_visible()
        await expect(card.locator(".state")).to_have_text("On hold")

        await card.get_by_role("button", name="Unhold").click()
        # exact: a name matches by substring, and "Unhold" contains "hold"
        hold = card.get_by_role("button", name="Hold", exact=True)
        await expect(hold).to_be_visible()

        await card.get_by_role("button", name="Mute").click()
        await expect(card.locator(".flags")).to_contain_text("Muted")
        await card.get_by_role("button", name="Record").click()
        await expect(card.locator(".flags")).to_contain_text("● Recording")
        await card.get_by_role("button", name="Pause rec").click()
        await expect(card.locator(".flags")).to_contain_text("Recording paused")
        await expect(card.get_by_role("button", name="Resume rec")).to_be_visible()

        await card.get_by_role("button", name="Transfer").click()
        await card.get_by_label("Transfer to").fill("103")
        await card.get_by_role("button", name="Transfer now").click()
        # The agent's leg leaves; extension 103 now rings for the customer.
        leg = card.locator(".parties li", has_text="Carmen Ortiz")
        await expect(leg).to_contain_text("— Proceeding")

        await card.get_by_role("button", name="End").click()
        # End asks first (it ends the customer's call for everyone).
        await page.get_by_role("dialog").get_by_role("button", name="End").click()
        await expect(card).to_have_count(0)
        await expect(page.locator("#call-count")).to_have_text("0 live calls")
        await expect(page.get_by_text("No live calls.")).to_be_visible()
        await browser.close()


async def test_a_refused_command_is_explained_with_ringcentrals_code(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        session_id = await place_call(sim, auto_answer=False)
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
        # Said once more where every message that is not a call's goes.
        await expect(page.locator("#notice")).to_contain_text(
            "The call or party no longer exists"
        )
        await expect(hold).to_be_enabled()
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})
        await expect(card).to_have_count(0)
        await browser.close()


async def test_search_and_layout_live_in_the_address_bar(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(
            p, served, viewport={"width": 1280, "height": 800}
        )
        talking = {"auto_answer": False, "answer": True}
        calls = {
            "+14155550101": await place_call(
                sim, customer="+14155550101", customerName="Dana Scully", **talking
            ),
            "+14155550202": await place_call(
                sim,
                customer="+14155550202",
                customerName="Fox Mulder",
                record=True,
                **talking,
            ),
            "+14155550303": await place_call(
                sim, scenario="queue", auto_answer=False, customer="+14155550303"
            ),
        }
        held = await place_call(
            sim, customer="+14155550404", customerName="Walter S", **talking
        )
        await sim.post(f"/_sim/calls/{held}/phone", json={"action": "hold"})
        floor = page.get_by_role("table", name="Live calls")
        await expect(floor).to_have_attribute("aria-rowcount", "4")
        await expect(page.locator(f'[data-session-id="{held}"] .state')).to_have_text(
            "On hold"
        )
        await screenshot(page, "small-floor-cards")

        search = page.get_by_label("Search calls")
        await search.fill("scully")
        await expect(floor).to_have_attribute("aria-rowcount", "1")
        await expect(
            page.locator(f'[data-session-id="{calls["+14155550101"]}"]')
        ).to_be_visible()
        await expect(page.locator("#call-count")).to_have_text("4 live calls · 1 shown")
        await expect(page).to_have_url(re.compile(r"\?q=scully$"))
        # A number typed the way people write it finds the E.164 one.
        await search.fill("(415) 555-0202")
        await expect(floor).to_have_attribute("aria-rowcount", "1")
        await expect(
            page.locator(f'[data-session-id="{calls["+14155550202"]}"]')
        ).to_be_visible()

        await page.get_by_role("radio", name="Rows").check()
        await expect(floor).to_have_attribute("data-layout", "rows")
        await expect(page).to_have_url(re.compile(r"layout=rows"))
        row = page.locator(f'[data-session-id="{calls["+14155550202"]}"]')
        await expect(row).to_have_attribute("role", "row")
        await expect(row).to_have_attribute("aria-rowindex", "1")
        await expect(row.locator(".flags")).to_have_text("● Recording")

        await page.go_back()  # the layout was a choice: back undoes it
        await expect(floor).to_have_attribute("data-layout", "cards")
        await page.reload()  # the search survives a reload
        await expect(page.locator("#worker-status")).to_have_text("Live")
        await expect(page.get_by_label("Search calls")).to_have_value("(415) 555-0202")
        await expect(floor).to_have_attribute("aria-rowcount", "1")
        await page.get_by_label("Search calls").fill("")
        await expect(floor).to_have_attribute("aria-rowcount", "4")
        for session_id in [*calls.values(), held]:
            await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})
        await expect(floor).to_have_attribute("aria-rowcount", "0")
        await browser.close()
