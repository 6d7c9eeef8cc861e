"""Bearer checks and the Call Control REST endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from telephony.simulator import Simulator, SimulatorConfig
from tests.support import WAIT
from tests.support.gateway import bearer, login, next_event, place_call, summary
from tests.support.openapi import assert_valid

SESSIONS = "/restapi/v1.0/account/~/telephony/sessions"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid("ApiErrorResponseModel", body)
    assert body["errorCode"] == body["errors"][0]["errorCode"] == code
    assert body["message"] == body["errors"][0]["message"]
    return dict(body)


async def answered_call(http: httpx.AsyncClient, socket: ClientConnection) -> str:
    """A call that stays in talk until hung up; events drained to Answered."""
    session_id = await place_call(http, agent="103", ring_seconds=0, talk_seconds=None)
    statuses = [summary(await next_event(socket))[2] for _ in range(5)]
    assert statuses[-1] == "Answered"
    return session_id


async def test_missing_bearer_is_401(http: httpx.AsyncClient) -> None:
    assert_error(await http.get(f"{SESSIONS}/s-1"), 401, "OAU-123")


async def test_unknown_bearer_is_401_token_not_found(http: httpx.AsyncClient) -> None:
    assert_error(
        await http.get(f"{SESSIONS}/s-1", headers=bearer("nope")), 401, "OAU-213"
    )


@pytest.fixture
async def expiring_sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimulatorConfig(profile="none", access_token_ttl=0))
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_expired_bearer_is_401_expired(expiring_sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=expiring_sim.url, timeout=WAIT) as http:
        token = (await login(http))["access_token"]
        assert_error(
            await http.get(f"{SESSIONS}/s-1", headers=bearer(token)), 401, "OAU-128"
        )


async def test_unknown_path_is_404_invalid_uri(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    headers = bearer(tokens["access_token"])
    assert_error(
        await http.get("/restapi/v1.0/nothing", headers=headers), 404, "CMN-120"
    )
    assert_error(await http.get("/elsewhere"), 404, "CMN-120")


async def test_unknown_session_is_404_with_parameter(
    http: httpx.AsyncClient, tokens: dict[str, Any]
) -> None:
    response = await http.get(
        f"{SESSIONS}/s-missing", headers=bearer(tokens["access_token"])
    )
    body = assert_error(response, 404, "CMN-102")
    assert body["parameterName"] == "telephonySessionId"
    assert response.headers["x-rate-limit-group"] == "Light"


async def test_get_session_returns_call_session_object(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    for account in ("~", "1000000001"):
        path = f"/restapi/v1.0/account/{account}/telephony/sessions/{session_id}"
        response = await http.get(path, headers=bearer(tokens["access_token"]))
        assert response.status_code == 200
        body = response.json()
        assert_valid("CallSessionObject", body)
        assert body["id"] == session_id
        assert body["origin"] == {"type": "Call"}
        assert body["creationTime"].endswith("Z") and "." not in body["creationTime"]
        assert [p["status"]["code"] for p in body["parties"]] == [
            "Answered",
            "Answered",
        ]
        for party in body["parties"]:
            assert_valid("CallParty", party)


async def test_hold_and_unhold_return_party_and_emit_events(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    party = f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-2"
    headers = bearer(tokens["access_token"])

    held = await http.post(f"{party}/hold", json={"proto": "Auto"}, headers=headers)
    assert held.status_code == 200
    assert_valid("CallParty", held.json())
    assert held.json()["status"]["code"] == "Hold"
    assert summary(await next_event(socket)) == (7, "2", "Hold", "extension")

    resumed = await http.post(f"{party}/unhold", headers=headers)
    assert resumed.status_code == 200
    assert resumed.json()["status"]["code"] == "Answered"
    assert summary(await next_event(socket)) == (8, "2", "Answered", "extension")


async def test_hold_on_ringing_party_is_409(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await place_call(http, auto_answer=False)
    party = f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-2"
    assert_error(
        await http.post(f"{party}/hold", headers=bearer(tokens["access_token"])),
        409,
        "TAS-409",
    )


async def test_unhold_on_answered_party_is_409(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    party = f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-2"
    assert_error(
        await http.post(f"{party}/unhold", headers=bearer(tokens["access_token"])),
        409,
        "TAS-409",
    )


async def test_hold_on_unknown_party_is_404(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    path = f"{SESSIONS}/{session_id}/parties/p-nope-9/hold"
    body = assert_error(
        await http.post(path, headers=bearer(tokens["access_token"])), 404, "CMN-102"
    )
    assert body["parameterName"] == "partyId"


async def test_hold_with_unknown_proto_is_400(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    path = f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-2/hold"
    response = await http.post(
        path, json={"proto": "Bogus"}, headers=bearer(tokens["access_token"])
    )
    assert_error(response, 400, "CMN-101")


async def test_patch_party_mutes_with_flat_or_wrapped_body(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    path = f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-2"
    headers = bearer(tokens["access_token"])
    muted = await http.patch(path, json={"party": {"muted": True}}, headers=headers)
    assert muted.json()["muted"] is True
    assert (await next_event(socket))["body"]["parties"][0]["muted"] is True
    unmuted = await http.patch(path, json={"muted": False}, headers=headers)
    assert unmuted.json()["muted"] is False


async def test_delete_session_ends_the_call(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    headers = bearer(tokens["access_token"])
    response = await http.delete(f"{SESSIONS}/{session_id}", headers=headers)
    assert response.status_code == 204
    ends = [summary(await next_event(socket)) for _ in range(2)]
    assert [e[2] for e in ends] == ["Disconnected", "Disconnected"]
    assert (
        await http.get(f"{SESSIONS}/{session_id}", headers=headers)
    ).status_code == 404
