"""The supervisor's floor in Debian's Chromium against the embedded
RingCentral: the queue view and the agent board as the platform has them,
filters in the address bar, an alert shared by two supervisors and fixed
from its button, Listen then Mute, two supervisors seeing each other, End's
confirmation, and STALE while the RingCentral link is down.

Thresholds are short here (a hold or DND alerts after 2 s), set in the database
before serving as an administrator would in the admin site."""

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

SECOND_USER, SECOND_PASSWORD = "bob", "bob-supervises-too"
ROLE_USER, ROLE_PASSWORD = "vic", "vic-changes-roles"
ADMIN_USER, ADMIN_PASSWORD = "ada", "ada-administers-it"
SETUP = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from telephony.models import QueueSettings
QueueSettings.objects.update_or_create(
    queue_extension_id="",
    defaults={{"long_hold_seconds": 2, "dnd_too_long_seconds": 2}},
)
bob = get_user_model().objects.create_user(
    {SECOND_USER!r}, password={SECOND_PASSWORD!r}, is_staff=True
)
bob.groups.add(Group.objects.get(name="Supervisor"))
vic = get_user_model().objects.create_user({ROLE_USER!r}, password={ROLE_PASSWORD!r})
vic.groups.add(Group.objects.get(name="Supervisor"))
get_user_model().objects.create_superuser({ADMIN_USER!r}, password={ADMIN_PASSWORD!r})
"""
PRESENCE = {
    "available": "Available",
    "away": "Away",
    "dnd": "Do not disturb",
    "offline": "Offline",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(
        tmp_path_factory.mktemp("served"), seed_directory=True, setup=SETUP
    )
    yield app
    app.stop()


def availability(record: dict[str, Any]) -> str:
    """RingCentral's presence in the supervisor's words (what the board
    shows; telephony/live/agents.py)."""
    if "Offline" in (record["presenceStatus"], record["userStatus"]):
        return "offline"
    if record["dndStatus"] in (
        "DoNotAcceptAnyCalls",
        "DoNotAcceptDepartmentCalls",
    ):
        return "dnd"
    return "away" if record["userStatus"] == "Busy" else "available"


async def place_call(sim: httpx.AsyncClient, answer: bool = False, **body) -> str:
    body = {"scenario": "inbound", "auto_answer": False, "talk_seconds": None, **body}
    created = await sim.post("/_sim/calls", json=body)
    assert created.status_code == 201, created.text
    session_id = str(created.json()["telephonySessionId"])
    if answer:
        answered = await sim.post(
            f"/_sim/calls/{session_id}/phone", json={"action": "answer"}
        )
        assert answered.is_success, answered.text
    return session_id


async def hang_up(sim: httpx.AsyncClient, session_id: str) -> None:
    await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "hangup"})


async def sim_session(sim: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    sessions = (await sim.get("/_sim/state")).json()["sessions"]
    return next(s for s in sessions if s["id"] == session_id)


async def test_queue_and_agent_views_follow_the_embedded_ringcentral(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served, path="/?view=agents")
        await expect(page.get_by_role("link", name="Agents")).to_have_attribute(
            "aria-current", "page"
        )
        records = (await sim.get("/_sim/agents")).json()["records"]
        for record in records:
            row = page.locator(f'.agent-row[data-ext="{record["extensionId"]}"]')
            await expect(row.locator(".a-name")).to_have_text(
                f"{record['name']} (ext {record['extensionNumber']})"
            )
            await expect(row.locator(".a-presence")).to_contain_text(
                PRESENCE[availability(record)]
            )
            queues = ", ".join(q["name"] for q in record["queues"])
            await expect(row.locator(".a-queues")).to_have_text(queues)

        # Presence changes arrive as RingCentral's presence notifications.
        row = page.locator('.agent-row[data-ext="1000000104"]')
        await sim.post(
            "/_sim/agents/104/presence", json={"dndStatus": "DoNotAcceptAnyCalls"}
        )
        await expect(row.locator(".a-presence")).to_contain_text("Do not disturb")
        await sim.post(
            "/_sim/agents/104/presence",
            json={"userStatus": "Busy", "dndStatus": "TakeAllCalls"},
        )
        await expect(row.locator(".a-presence")).to_contain_text("Away")
        await sim.post("/_sim/agents/104/presence", json={"userStatus": "Available"})
        await expect(row.locator(".a-presence")).to_contain_text("Available")

        # A caller waits in Sales while agent 102 rings.
        session_id = await place_call(sim, scenario="queue", queue="201", agent="102")
        agent_row = page.locator('.agent-row[data-ext="1000000102"]')
        await expect(agent_row.locator(".a-call")).to_have_text("Ringing")

        await page.get_by_role("link", name="Queues").click()
        await expect(page).to_have_url(re.compile(r"\?view=queues$"))
        sales = page.locator('#queues-view tr[data-queue="1000000201"]')
        await expect(sales.locator("th")).to_have_text("Sales")
        cells = sales.locator("td")
        await expect(cells.nth(0)).to_have_text("1")  # waiting
        await expect(cells.nth(1)).to_have_text(re.compile(r"^\d\d:\d\d$"))
        records = (await sim.get("/_sim/agents")).json()["records"]
        members = [r for r in records if any(q["name"] == "Sales" for q in r["queues"])]
        busy = [r for r in members if r["telephonyStatus"] != "NoCall"]
        available = [
            r for r in members if r not in busy and availability(r) == "available"
        ]
        await expect(cells.nth(2)).to_have_text(str(len(available)))
        await expect(cells.nth(3)).to_have_text(str(len(busy)))
        await expect(cells.nth(4)).to_have_text(
            str(len(members) - len(busy) - len(available))
        )
        await screenshot(page, "queues")

        # Answered: nobody waits any more.
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
        await expect(cells.nth(0)).to_have_text("0")
        await expect(cells.nth(1)).to_have_text("—")

        # From the agent board, an agent's call opens on the floor.
        await page.get_by_role("link", name="Agents").click()
        await agent_row.get_by_role("button", name="Talking").click()
        await expect(page).to_have_url(re.compile(r"agent=1000000102"))
        card = page.locator(f'[data-session-id="{session_id}"]')
        await expect(card).to_have_class(re.compile(r"\bselected\b"))
        await expect(page.locator("#detail")).to_be_visible()
        await expect(page.locator("#detail .detail-legs")).to_contain_text(
            "Bob Builder (ext 102)"
        )
        await hang_up(sim, session_id)
        await expect(page.locator("#detail .detail-title")).to_have_text(
            "This call has ended."
        )
        await browser.close()


async def test_filters_sort_and_grouping_live_in_the_address_bar(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        talking = await place_call(sim, agent="103", answer=True)
        waiting = await place_call(sim, scenario="queue", queue="202", agent="107")
        talking_card = page.locator(f'[data-session-id="{talking}"]')
        waiting_card = page.locator(f'[data-session-id="{waiting}"]')
        await expect(talking_card).to_be_visible()
        await expect(waiting_card).to_be_visible()

        await page.get_by_label("State", exact=True).select_option("waiting")
        await expect(page).to_have_url(re.compile(r"\?state=waiting$"))
        await expect(talking_card).to_have_count(0)
        await expect(waiting_card).to_be_visible()
        await page.get_by_label("Group", exact=True).select_option("queue")
        await expect(page).to_have_url(re.compile(r"state=waiting&group=queue$"))
        await expect(page.locator(".group-head")).to_have_text("Support · 1 call")

        # A reload keeps the view; the back button undoes the last choice.
        await page.reload()
        await expect(page.get_by_label("State", exact=True)).to_have_value("waiting")
        await expect(page.get_by_label("Group", exact=True)).to_have_value("queue")
        await expect(page.locator(".group-head")).to_have_text("Support · 1 call")
        await page.go_back()
        await expect(page).to_have_url(re.compile(r"\?state=waiting$"))
        await expect(page.get_by_label("Group", exact=True)).to_have_value("")
        await expect(page.locator(".group-head")).to_have_count(0)

        await page.get_by_role("button", name="Clear filters").click()
        await expect(talking_card).to_be_visible()
        await expect(waiting_card).to_be_visible()
        await page.get_by_label("Direction", exact=True).select_option("Outbound")
        await expect(page.locator("#empty")).to_have_text(
            "No live calls match these filters."
        )
        await hang_up(sim, talking)
        await hang_up(sim, waiting)
        await browser.close()


async def test_an_alert_is_shared_acknowledged_and_fixed_from_its_button(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        other, bob = await logged_in(
            p, served, username=SECOND_USER, password=SECOND_PASSWORD
        )
        session_id = await place_call(sim, agent="104", answer=True)
        card = page.locator(f'[data-session-id="{session_id}"]')
        await card.get_by_role("button", name="Hold").click()
        await expect(card.locator(".state")).to_have_text("On hold")

        # Held past the threshold (2 s here): both consoles show the alert.
        alert = page.locator("#alerts .alert", has_text="Long hold")
        bobs_alert = bob.locator("#alerts .alert", has_text="Long hold")
        await expect(alert).to_contain_text("Deepak Rao (ext 104)")
        await expect(bobs_alert).to_be_visible()
        await expect(card).to_have_class(re.compile(r"\balerted\b"))
        await expect(card.locator(".flags")).to_contain_text("⚠ Long hold")
        await screenshot(page, "floor-alert-light")

        await alert.get_by_role("button", name="Acknowledge").click()
        await expect(bobs_alert).to_contain_text(
            f"Acknowledged by {served.username} at"
        )
        await expect(
            bobs_alert.get_by_role("button", name="Acknowledge")
        ).to_have_count(0)

        # Bob fixes it: Unhold from the alert.
        await bobs_alert.get_by_role("button", name="Unhold").click()
        await expect(card.locator(".state")).to_have_text("Talking")
        await expect(alert).to_have_count(0)
        await expect(bobs_alert).to_have_count(0)
        session = await sim_session(sim, session_id)
        agent = next(
            p for p in session["parties"] if p.get("extensionId") == "1000000104"
        )
        assert agent["status"]["code"] == "Answered"
        await hang_up(sim, session_id)
        await other.close()
        await browser.close()


async def test_an_agent_on_dnd_too_long_is_marked_and_shown_from_the_alert(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        await sim.post(
            "/_sim/agents/110/presence", json={"dndStatus": "DoNotAcceptAnyCalls"}
        )
        alert = page.locator("#alerts .alert", has_text="DND too long")
        await expect(alert).to_contain_text("Jamal Wright (ext 110)")
        await alert.get_by_role("button", name="Show agent").click()
        await expect(page).to_have_url(re.compile(r"view=agents"))
        row = page.locator('.agent-row[data-ext="1000000110"]')
        await expect(row).to_have_class(re.compile(r"\bhighlight\b"))
        await expect(row.locator(".a-presence")).to_have_text(
            "⊘ Do not disturb · ⚠ too long"
        )
        # Back to taking calls: the alert clears everywhere.
        await sim.post("/_sim/agents/110/presence", json={"dndStatus": "TakeAllCalls"})
        await expect(alert).to_have_count(0)
        await expect(row.locator(".a-presence")).to_have_text("● Available")
        await browser.close()


async def test_listen_then_mute_mutes_the_agent_not_the_supervisor(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        session_id = await place_call(sim, agent="105", answer=True)
        card = page.locator(f'[data-session-id="{session_id}"]')
        await card.get_by_role("button", name="Listen").click()
        # The supervisor's leg is shown as such, not as the agent.
        await expect(card.locator(".parties")).to_contain_text("Listening in:")
        await expect(card.locator(".agent")).to_contain_text("(ext 105)")

        await card.get_by_role("button", name="Mute").click()
        await expect(card.locator(".flags")).to_contain_text("Muted")
        session = await sim_session(sim, session_id)
        live = [p for p in session["parties"] if p["status"]["code"] != "Disconnected"]
        agent = next(p for p in live if p.get("extensionId") == "1000000105")
        monitor = next(p for p in live if p.get("extensionId") == "1000000101")
        assert agent["muted"] is True
        assert monitor["muted"] is False
        await hang_up(sim, session_id)
        await browser.close()


async def test_two_supervisors_see_each_other_on_a_call_and_end_asks_first(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        other, bob = await logged_in(
            p, served, username=SECOND_USER, password=SECOND_PASSWORD
        )
        session_id = await place_call(sim, agent="106", answer=True)
        card = page.locator(f'[data-session-id="{session_id}"]')
        bobs_card = bob.locator(f'[data-session-id="{session_id}"]')

        await card.locator(".who").click()  # opens the call
        await expect(page.locator("#detail")).to_be_visible()
        await expect(bobs_card.locator(".seen")).to_have_text(f"👁 {served.username}")
        await bobs_card.locator(".who").click()
        await expect(page.locator("#detail .detail-seen")).to_have_text(
            f"Also on this call: {SECOND_USER}"
        )
        await expect(card.locator(".seen")).to_have_text(f"👁 {SECOND_USER}")
        # Each button says which call it acts on; its name stays short.
        await expect(
            card.get_by_role("button", name="Hold")
        ).to_have_accessible_description(re.compile(r"\(ext 106\) with .*, talking$"))

        # End asks first; Cancel keeps the call.
        dialog = page.get_by_role("dialog")
        await card.get_by_role("button", name="End").click()
        await expect(dialog).to_contain_text("ends the call for everyone")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        await expect(card).to_be_visible()
        await card.get_by_role("button", name="End").click()
        await dialog.get_by_role("button", name="End").click()
        await expect(card).to_have_count(0)
        await expect(bobs_card).to_have_count(0)
        await other.close()
        await browser.close()


async def test_keyboard_shortcuts_and_dark_mode(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        session_id = await place_call(sim, agent="109", answer=True)
        # Only this agent's call (another test's may still be ending).
        await page.goto(f"{served.url}/?agent=1000000109")
        card = page.locator(f'[data-session-id="{session_id}"]')
        await expect(card.locator(".state")).to_have_text("Talking")

        await page.keyboard.press("?")
        shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
        await expect(shortcuts).to_contain_text("Hold or unhold the open call")
        await page.keyboard.press("Escape")
        await expect(shortcuts).to_be_hidden()

        await page.keyboard.press("j")  # the first call opens
        await expect(card).to_have_class(re.compile(r"\bselected\b"))
        await page.keyboard.press("h")
        await expect(card.locator(".state")).to_have_text("On hold")
        await page.keyboard.press("h")
        await expect(card.locator(".state")).to_have_text("Talking")
        await page.keyboard.press("/")
        await expect(page.get_by_label("Search calls")).to_be_focused()

        # Dark follows the system; the switch overrides it and is remembered.
        await page.emulate_media(color_scheme="dark")
        await screenshot(page, "floor-small-dark")
        theme = page.get_by_role("button", name=re.compile("^Colour scheme"))
        await theme.click()
        await expect(page.locator("html")).to_have_attribute("data-theme", "light")
        await page.reload()
        await expect(page.locator("html")).to_have_attribute("data-theme", "light")
        await hang_up(sim, session_id)
        await browser.close()


async def test_logging_out_in_another_tab_closes_the_console_at_once(
    served: ServedApp,
):
    async with async_playwright() as p:
        browser, page = await logged_in(p, served)
        # Another tab of the same login: the same session cookie.
        tab = await browser.new_context()
        await tab.add_cookies(await page.context.cookies())
        other = await tab.new_page()
        await other.goto(f"{served.url}/")
        await other.get_by_role("button", name="Log out").click()
        await expect(other.get_by_label("Username")).to_be_visible()
        # Within a second the console says so, stops, and offers nothing.
        await expect(page.locator("#worker-status")).to_have_text(
            "Signed out", timeout=2_000
        )
        await expect(page.locator("#notice")).to_contain_text("You logged out")
        await expect(page.locator("#stale")).to_contain_text("Your access ended")
        assert await page.evaluate("() => switchboard.store.connection") == "ended"
        await browser.close()


async def test_stale_while_the_ringcentral_link_is_down_and_clear_after(
    served: ServedApp,
):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(p, served)
        session_id = await place_call(sim, agent="108", answer=True)
        card = page.locator(f'[data-session-id="{session_id}"]')
        hold = card.get_by_role("button", name="Hold")
        await expect(hold).to_be_enabled()
        stale = page.locator("#stale")
        await expect(stale).to_be_hidden()

        # The link goes down and stays down: sockets cut, handshakes refused.
        refused = await sim.post(
            "/_sim/faults",
            json={
                "fault": "http_status",
                "status": 503,
                "count": 1_000_000,
                "path_prefix": "/ws",
            },
        )
        assert refused.is_success, refused.text
        dropped = await sim.post(
            "/_sim/faults", json={"fault": "drop_websockets", "recoverable": False}
        )
        assert dropped.is_success, dropped.text
        await expect(stale).to_be_visible(timeout=5_000)
        await expect(stale).to_contain_text("STALE")
        await expect(stale).to_contain_text("The link to RingCentral is down")
        await expect(page.locator("#freshness")).to_contain_text(
            "RingCentral link DOWN"
        )
        await expect(page.get_by_role("table", name="Live calls")).to_have_class(
            re.compile(r"\bstale\b")
        )
        await expect(hold).to_be_disabled()
        # Timers stand at the moment the floor went stale.
        assert await page.evaluate(
            "() => switchboard.floor._now() === switchboard.floor.frozenAt"
        )
        await screenshot(page, "floor-stale")

        # Back: the worker reconnects, resyncs, and the banner clears.
        cleared = await sim.delete("/_sim/faults")
        assert cleared.is_success, cleared.text
        await expect(stale).to_be_hidden(timeout=90_000)
        await expect(hold).to_be_enabled()
        await hang_up(sim, session_id)
        await browser.close()


async def test_a_role_changed_in_the_admin_redraws_the_open_console(
    served: ServedApp,
):
    """An administrator makes a Supervisor a Viewer in the admin site: the
    open console loses its buttons within a second, calls still shown;
    then takes every role away: the console stops and says why."""
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page = await logged_in(
            p, served, username=ROLE_USER, password=ROLE_PASSWORD
        )
        session_id = await place_call(sim, agent="109", answer=True)
        card = page.locator(f'[data-session-id="{session_id}"]')
        await expect(card.get_by_role("button", name="Hold")).to_be_visible()

        admin = await (await browser.new_context()).new_page()
        await admin.goto(f"{served.url}/admin/auth/user/?q={ROLE_USER}")
        await admin.get_by_label("Username").fill(ADMIN_USER)
        await admin.get_by_label("Password").fill(ADMIN_PASSWORD)
        await admin.get_by_role("button", name="Log in").click()
        await admin.get_by_role("link", name=ROLE_USER, exact=True).click()

        async def roles(names: list[str]) -> None:
            await admin.locator("#id_groups_remove_all").click()
            for name in names:
                await admin.locator("#id_groups_from").select_option(label=name)
                await admin.locator("#id_groups_add").click()
            await admin.get_by_role("button", name="Save and continue editing").click()
            await expect(admin.locator(".messagelist")).to_contain_text("changed")

        await roles(["Viewer"])
        await expect(card.get_by_role("button", name="Hold")).to_have_count(
            0, timeout=2_000
        )
        await expect(card).to_be_visible()  # still watching
        assert await page.evaluate("() => switchboard.text.canControl") is False

        await roles([])
        await expect(page.locator("#stale")).to_contain_text(
            "You may not watch the live floor", timeout=2_000
        )
        assert await page.evaluate("() => switchboard.store.connection") == "ended"
        await hang_up(sim, session_id)
        await browser.close()
