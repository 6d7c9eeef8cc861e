"""Floor replay in Chromium, as a supervisor reviewing an incident would:
a call held from the console and hung up, then the console replaying that
minute from the call journal: the call on hold at the moment chosen, no
buttons, and the call ending when played at 60x."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import logged_in, screenshot
from tests.support.served import ServedApp, start_served_app

pytestmark = pytest.mark.browser

# Sets window.journaled once the journal shows the call held at `at` and
# gone now (Playwright's wait_for_function does not await a promise).
JOURNALED = """([at, id]) => {
    const floor = async (ms) =>
        (await (await fetch(`/replay/floor.json?at=${ms}`)).json()).calls;
    const check = async () => {
        const held = (await floor(at)).some((c) => c.id === id && c.state === "held");
        const gone = !(await floor(Date.now())).some((c) => c.id === id);
        if (held && gone) window.journaled = true;
        else setTimeout(check, 200);
    };
    check();
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(tmp_path_factory.mktemp("replay"), seed_directory=True)
    yield app
    app.stop()


async def test_a_held_call_is_replayed_held_and_then_ends(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        created = await sim.post(
            "/_sim/calls",
            json={"scenario": "inbound", "auto_answer": False, "talk_seconds": None},
        )
        session_id = str(created.json()["telephonySessionId"])
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
        card = page.locator(f'[data-session-id="{session_id}"]')
        await card.get_by_role("button", name="Hold").click()
        await expect(card.get_by_role("button", name="Unhold")).to_be_visible()
        held_at = await page.evaluate("() => Date.now()")
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})
        await expect(card).to_have_count(0)

        # The journal is written behind the live path, within a second or
        # two: wait (bounded) until it holds the call's hold and its end.
        await page.evaluate(JOURNALED, [held_at, session_id])
        await page.wait_for_function("() => window.journaled === true")
        await page.goto(f"{served.url}/replay/?at={held_at}")
        await expect(page.locator("#worker-status")).to_have_text("Replay paused")
        replayed = page.locator(f'[data-session-id="{session_id}"]')
        await expect(replayed).to_contain_text("On hold")
        await expect(replayed.get_by_role("button", name="Unhold")).to_have_count(0)
        await expect(page.locator(".replay-time")).not_to_be_empty()
        await screenshot(page, "replay")

        await page.locator(".replay-speed").select_option("60")
        await page.get_by_role("button", name="Play").click()
        await expect(page.locator("#worker-status")).to_have_text("Replay 60\u00d7")
        await expect(replayed).to_have_count(0)  # the hang-up, replayed
        await browser.close()
