"""RingCentralClient against the embedded RingCentral over real HTTP."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    TelephonyRejected,
    TelephonyUnavailable,
)
from telephony.simulator.defaults import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from tests.support.sim import phone, place_call


async def test_login_and_wstoken_give_a_websocket_url(rc_client: RingCentralClient):
    await rc_client.login()
    url = await rc_client.ws_url()
    assert url.startswith("ws://127.0.0.1:")
    assert "access_token=" in url


async def test_bad_client_secret_raises_authentication_failed_with_rc_code(
    simulator,
):
    client = RingCentralClient(
        server_url=simulator.url, client_id="nope", client_secret="bad", jwt="x"
    )
    try:
        with pytest.raises(AuthenticationFailed) as info:
            await client.login()
    finally:
        await client.aclose()
    assert info.value.status in (400, 401)
    assert info.value.error_code and info.value.error_code.startswith("OAU-")


async def test_bad_jwt_raises_authentication_failed(simulator, rc_client):
    client = RingCentralClient(
        server_url=simulator.url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt="not-the-jwt",
    )
    try:
        with pytest.raises(AuthenticationFailed) as info:
            await client.login()
    finally:
        await client.aclose()
    assert info.value.error_code and info.value.error_code.startswith("OAU-")


async def test_get_session_and_hold_unhold(rc_client, sim_api):
    session_id = await place_call(sim_api)
    await phone(sim_api, session_id, "answer")
    session = await rc_client.get_session(session_id)
    assert session["id"] == session_id
    agent = next(p for p in session["parties"] if p.get("extensionId"))
    held = await rc_client.hold(session_id, agent["id"])
    assert held["status"]["code"] == "Hold"
    resumed = await rc_client.unhold(session_id, agent["id"])
    assert resumed["status"]["code"] == "Answered"


async def test_unknown_session_is_rejected_with_404(rc_client):
    with pytest.raises(TelephonyRejected) as info:
        await rc_client.get_session("s-doesnotexist")
    assert info.value.status == 404
    assert info.value.permanent


async def test_unhold_of_a_party_not_on_hold_is_rejected_with_409(rc_client, sim_api):
    session_id = await place_call(sim_api)
    await phone(sim_api, session_id, "answer")
    session = await rc_client.get_session(session_id)
    agent = next(p for p in session["parties"] if p.get("extensionId"))
    with pytest.raises(TelephonyRejected) as info:
        await rc_client.unhold(session_id, agent["id"])
    assert info.value.status == 409


async def test_unreachable_server_raises_telephony_unavailable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RingCentralClient(
        server_url=f"http://127.0.0.1:{port}",
        client_id="a",
        client_secret="b",
        jwt="c",
        timeout=httpx.Timeout(2.0),
    )
    try:
        with pytest.raises(TelephonyUnavailable):
            await client.login()
    finally:
        await client.aclose()


async def test_concurrent_401s_lead_to_one_fresh_login_not_many(rc_client, sim_api):
    """Each JWT login is a new OAuth session (RingCentral keeps 5): requests
    that fail together after a revocation must share one new login."""
    session_id = await place_call(sim_api)
    await rc_client.login()
    logins = rc_client.auth.logins
    await sim_api.post("/_sim/faults", json={"fault": "expire_tokens"})
    bodies = await asyncio.gather(
        *(rc_client.get_session(session_id) for _ in range(8))
    )
    assert {body["id"] for body in bodies} == {session_id}
    assert rc_client.auth.logins == logins + 1


async def test_ids_are_encoded_whole_in_call_control_paths(rc_client):
    with pytest.raises(TelephonyRejected) as info:
        await rc_client.get_session("s-a/../../oauth")
    assert info.value.status == 404
    assert info.value.error_code == "CMN-102"  # an unknown session, not a path
