"""The live call wall in Debian's Chromium, as a TV runs it: opened with a
token and no login, numbers masked before they leave the server, a token
revoked in the admin site turning an open wall dark, STALE while the server
is away and recovery when it returns, a socket that takes no commands, and
a token that opens nothing but the wall.

Tokens are made before serving, as an administrator would in the admin
site (its secret is only known here: the database keeps the digest)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import async_playwright, expect

from tests.support import WAIT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, screenshot
from tests.support.served import ServedApp, start_served_app

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
WALL = "wall-token-sales-floor-0123456789abcdefghij"
LOBBY = "wall-token-lobby-tv-0123456789abcdefghijklm"
ADMIN_USER, ADMIN_PASSWORD = "ada", "ada-administers-it"
CUSTOMER = "+14155550199"
SETUP = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from dashboard.models import WallToken, hash_token
WallToken.objects.create(name="Sales floor TV", token_hash=hash_token({WALL!r}))
WallToken.objects.create(name="Lobby TV", token_hash=hash_token({LOBBY!r}))
ada = get_user_model().objects.create_user(
    {ADMIN_USER!r}, password={ADMIN_PASSWORD!r}, is_staff=True
)
ada.groups.add(Group.objects.get(name="Administrator"))
"""
# Collects Content-Security-Policy violations in every document.
CSP_WATCH = """
window.__violations = [];
addEventListener('securitypolicyviolation', (e) =>
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServedApp]:
    app = start_served_app(
        tmp_path_factory.mktemp("served"), seed_directory=True, setup=SETUP
    )
    yield app
    app.stop()


async def open_wall(p: Any, url: str, token: str) -> tuple[Any, Any, list[str]]:
    """Chromium at 1920x1080 with no login, on the wall; every WebSocket
    frame the page receives is kept."""
    browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = await browser.new_page(viewport=FULL_HD)
    page.set_default_timeout(TIMEOUT_MS)
    await page.add_init_script(CSP_WATCH)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # checked by the tests that fill the wall
    frames: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))),
    )
    response = await page.goto(f"{url}/wall/?token={token}")
    assert response is not None and response.status == 200
    await expect(page.locator("#wall-status")).to_have_text("Live")
    return browser, page, frames


async def place_call(sim: httpx.AsyncClient, **body: Any) -> str:
    body = {"scenario": "inbound", "auto_answer": False, "talk_seconds": None, **body}
    created = await sim.post("/_sim/calls", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["telephonySessionId"])


async def phone(sim: httpx.AsyncClient, session_id: str, action: str) -> None:
    done = await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": action})
    assert done.is_success, done.text


async def test_a_wall_opens_with_its_token_and_shows_calls_masked(served: ServedApp):
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=served.simulator_url, timeout=10) as sim,
    ):
        browser, page, frames = await open_wall(p, served.url, WALL)
        await expect(page.locator("#wall-name")).to_have_text("Sales floor TV")
        talking = await place_call(sim, agent="103", customer=CUSTOMER)
        await phone(sim, talking, "answer")
        waiting = await place_call(sim, scenario="queue", queue="201", agent="102")

        tile = page.locator(f'.tile[data-session-id="{talking}"]')
        await expect(tile).to_be_visible()
        await expect(tile.locator(".t-what")).to_have_text("Talking · …0199")
        await expect(tile.locator(".t-time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        queued = page.locator(f'.tile[data-session-id="{waiting}"]')
        await expect(queued).to_have_class(re.compile(r"\bwaiting\b"))
        await expect(page.locator('[data-count="live"]')).to_have_text("2")
        await expect(page.locator('[data-count="waiting"]')).to_have_text("1")
        await expect(page.locator("#longest-wait .longest-who")).to_have_text("Sales")
        sales = page.locator('.queue-tile[data-queue="1000000201"]')
        await expect(sales.locator(".q-waiting")).to_have_text("1 live")
        await expect(sales.locator(".q-wait")).to_have_text(
            re.compile(r"^1 waiting · \d\d:\d\d$")
        )
        await expect(page.locator("#wall-clock")).to_have_text(
            re.compile(r"^\d\d:\d\d:\d\d$")
        )
        await expect(page.locator("#wall-updated")).to_have_text(
            re.compile(r"^updated \d+ s ago$")
        )

        # No customer's whole number reaches the page, in its DOM or its frames.
        numbers = {CUSTOMER}
        for session in (await sim.get("/_sim/state")).json()["sessions"]:
            for party in session["parties"]:
                for end in ("from", "to"):
                    if not (party.get(end) or {}).get("extensionId"):
                        number = (party.get(end) or {}).get("phoneNumber")
                        if number and len(re.sub(r"\D", "", number)) > 4:
                            numbers.add(number)
        html = await page.content()
        received = "\n".join(frames)
        assert "…0199" in html and "…0199" in received
        for number in numbers:
            for form in (number, number.lstrip("+"), number[-10:]):
                assert form not in html, form
                assert form not in received, form
        assert await page.evaluate("window.__violations") == []
        assert await page.context.cookies() == []  # nobody logged in
        await phone(sim, talking, "hangup")
        await phone(sim, waiting, "hangup")
        await expect(tile).to_have_count(0)
        await browser.close()


async def test_a_wall_socket_takes_no_commands_and_the_token_opens_nothing_else(
    served: ServedApp,
):
    ws_url = served.url.replace("http", "ws", 1)
    origin = {"Origin": served.url}
    async with websockets.connect(
        f"{ws_url}/ws/wall/?token={WALL}", additional_headers=origin, max_size=2**22
    ) as ws:
        async with asyncio.timeout(WAIT):
            first = json.loads(await ws.recv())
            assert first["type"] == "wall" and first["masked"] is True
            command = {
                "type": "command",
                "requestId": "r1",
                "action": "end",
                "sessionId": "s-1",
                "partyId": "p-1",
            }
            for message in (command, {"type": "ack", "alertId": "long_hold:s-1"}):
                await ws.send(json.dumps(message))
                while (reply := json.loads(await ws.recv()))["type"] != "error":
                    pass
                assert (
                    reply["message"] == "This wall is read-only: it takes no commands."
                )
            await ws.send(json.dumps({"type": "resync"}))  # still up: it answers
            while json.loads(await ws.recv())["type"] != "snapshot":
                pass
    # The console's socket refuses the token: no session, no console.
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            f"{ws_url}/ws/console/?token={WALL}", additional_headers=origin
        ):
            pass
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
        for path in ("/", "/directory.json", "/admin/", "/admin/dashboard/walltoken/"):
            response = await http.get(path, params={"token": WALL})
            assert response.status_code == 302, path
            assert "login" in response.headers["location"], path
        bearer = await http.get("/metrics", headers={"Authorization": f"Bearer {WALL}"})
        assert bearer.status_code == 403
        wall = await http.get("/wall/", params={"token": WALL})
        assert wall.status_code == 200
        assert wall.headers["referrer-policy"] == "no-referrer"
        assert "sessionid" not in wall.cookies


async def test_a_token_revoked_in_the_admin_turns_its_open_wall_dark(
    served: ServedApp,
):
    async with async_playwright() as p:
        browser, page, _ = await open_wall(p, served.url, LOBBY)
        admin = await (await browser.new_context()).new_page()
        await admin.goto(f"{served.url}/admin/dashboard/walltoken/")
        await admin.get_by_label("Username").fill(ADMIN_USER)
        await admin.get_by_label("Password").fill(ADMIN_PASSWORD)
        await admin.get_by_role("button", name="Log in").click()
        row = admin.locator("#result_list tr", has_text="Lobby TV")
        await row.locator("input.action-select").check()
        await admin.locator("select[name=action]").select_option("revoke")
        await admin.get_by_role("button", name="Go", exact=True).click()
        await expect(admin.locator(".messagelist")).to_contain_text(
            "1 wall token revoked"
        )

        # Within seconds, the open wall is dark and says why; it stops.
        ended = page.locator("#wall-ended")
        await expect(ended).to_be_visible(timeout=5_000)
        await expect(ended).to_contain_text("This wall's link was revoked")
        await expect(page.locator("#wall")).to_be_hidden()
        assert await page.evaluate("() => switchboard.store.connection") == "ended"
        await screenshot(page, "wall-revoked")

        # Opened again, the link gets a page saying so, in plain words.
        response = await page.goto(f"{served.url}/wall/?token={LOBBY}")
        assert response is not None and response.status == 410
        await expect(page.locator("#refusal")).to_have_text(
            "This wall's link was revoked; ask an administrator for a new one."
        )
        # The other wall's link still opens.
        response = await page.goto(f"{served.url}/wall/?token={WALL}")
        assert response is not None and response.status == 200
        await browser.close()


async def test_stale_while_the_server_is_away_and_live_again_after(
    tmp_path: Path,
):
    app = start_served_app(tmp_path, seed_directory=True, setup=SETUP)
    try:
        async with async_playwright() as p:
            browser, page, _ = await open_wall(p, app.url, WALL)
            stale = page.locator("#wall-stale")
            await expect(stale).to_be_hidden()

            app.stop_serve()
            await expect(stale).to_be_visible(timeout=5_000)
            await expect(stale).to_contain_text("STALE")
            await expect(stale).to_contain_text("The connection to Switchboard is down")
            await expect(page.locator("#wall-status")).to_have_text("Reconnecting…")
            await screenshot(page, "wall-stale")

            # Back on the same port and database: the wall reconnects with
            # backoff (at most 15 s apart) and shows the floor again.
            app.start_serve()
            await expect(stale).to_be_hidden(timeout=60_000)
            await expect(page.locator("#wall-status")).to_have_text("Live")
            async with httpx.AsyncClient(base_url=app.simulator_url, timeout=10) as sim:
                session_id = await place_call(sim, agent="104", customer=CUSTOMER)
                tile = page.locator(f'.tile[data-session-id="{session_id}"]')
                await expect(tile).to_be_visible()
                await phone(sim, session_id, "hangup")
            await browser.close()
    finally:
        app.stop()


async def test_the_wall_on_the_demo_floor_counts_and_masks_every_call(
    tmp_path: Path,
):
    """The demo floor as `make run` generates it: the wall's count is the
    store's, and no customer's number of any call is whole on the page."""
    app = start_served_app(tmp_path, profile="demo", seed_directory=True, setup=SETUP)
    try:
        async with (
            async_playwright() as p,
            httpx.AsyncClient(base_url=app.simulator_url, timeout=10) as sim,
        ):
            browser, page, frames = await open_wall(p, app.url, WALL)
            await page.wait_for_function(
                "() => switchboard.store.size >= 3", timeout=60_000
            )
            assert await page.evaluate(
                "() => switchboard.model.counts.live === switchboard.store.size"
            )
            tiles = page.locator(".calls-grid .tile")
            await expect(tiles.first).to_be_visible()
            await expect(page.locator("#wall-status")).to_have_text("Live")
            await page.wait_for_function(  # answered calls, as a floor has
                "() => switchboard.model.counts.talking >= 2", timeout=60_000
            )
            await screenshot(page, "wall-small")
            state = (await sim.get("/_sim/state")).json()["sessions"]
            numbers = {
                end["phoneNumber"]
                for session in state
                for party in session["parties"]
                for end in (party.get("from") or {}, party.get("to") or {})
                if end.get("phoneNumber") and not end.get("extensionId")
            }
            numbers = {n for n in numbers if len(re.sub(r"\D", "", n)) > 4}
            assert numbers, "the demo floor's calls have customers"
            html, received = await page.content(), "\n".join(frames)
            for number in numbers:
                assert number not in html and number not in received, number
            assert page.errors == []
            await browser.close()
    finally:
        app.stop()
