"""The scaled deployment, with real parts in separate processes, started
as `make cluster` starts them: the embedded RingCentral alone, ONE
telephony worker, TWO daphne processes behind nginx, Redis as the channel
layer and PostgreSQL as the database. Consoles on
either daphne see the same live calls, and a command sent through one
daphne reaches the worker in another process and comes back."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis
import websockets

from tests.support import WAIT
from tests.support.console import Console
from tests.support.failover import Cluster, cluster
from tests.support.paths import ROOT
from tests.support.served import (
    METRICS_HEADERS,
    Process,
    login_cookie,
)

REDIS = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/9")
PASSWORD = "scaled-test-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The scaled layout of docs/deploy.md, started by `make cluster`'s
    launcher (tests/support/failover.py): PostgreSQL, the embedded
    RingCentral, ONE worker and two daphnes behind nginx, over Redis."""
    tmp = tmp_path_factory.mktemp("cluster")
    with cluster(redis_url=REDIS, password=PASSWORD, workers=1, directory=tmp) as built:
        yield built


async def console(url: str) -> Console:
    cookie = await asyncio.to_thread(login_cookie, url, "sup", PASSWORD)
    one = await (await Console.open(url, cookie)).synced()
    assert one.worker["connected"] is True
    return one


def state_of(session_id: str, state: str) -> Any:
    return lambda c: c.calls.get(session_id, {}).get("state") == state


async def test_two_daphnes_one_worker_over_redis_and_postgres(deployment):
    one, two = [await console(url) for url in deployment.urls]
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        created = await sim.post(
            "/_sim/calls",
            json={"scenario": "inbound", "auto_answer": False, "talk_seconds": None},
        )
        session_id = created.json()["telephonySessionId"]
        await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
    await one.until(state_of(session_id, "talking"))
    await two.until(state_of(session_id, "talking"))
    await two.send(
        {
            "type": "command",
            "requestId": "scaled-hold",
            "action": "hold",
            "sessionId": session_id,
            "partyId": two.calls[session_id]["agent"]["id"],
        }
    )
    reply = await two.reply(type="command_result", requestId="scaled-hold")
    assert reply["ok"] is True, reply
    confirmed = await two.reply(type="command_confirmed")
    assert confirmed["confirmed"] is True
    await one.until(state_of(session_id, "held"))
    for ws in (one, two):
        await ws.close()
    async with httpx.AsyncClient(base_url=deployment.urls[0], timeout=WAIT) as http:
        health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["live_calls"] == 1


async def test_a_console_survives_a_worker_restart(deployment):
    """The restarted worker numbers its changes from scratch (a new epoch):
    each dashboard process's feed must notice and reload its floor, and an
    open console keep going."""
    from playwright.async_api import async_playwright, expect

    from tests.browser.test_console import CHROMIUM, CHROMIUM_ARGS

    url = deployment.urls[0]
    async with (
        async_playwright() as p,
        httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim,
    ):
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        page.set_default_timeout(20_000)
        await page.goto(f"{url}/")
        await page.get_by_label("Username").fill("sup")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#worker-status")).to_have_text("Live")
        first = await place_talking_call(sim)
        card = page.locator(f'[data-session-id="{first}"]')
        await expect(card).to_be_visible()
        for _ in range(5):  # the old run's numbering gets well ahead
            await sim.post(f"/_sim/calls/{first}/phone", json={"action": "hold"})
            await expect(card.locator(".state")).to_have_text("On hold")
            await sim.post(f"/_sim/calls/{first}/phone", json={"action": "unhold"})
            await expect(card.locator(".state")).to_have_text("Talking")

        deployment.workers[0].stop()
        restarted = deployment.start_worker()
        await asyncio.to_thread(restarted.wait_for, "stream connected")

        second = await place_talking_call(sim)
        await expect(page.locator(f'[data-session-id="{second}"]')).to_be_visible()
        await expect(page.locator(f'[data-session-id="{first}"]')).to_be_visible()
        await sim.post(f"/_sim/calls/{first}/phone", json={"action": "hangup"})
        await expect(page.locator(f'[data-session-id="{first}"]')).to_have_count(0)
        await browser.close()


async def place_talking_call(sim: httpx.AsyncClient) -> str:
    created = await sim.post(
        "/_sim/calls",
        json={"scenario": "inbound", "auto_answer": False, "talk_seconds": None},
    )
    session_id = str(created.json()["telephonySessionId"])
    await sim.post(f"/_sim/calls/{session_id}/phone", json={"action": "answer"})
    return session_id


async def test_a_thousand_consoles_on_two_daphnes_cost_the_worker_nothing(
    deployment,
):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4000), hard))
    urls = deployment.urls
    cookies = [
        await asyncio.to_thread(login_cookie, url, "sup", PASSWORD) for url in urls
    ]
    loads = [await feed_loads(url) for url in urls]
    before = await health(urls[0])
    async with asyncio.timeout(WAIT * 6):
        consoles = await asyncio.gather(
            *(
                Console.open(url, cookie)
                for url, cookie in zip(urls, cookies, strict=True)
                for _ in range(500)
            )
        )
        await asyncio.gather(*(c.synced() for c in consoles))
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        call = await place_talking_call(sim)
        async with asyncio.timeout(WAIT * 3):
            await asyncio.gather(
                *(c.until(state_of(call, "talking")) for c in consoles)
            )
        await sim.post(f"/_sim/calls/{call}/phone", json={"action": "hangup"})
    await asyncio.gather(*(c.close() for c in consoles))
    after = await health(urls[1])
    assert after["reconnects"] == before["reconnects"]
    assert after["seconds_since_connected"] > before["seconds_since_connected"]
    # Each process asked the worker for the floor at most once (none if its
    # feed was already running) and answered its 500 consoles from its copy.
    after_loads = [await feed_loads(url) for url in urls]
    assert all(0 <= a - b <= 1 for a, b in zip(after_loads, loads, strict=True))


async def health(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def feed_loads(url: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
        text = (await http.get("/metrics", headers=METRICS_HEADERS)).text
    match = re.search(
        r"^switchboard_feed_floor_loads(?:_total)? ([0-9.e+]+)$", text, re.M
    )
    return float(match[1]) if match else 0.0


async def test_a_role_taken_away_closes_consoles_on_every_daphne(deployment):
    """An administrator takes a user's role away (here in `manage.py shell`,
    a process of its own, as the admin site in any daphne would): the
    user's consoles on both daphnes close at once, saying why."""
    manage, env = [sys.executable, "manage.py"], deployment.env
    make_user = (
        "from django.contrib.auth.models import User, Group;"
        f"u = User.objects.create_user('leaver', password='{PASSWORD}');"
        "u.groups.add(Group.objects.get(name='Supervisor'))"
    )
    assert Process([*manage, "shell", "-c", make_user], env).finish() == 0
    urls = deployment.urls
    cookies = [
        await asyncio.to_thread(login_cookie, url, "leaver", PASSWORD) for url in urls
    ]
    consoles = [
        await (await Console.open(url, cookie)).synced()
        for url, cookie in zip(urls, cookies, strict=True)
    ]
    take_away = "from django.contrib.auth.models import User;" + (
        "User.objects.get(username='leaver').groups.clear()"
    )
    assert Process([*manage, "shell", "-c", take_away], env).finish() == 0
    for one in consoles:
        refusal = await one.reply(type="error")
        assert refusal["message"].startswith("You may not watch the live floor")
        async with asyncio.timeout(WAIT):
            await one.ws.wait_closed()
        assert one.ws.close_code == 4403


async def test_logging_out_on_one_daphne_closes_the_sessions_consoles_on_both(
    deployment,
):
    urls = deployment.urls
    cookie = await asyncio.to_thread(login_cookie, urls[0], "sup", PASSWORD)
    consoles = [await (await Console.open(url, cookie)).synced() for url in urls]
    csrf = re.search(r"csrftoken=([^;]+)", cookie)
    assert csrf
    async with httpx.AsyncClient(base_url=urls[1], timeout=WAIT) as http:
        out = await http.post(
            "/logout/",
            headers={"Cookie": cookie, "X-CSRFToken": csrf[1], "Origin": urls[1]},
        )
    assert out.status_code == 302, out.text
    for one in consoles:
        assert (await one.reply(type="error"))["message"].startswith("You logged out")
        async with asyncio.timeout(WAIT):
            await one.ws.wait_closed()
        assert one.ws.close_code == 4401


def test_a_username_locked_out_on_one_daphne_is_locked_out_on_the_other(
    deployment,
):
    """Failed logins are counted in Redis, shared by every daphne: a
    guesser cannot get ten more tries by switching process."""
    urls, env = deployment.urls, deployment.env
    make_user = (
        "from django.contrib.auth.models import User;"
        f"User.objects.create_user('guessed', password='{PASSWORD}')"
    )
    assert (
        Process([sys.executable, "manage.py", "shell", "-c", make_user], env).finish()
        == 0
    )

    def attempt(url: str, password: str) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=WAIT) as http:
            page = http.get("/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token
            return http.post(
                "/login/",
                data={
                    "username": "guessed",
                    "password": password,
                    "csrfmiddlewaretoken": token[1],
                },
            )

    statuses = [attempt(urls[n % 2], "a-wrong-guess").status_code for n in range(10)]
    assert statuses == [200] * 9 + [429]  # the tenth failure locks
    right = attempt(urls[1], PASSWORD)
    assert right.status_code == 429 and "Too many failed logins" in right.text


WS_ERRORS = (websockets.exceptions.WebSocketException,)


def restart_redis() -> None:
    """Stop Redis (it keeps nothing on disk: every group, channel and
    lease is gone) and start it again as `make test` does."""
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"],
        check=False,
        capture_output=True,
        timeout=30,
    )
    subprocess.run([str(ROOT / ".ci" / "prerequisites")], check=True, timeout=120)
    with redis.Redis.from_url(REDIS) as client:
        assert client.ping()


async def test_everyone_recovers_when_redis_restarts(deployment):
    """Redis restarted under two daphnes and the worker: without anyone
    touching a process, a console (as the page reconnects) gets the live
    floor again, calls placed after the restart reach consoles on both
    daphnes, and a command goes through."""
    urls = deployment.urls
    await asyncio.to_thread(restart_redis)
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        call = await place_talking_call(sim)
        consoles = []
        for url in urls:
            async with asyncio.timeout(WAIT * 3):
                while True:  # the page reconnects with backoff; so do we
                    try:
                        one = await console(url)
                        await one.until(state_of(call, "talking"))
                        break
                    except (OSError, TimeoutError, AssertionError, *WS_ERRORS):
                        await asyncio.sleep(0.5)  # a retry's backoff, as the page
                        continue
            consoles.append(one)
        await consoles[1].send(
            {
                "type": "command",
                "requestId": "after-restart",
                "action": "hold",
                "sessionId": call,
                "partyId": consoles[1].calls[call]["agent"]["id"],
            }
        )
        try:
            async with asyncio.timeout(WAIT * 2):
                result = await consoles[1].reply(type="command_result")
        except TimeoutError:
            raise AssertionError(f"no command result; {consoles[1].others}") from None
        assert result["ok"] is True, result["message"]
        async with asyncio.timeout(WAIT * 2):
            await asyncio.gather(*(c.until(state_of(call, "held")) for c in consoles))
        await sim.post(f"/_sim/calls/{call}/phone", json={"action": "hangup"})
    for one in consoles:
        await one.close()


# How long PostgreSQL stays down (the "unavailable for 30 s").
OUTAGE_SECONDS = 30.0


def postgres(action: str) -> None:
    """Stop the machine's PostgreSQL (`stop`), or start it again as
    `make test` does (`start`: .ci/prerequisites)."""
    if action == "start":
        subprocess.run([str(ROOT / ".ci" / "prerequisites")], check=True, timeout=120)
        return
    version = sorted(os.listdir("/etc/postgresql"))[0]
    stop = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "stop"]
    subprocess.run([*stop, "-m", "fast"], check=True, timeout=60)
    probe = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"], timeout=30)
    assert probe.returncode != 0, "PostgreSQL still answers"


async def test_the_floor_works_through_a_database_outage_and_no_row_is_lost(
    deployment,
):
    """PostgreSQL stopped for 30 s under two daphnes and the worker: open
    consoles go on seeing calls and their supervisors' commands go through;
    once it is back, every audit row, the call's history and its journal
    are in the database, none lost or written twice."""
    one, two = [await console(url) for url in deployment.urls]
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        await asyncio.to_thread(postgres, "stop")
        stopped = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(OUTAGE_SECONDS + WAIT * 4):
                call = await place_talking_call(sim)
                for c in (one, two):
                    await c.until(state_of(call, "talking"))
                party = two.calls[call]["agent"]["id"]
                for action, state in (("hold", "held"), ("unhold", "talking")):
                    await two.send(
                        {
                            "type": "command",
                            "requestId": f"outage-{action}",
                            "action": action,
                            "sessionId": call,
                            "partyId": party,
                        }
                    )
                    reply = await two.reply(type="command_result")
                    assert reply["ok"] is True, reply["message"]
                    for c in (one, two):
                        await c.until(state_of(call, state))
                await sim.post(f"/_sim/calls/{call}/phone", json={"action": "hangup"})
                for c in (one, two):
                    await c.until(lambda c: call not in c.calls)
                # The outage lasts its length: a fault's duration, not a wait
                # for an event (there is none to await while nothing changes).
                left = OUTAGE_SECONDS - (asyncio.get_running_loop().time() - stopped)
                await asyncio.sleep(max(left, 0.0))
        finally:
            await asyncio.to_thread(postgres, "start")
    # The consoles were never cut off: the floor still moves on them.
    async with httpx.AsyncClient(base_url=deployment.simulator, timeout=WAIT) as sim:
        after = await place_talking_call(sim)
        for c in (one, two):
            await c.until(state_of(after, "talking"))
        await sim.post(f"/_sim/calls/{after}/phone", json={"action": "hangup"})
    for c in (one, two):
        await c.close()

    def stored() -> dict[str, Any]:
        with psycopg.connect(deployment.database) as conn:
            audit = conn.execute(
                "SELECT action, outcome FROM telephony_commandaudit"
                " WHERE telephony_session_id = %s ORDER BY id",
                [call],
            ).fetchall()
            history = conn.execute(
                "SELECT ended, hold_count FROM telephony_callrecord"
                " WHERE telephony_session_id = %s",
                [call],
            ).fetchall()
            kinds = conn.execute(
                "SELECT kind FROM telephony_callevent"
                " WHERE telephony_session_id = %s ORDER BY id",
                [call],
            ).fetchall()
        return {"audit": audit, "history": history, "journal": kinds}

    wanted = {
        "audit": [("hold", "accepted"), ("unhold", "accepted")],
        "history": [(True, 1)],
    }
    deadline = asyncio.get_running_loop().time() + WAIT * 3
    while True:  # the worker writes its queues back every few seconds
        found = await asyncio.to_thread(stored)
        journal = [kind for (kind,) in found.pop("journal")]
        if found == wanted and journal and journal[-1] == "ended":
            break
        assert asyncio.get_running_loop().time() < deadline, (found, journal)
        await asyncio.sleep(0.5)  # nothing to await in another process: a poll
    assert journal.count("ended") == 1, journal
