"""RingCentral's official JavaScript SDK against the simulator.

`@ringcentral/sdk` logs in with JWT and `@ringcentral/subscriptions`
subscribes over WebSocket; `tests/sdk/sdk_smoke.mjs` prints one JSON line
per step. Needs Node.js and `npm ci --prefix tests/sdk`; without them the
test fails (it never skips) and says what to run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from telephony.simulator import Simulator
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_JWT
from tests.support.gateway import place_call

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk"
SCRIPT = SDK_DIR / "sdk_smoke.mjs"
# Node start-up, login, subscribe and the call: a few seconds at most.
BUDGET = 45.0


def node_command() -> list[str]:
    """`node sdk_smoke.mjs`, or a failure that says what is missing."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for this test (node not on PATH)"
    installed = SDK_DIR / "node_modules" / "@ringcentral" / "subscriptions"
    assert installed.is_dir(), (
        "RingCentral's JS SDK is not installed: run `npm ci --prefix tests/sdk`"
    )
    return [node, str(SCRIPT)]


async def read_until(
    process: asyncio.subprocess.Process, step: str, seen: list[dict[str, Any]]
) -> None:
    """Collect the script's JSON lines until one has `step`."""
    assert process.stdout is not None
    while True:
        line = await process.stdout.readline()
        if not line:
            stderr = await process.stderr.read() if process.stderr else b""
            raise AssertionError(
                f"sdk_smoke.mjs ended before {step!r}: {seen}\n{stderr.decode()}"
            )
        record = json.loads(line)
        seen.append(record)
        assert record["step"] != "error", record["message"]
        if record["step"] == step:
            return


async def run_smoke(sim: Simulator, http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Run the script; place a call once it has subscribed; return its lines."""
    env = {
        **os.environ,
        "RC_SERVER_URL": sim.url,
        "RC_CLIENT_ID": LOCAL_CLIENT_ID,
        "RC_CLIENT_SECRET": LOCAL_CLIENT_SECRET,
        "RC_JWT": LOCAL_JWT,
    }
    process = await asyncio.create_subprocess_exec(
        *node_command(),
        cwd=SDK_DIR,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(BUDGET):
            await read_until(process, "subscribed", seen)
            session_id = await place_call(http, ring_seconds=1, talk_seconds=None)
            assert process.stdin is not None
            process.stdin.write(f"{session_id}\n".encode())
            await process.stdin.drain()
            await read_until(process, "done", seen)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    seen.append({"step": "placed", "telephonySessionId": session_id})
    return seen


async def test_official_sdk_subscribes_and_holds_a_call(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    seen = await run_smoke(sim, http)
    steps = {record["step"]: record for record in seen}
    session_id = steps["placed"]["telephonySessionId"]
    assert steps["login"]["owner_id"] == "1000000101"
    assert steps["subscribed"]["eventFilters"] == [
        "/restapi/v1.0/account/1000000001/telephony/sessions"
    ]
    events = [
        r
        for r in seen
        if r["step"] == "event" and r["telephonySessionId"] == session_id
    ]
    assert all(e["subscriptionId"] == steps["subscribed"]["id"] for e in events)
    agent = [e["status"] for e in events if e["extensionId"]]
    assert agent[:1] == ["Setup"]
    assert [s for s in agent if s in ("Answered", "Hold")][:3] == [
        "Answered",
        "Hold",
        "Answered",
    ]
    assert steps["hold"]["status"] == "Hold"
    assert steps["unhold"]["status"] == "Answered"
    state = (await http.get("/_sim/state")).json()
    (session,) = [s for s in state["sessions"] if s["id"] == session_id]
    party = next(p for p in session["parties"] if p["id"] == steps["hold"]["partyId"])
    assert party["status"]["code"] == "Answered"
