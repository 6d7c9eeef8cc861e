"""The console on a floor of about 5,000 live calls (the embedded
RingCentral's `load-5000` profile, ~1,000 events a second), in Debian's
Chromium at 1920x1080: the whole floor arrives, only the rows in view are
in the DOM, the header counts every live call, and a supervisor finds one
call by number or extension and acts on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import logged_in, screenshot
from tests.support.served import ServedApp, start_served_app

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
# A loaded two-core machine runs the floor, the worker and Chromium at once.
TIMEOUT_MS = 45_000
# On a machine this busy (Chromium beside a floor of 1,000 events/s), the
# worker can fall behind and lose events; once the floor holds still, the
# sweeper finds what was lost by comparing with presence every 30 s, within
# RingCentral's Heavy budget (one presence read of this 10,000-user account
# is a minute's budget), so the console converges within a few minutes.
CONVERGE_MS = 180_000
THOUSANDS = re.compile(r"^([2-9]\d{3}|\d{5,})$")  # 2,000 or more
# Rows in the DOM at 1920x1080: about 30 in view plus the overscan.
MAX_ROWS_IN_DOM = 80


@pytest.fixture(scope="module", autouse=True)
def patient_assertions() -> Iterator[None]:
    """expect(...) waits up to TIMEOUT_MS in this module (5 s elsewhere)."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    # The directory as an earlier run left it (the worker's own sync of
    # 10,000 extensions takes minutes at RingCentral's paging pace).
    app = start_served_app(
        tmp_path_factory.mktemp("served"), profile="load-5000", seed_directory=True
    )
    yield app
    app.stop()


async def pause_floor(sim: httpx.AsyncClient, paused: bool = True) -> bool:
    """Pause (or resume) the generated floor; False when this simulator has
    no /_sim/floor yet (404)."""
    response = await sim.post("/_sim/floor", json={"paused": paused})
    if response.status_code == 404:
        return False
    assert response.is_success, response.text
    state = (await sim.get("/_sim/floor")).json()
    assert state["paused"] is paused, state
    return True


def count_of(text: str | None) -> int:
    """The number in "5,123 live calls"."""
    match = re.match(r"^([\d,]+) live calls?", text or "")
    assert match, text
    return int(match[1].replace(",", ""))


def has_extension_leg(session: dict[str, Any]) -> bool:
    """A live leg of an agent or a queue: what RingCentral's presence finds."""
    return any(
        p.get("extensionId") and p["status"]["code"] not in ("Disconnected", "Gone")
        for p in session["parties"]
    )


def talking_calls(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every call between one customer and one agent, both talking, not
    recorded nor muted: {id, customer (number), ext (agent's number)}."""
    found = []
    for session in sessions:
        live = [p for p in session["parties"] if p["status"]["code"] != "Disconnected"]
        agents = [p for p in live if p.get("extensionId")]
        customers = [p for p in live if not p.get("extensionId")]
        if (
            len(live) == 2
            and len(agents) == 1
            and len(customers) == 1
            and all(p["status"]["code"] == "Answered" for p in live)
            and not agents[0].get("recordings")
            and not agents[0]["muted"]
            and customers[0]["direction"] == "Outbound"  # an inbound call
        ):
            found.append(
                {
                    "id": session["id"],
                    "customer": customers[0]["from"]["phoneNumber"],
                    # The simulated account's extension ids are 1000000<number>.
                    "ext": agents[0]["extensionId"].removeprefix("1000000"),
                }
            )
    return found


async def test_the_whole_floor_arrives_with_only_the_rows_in_view_in_the_dom(
    served: ServedApp,
):
    async with async_playwright() as p:
        browser, page = await logged_in(p, served, viewport=FULL_HD)
        page.set_default_timeout(TIMEOUT_MS)
        floor = page.get_by_role("table", name="Live calls")
        await expect(floor).to_have_attribute("aria-rowcount", THOUSANDS)
        await expect(floor).to_have_attribute("data-layout", "rows")
        rows = page.locator('[role="row"]')
        assert 20 <= await rows.count() <= MAX_ROWS_IN_DOM
        # Without a search, the grid shows every live call the header counts.
        shown = int(await floor.get_attribute("aria-rowcount") or 0)
        assert (
            abs(count_of(await page.locator("#call-count").text_content()) - shown)
            < 300
        )
        await expect(rows.first).to_have_attribute("aria-rowindex", "1")

        # Half-way down: rows from the middle of the floor, still few.
        await floor.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
        await expect(rows.first).not_to_have_attribute("aria-rowindex", "1")
        assert int(await rows.first.get_attribute("aria-rowindex") or 0) > 500
        assert await rows.count() <= MAX_ROWS_IN_DOM
        await browser.close()


async def test_the_header_counts_every_live_call(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=30) as sim,
    ):
        browser, page = await logged_in(p, served, viewport=FULL_HD)
        page.set_default_timeout(TIMEOUT_MS)
        await expect(page.get_by_role("table", name="Live calls")).to_have_attribute(
            "aria-rowcount", THOUSANDS
        )
        try:
            if not await pause_floor(sim):
                pytest.skip("the simulator has no /_sim/floor yet (404): pending")
            # Paused, nothing changes: the console must settle on RingCentral's
            # count: every call an API client can find, and no call that is
            # not live. (A call left with only its caller's leg, all of whose
            # events a loaded machine lost, is found by no RingCentral read:
            # presence lists extensions' calls. docs/architecture.md "Known
            # limits".)
            sessions = (await sim.get("/_sim/state")).json()["sessions"]
            floor_state = (await sim.get("/_sim/floor")).json()
            assert floor_state["liveCalls"] == len(sessions)
            findable = sum(1 for s in sessions if has_extension_leg(s))
            shown = await page.wait_for_function(
                r"""([low, high]) => {
                    const text = document.getElementById("call-count")?.textContent;
                    const m = /^([\d,]+) live calls?/.exec(text || "");
                    const n = m ? Number(m[1].replace(/,/g, "")) : -1;
                    const rows = Number(document.querySelector('[role="table"]')
                        ?.getAttribute("aria-rowcount"));
                    return n >= low && n <= high && rows === n ? n : null;
                }""",
                arg=[findable, len(sessions)],
                timeout=CONVERGE_MS,
            )
            assert findable <= await shown.json_value() <= len(sessions)
        finally:
            await pause_floor(sim, False)
            await browser.close()


async def test_find_a_call_by_number_and_by_extension_then_hold_it(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=30) as sim,
    ):
        browser, page = await logged_in(p, served, viewport=FULL_HD)
        page.set_default_timeout(TIMEOUT_MS)
        floor = page.get_by_role("table", name="Live calls")
        # The floor first grows to thousands of calls, then holds still, so
        # the call picked below cannot end mid-test.
        await expect(floor).to_have_attribute("aria-rowcount", THOUSANDS)
        paused = await pause_floor(sim)
        try:
            if not paused:
                # No pause yet: a call of our own that talks for ten minutes
                # stands in for one the churning floor might end mid-test.
                created = await sim.post(
                    "/_sim/calls",
                    json={
                        "scenario": "inbound",
                        "auto_answer": False,
                        "talk_seconds": 600,
                    },
                )
                placed = created.json()["telephonySessionId"]
                await sim.post(f"/_sim/calls/{placed}/phone", json={"action": "answer"})
            sessions = (await sim.get("/_sim/state")).json()["sessions"]
            if not paused:
                sessions = [s for s in sessions if s["id"] == placed]
            # A talking call the console shows as RingCentral has it (the
            # exact count is the test above's: here one call will do).
            candidates = talking_calls(sessions)
            held = await page.wait_for_function(
                """calls => {
                    const store = window.switchboard?.store;
                    const found = store ? calls.filter((c) => {
                        const call = store.get(c.id);
                        return call && call.customer?.number === c.customer
                            && call.agent?.status === "Answered";
                    }) : [];
                    return found.length ? found : null;
                }""",
                arg=candidates,
                timeout=CONVERGE_MS,
            )
            call = (await held.json_value())[0]
            row = page.locator(f'[data-session-id="{call["id"]}"]')
            search = page.get_by_label("Search calls")
            await screenshot(page, "floor-load-5000-rows")  # the full floor

            # By the customer's number.
            await search.fill(call["customer"])
            await expect(row).to_be_visible()
            await expect(row.locator(".customer")).to_contain_text(call["customer"])
            await expect(floor).to_have_attribute("aria-rowcount", re.compile(r"^\d$"))
            await expect(page.locator("#call-count")).to_contain_text(" shown")

            # By the agent's extension number (from the extension directory).
            await search.fill(call["ext"])
            await expect(row).to_be_visible()
            await expect(row.locator(".agent")).to_contain_text(f"(ext {call['ext']})")
            await expect(floor).to_have_attribute(
                "aria-rowcount", re.compile(r"^\d{1,2}$")
            )
            await expect(page).to_have_url(re.compile(rf"\?q={call['ext']}$"))
            await screenshot(page, "floor-load-5000-search")

            # The buttons inside its row act on it.
            await row.get_by_role("button", name="Hold").click()
            await expect(row.get_by_role("button", name="Unhold")).to_be_visible()
            await expect(row.locator(".state")).to_have_text("On hold")
            await row.get_by_role("button", name="Unhold").click()
            await expect(row.get_by_role("button", name="Hold")).to_be_visible()
            await expect(row.locator(".state")).to_have_text("Talking")

            # The search is in the address: a reload keeps it.
            await page.reload()
            await expect(page.locator("#worker-status")).to_have_text("Live")
            await expect(page.get_by_label("Search calls")).to_have_value(call["ext"])
            await expect(row).to_be_visible()
        finally:
            if paused:
                await pause_floor(sim, False)
            await browser.close()
