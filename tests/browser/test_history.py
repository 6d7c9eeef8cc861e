"""Call history in Debian's Chromium against the embedded RingCentral: the
demo supervisor holds a live call from the console, the call ends, and
History finds it by number; its page shows the hold in the timeline and
the Hold command with its outcome.

A month of earlier calls is written into the history before serving (as
the worker's history writer would have), so the list has pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.browser import logged_in, screenshot
from tests.support.served import ServedApp, start_served_app

pytestmark = pytest.mark.browser

CUSTOMER, CUSTOMER_NAME = "+14155557788", "Dana Whitfield"
SETUP = """
import random
from datetime import timedelta
from django.utils import timezone
from telephony.models import CallRecord, Extension

rng = random.Random(3)
agents = list(Extension.objects.filter(type="User").order_by("extension_number")[:8])
queues = ["Sales", "Support", "Billing"]
names = ["WIRELESS CALLER", "Maria Lopez", "Chen Wei", "", "Olu Adeyemi", "Sam Patel"]
results = ["answered"] * 6 + ["missed", "abandoned", "voicemail", "transferred"]
now = timezone.now()
for i in range(60):
    started = now - timedelta(minutes=7 * i + 5, seconds=rng.randint(0, 59))
    agent = agents[i % len(agents)]
    result = rng.choice(results)
    answered = result in ("answered", "transferred")
    ring = rng.uniform(2, 35)
    talk = rng.uniform(40, 700) if answered else 0.0
    holds = rng.choice([0, 0, 1, 2]) if answered else 0
    CallRecord.objects.create(
        telephony_session_id=f"s-history-{i:03d}",
        direction=rng.choice(["Inbound", "Inbound", "Outbound"]),
        started_at=started,
        answered_at=started + timedelta(seconds=ring) if answered else None,
        ended_at=started + timedelta(seconds=ring + talk),
        ring_seconds=ring, talk_seconds=talk,
        hold_seconds=holds * rng.uniform(10, 60), hold_count=holds,
        agent_extension_id=agent.extension_id, agent_name=agent.name,
        customer_number="+1415555%04d" % rng.randint(0, 9999),
        customer_name=rng.choice(names),
        queue_name=rng.choice(queues),
        recordings=["rec-%d" % i] if answered and i % 3 == 0 else [],
        result=result,
        final_reason={"missed": "QueueTimeout", "abandoned": "CallerHungUp",
                      "voicemail": "Voicemail", "transferred": "BlindTransfer"}
                     .get(result, "CallerHungUp"),
        last_seen_at=started, ended=True,
    )
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(
        tmp_path_factory.mktemp("served"), seed_directory=True, setup=SETUP
    )
    yield app
    app.stop()


async def reload_until(page: Any, url: str, locator: Any, *, within: float = 20.0):
    """Open `url` again until `locator` shows (the history and the journal
    are written behind the live path, every second or two): each attempt
    awaits a full page load, bounded by `within` seconds in all."""
    deadline = time.monotonic() + within
    while True:
        await page.goto(url)
        if await locator.count():
            return
        assert time.monotonic() < deadline, f"{url} never showed {locator}"


async def test_a_held_call_is_found_in_history_with_its_hold_and_command(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(
            p, served, viewport={"width": 1600, "height": 900}
        )
        created = await sim.post(
            "/_sim/calls",
            json={
                "scenario": "queue",
                "queue": "201",
                "agent": "102",
                "customer": CUSTOMER,
                "customerName": CUSTOMER_NAME,
                "auto_answer": False,
                "talk_seconds": None,
            },
        )
        assert created.status_code == 201, created.text
        session_id = str(created.json()["telephonySessionId"])
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})

        card = page.locator(f'[data-session-id="{session_id}"]')
        await card.get_by_role("button", name="Hold").click()
        await expect(card.locator(".state")).to_have_text("On hold")
        await card.get_by_role("button", name="Unhold").click()
        # exact: a name matches by substring, and "Unhold" contains "hold"
        hold = card.get_by_role("button", name="Hold", exact=True)
        await expect(hold).to_be_visible()
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})
        await expect(card).to_have_count(0)

        # History, from the console's top bar, finds it by part of its number.
        await page.get_by_role("link", name="History").click()
        await expect(page).to_have_url(f"{served.url}/history/")
        await expect(page.get_by_role("heading", name="Call history")).to_be_visible()
        await page.get_by_label("Number").fill("555 7788")
        await page.get_by_role("button", name="Search").click()
        await expect(page).to_have_url(re.compile(r"/history/\?number=555\+7788"))
        row = page.locator(f'tr[data-session-id="{session_id}"]')
        await reload_until(page, page.url, row)
        await expect(page.locator("table.history tbody tr")).to_have_count(1)
        await expect(row).to_contain_text(CUSTOMER)
        await expect(row).to_contain_text(CUSTOMER_NAME)
        await expect(row).to_contain_text("Sales")
        export = page.get_by_role("link", name="Export CSV")
        await expect(export).to_have_attribute("href", "export.csv?number=555+7788")

        # Its page: the hold in the timeline, the Hold command and its outcome.
        await row.get_by_role("link").click()
        await expect(page).to_have_url(f"{served.url}/history/{session_id}/")
        timeline = page.get_by_role("list", name="Timeline")
        await reload_until(page, page.url, timeline.locator(".tl-ended"))
        hold = timeline.locator(".tl-hold")
        await expect(hold).to_have_count(1)
        await expect(hold).to_contain_text("Answered → Hold (on hold)")
        await expect(hold).to_contain_text("Bob Builder (ext 102)")
        await expect(timeline.locator(".tl-unhold")).to_contain_text("(off hold)")
        command = timeline.locator(".tl-command", has_text=re.compile(r": Hold\s+→"))
        await expect(command).to_contain_text(served.username)
        await expect(command.locator(".outcome")).to_have_text("accepted")
        await expect(page.locator(".badge")).to_have_text("ended")
        await screenshot(page, "history-call")

        await page.goto(f"{served.url}/history/")
        await expect(page.locator("table.history tbody tr")).to_have_count(50)
        await screenshot(page, "history-list")
        await page.get_by_role("link", name="Older").click()
        await expect(page.locator("table.history tbody tr")).to_have_count(11)
        await browser.close()
