"""Calls placed through /_sim/ and the notifications they produce."""

from __future__ import annotations

from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.support.gateway import next_event, phone, place_call, summary
from tests.support.openapi import assert_valid

ACCOUNT = "/restapi/v1.0/account/1000000001/telephony/sessions"


async def events(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await next_event(socket) for _ in range(count)]


async def test_inbound_call_runs_its_course(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    session_id = await place_call(
        http, agent="104", ring_seconds=1, talk_seconds=2, hangup_by="customer"
    )
    flow = await events(socket, 7)
    assert [summary(e) for e in flow] == [
        (2, "1", "Setup", "account"),
        (3, "2", "Setup", "extension"),
        (4, "1", "Answered", "account"),
        (5, "2", "Proceeding", "extension"),
        (6, "2", "Answered", "extension"),
        (7, "2", "Disconnected", "extension"),
        (8, "1", "Disconnected", "account"),
    ]
    for envelope in flow:
        assert_valid("AccountTelephonySessionsEvent", envelope)
        assert envelope["body"]["telephonySessionId"] == session_id
        assert envelope["ownerId"] == "1000000101"
    assert flow[0]["event"] == ACCOUNT
    assert flow[1]["event"] == ACCOUNT.replace(
        "/telephony", "/extension/1000000104/telephony"
    )


async def test_inbound_parties_look_like_the_captures(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    await place_call(
        http,
        agent="104",
        customer="+14155550123",
        customerName="WIRELESS CALLER",
        auto_answer=False,
    )
    customer_setup, agent_setup, customer_answered, ringing = [
        e["body"]["parties"][0] for e in await events(socket, 4)
    ]
    for party in (customer_setup, agent_setup, customer_answered, ringing):
        assert party["park"] == {} and party["status"]["rcc"] is False
        assert {"missedCall", "standAlone", "muted"} <= party.keys()
        assert party["accountId"] == "1000000001"
    assert "extensionId" not in customer_setup
    assert customer_setup["direction"] == "Outbound"
    assert customer_setup["from"]["phoneNumber"] == "+14155550123"
    assert customer_setup["to"] == {"phoneNumber": "+16505550100"}
    assert agent_setup["direction"] == "Inbound"
    assert agent_setup["to"]["name"] == "Deepak Rao"
    assert customer_answered["to"]["extensionId"] == "1000000104"
    pickup = ringing["status"]["mobilePickupData"]
    assert pickup["ccMailboxes"] == ["1000000104"]
    assert "mobilePickupData" not in agent_setup["status"]


async def test_phone_actions_drive_the_agent_leg(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    session_id = await place_call(
        http, agent="105", auto_answer=False, talk_seconds=None
    )
    await events(socket, 4)
    for action, expected in [
        ("answer", (6, "2", "Answered", "extension")),
        ("hold", (7, "2", "Hold", "extension")),
        ("unhold", (8, "2", "Answered", "extension")),
        ("mute", (9, "2", "Answered", "extension")),
    ]:
        response = await phone(http, session_id, action)
        assert response.status_code == 200, response.text
        assert_valid("CallParty", response.json()["party"])
        assert summary(await next_event(socket)) == expected
    response = await phone(http, session_id, "hangup")
    assert response.json()["party"]["status"]["code"] == "Disconnected"
    assert [summary(e)[1:3] for e in await events(socket, 2)] == [
        ("2", "Disconnected"),
        ("1", "Disconnected"),
    ]


async def test_abandoned_call_is_a_missed_call(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    await place_call(http, ring_seconds=1, abandon=True)
    flow = await events(socket, 6)
    agent_end = flow[4]["body"]["parties"][0]
    assert agent_end["status"]["code"] == "Disconnected"
    assert agent_end["missedCall"] is True
    assert flow[5]["body"]["parties"][0]["missedCall"] is False


async def test_outbound_call_follows_the_captured_order(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    await place_call(
        http, scenario="outbound", agent="106", ring_seconds=0, talk_seconds=None
    )
    flow = await events(socket, 5)
    assert [summary(e) for e in flow] == [
        (2, "1", "Setup", "extension"),
        (3, "2", "Proceeding", "account"),
        (4, "1", "Proceeding", "extension"),
        (5, "2", "Answered", "account"),
        (6, "1", "Answered", "extension"),
    ]
    caller = flow[0]["body"]["parties"][0]
    assert caller["direction"] == "Outbound"
    assert caller["from"]["deviceId"] == "80000106"


async def test_internal_call_connects_two_extensions(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    await place_call(
        http,
        scenario="internal",
        agent="107",
        to="108",
        ring_seconds=0,
        talk_seconds=None,
    )
    flow = await events(socket, 5)
    assert [summary(e) for e in flow] == [
        (2, "1", "Setup", "extension"),
        (3, "2", "Setup", "extension"),
        (4, "1", "Answered", "extension"),
        (5, "2", "Proceeding", "extension"),
        (6, "2", "Answered", "extension"),
    ]
    assert flow[0]["body"]["parties"][0]["to"]["phoneNumber"] == "108"


async def test_state_lists_every_live_call(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    first = await place_call(http, agent="101", auto_answer=False)
    second = await place_call(http, agent="102", auto_answer=False)
    body = (await http.get("/_sim/state")).json()
    assert [s["id"] for s in body["sessions"]] == [first, second]
    for session in body["sessions"]:
        assert_valid("CallSessionObject", session)
        assert [p["status"]["code"] for p in session["parties"]] == [
            "Answered",
            "Proceeding",
        ]
    await phone(http, first, "hangup")
    body = (await http.get("/_sim/state")).json()
    assert [s["id"] for s in body["sessions"]] == [second]


async def test_control_api_rejects_bad_input(http: httpx.AsyncClient) -> None:
    assert (await http.post("/_sim/calls", json={"scenario": "fax"})).status_code == 400
    assert (await http.post("/_sim/calls", json={"agent": "999"})).status_code == 400
    assert (
        await http.post("/_sim/calls", json={"talk_seconds": -1})
    ).status_code == 400
    assert (await http.post("/_sim/calls", content=b"{nope")).status_code == 400
    missing = await phone(http, "s-missing", "hold")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "CMN-102"
    session_id = await place_call(http, auto_answer=False)
    assert (await phone(http, session_id, "dance")).status_code == 400
    assert (await phone(http, session_id, "hold")).status_code == 409
    assert (await http.get("/_sim/nothing")).status_code == 404


async def test_queue_call_rings_members_and_the_first_answer_wins(
    http: httpx.AsyncClient, socket: ClientConnection
) -> None:
    await place_call(http, scenario="queue", queue="202", ring_seconds=0.5)
    flow = await events(socket, 8)
    assert [summary(e)[1:] for e in flow[:5]] == [
        ("1", "Setup", "account"),
        ("2", "Setup", "extension"),
        ("1", "Answered", "account"),
        ("3", "Proceeding", "extension"),
        ("4", "Proceeding", "extension"),
    ]
    queue_leg = flow[1]["body"]["parties"][0]
    assert queue_leg["to"]["name"] == "Support"
    agents = {e["body"]["parties"][0]["extensionId"] for e in flow[3:5]}
    assert agents <= {f"1000000{n}" for n in range(106, 111)}
    for envelope in flow[3:5]:
        party = envelope["body"]["parties"][0]
        assert party["queueCall"] is True
        assert party["uiCallInfo"]["primary"] == {
            "type": "QueueName",
            "value": "Support",
        }
    ends = sorted(
        (e["body"]["parties"][0]["status"]["code"], e["body"]["parties"][0]["id"][-1])
        for e in flow[5:]
    )
    assert [code for code, _ in ends] == ["Answered", "Disconnected", "Disconnected"]
    for envelope in flow:
        assert_valid("AccountTelephonySessionsEvent", envelope)


async def test_phone_hold_and_api_hold_need_both_undone(
    http: httpx.AsyncClient, socket: ClientConnection, tokens: dict[str, Any]
) -> None:
    session_id = await place_call(http, agent="107", ring_seconds=0, talk_seconds=None)
    await events(socket, 5)
    party = f"p-{session_id[2:]}-2"
    api = f"/restapi/v1.0/account/~/telephony/sessions/{session_id}/parties/{party}"
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await phone(http, session_id, "hold")).status_code == 200
    assert summary(await next_event(socket))[2] == "Hold"
    held = await http.post(f"{api}/hold", headers=headers)
    assert held.status_code == 200 and held.json()["status"]["code"] == "Hold"
    state = (await http.get("/_sim/state")).json()["sessions"][0]["parties"][1]
    assert state["simulator"]["heldBy"] == ["api", "phone"]
    assert (await phone(http, session_id, "unhold")).json()["party"]["status"][
        "code"
    ] == "Hold"
    resumed = await http.post(f"{api}/unhold", headers=headers)
    assert resumed.json()["status"]["code"] == "Answered"
    assert summary(await next_event(socket))[2] == "Answered"
    assert (await phone(http, session_id, "unhold")).status_code == 409


async def test_agent_and_queue_are_picked_when_absent(http: httpx.AsyncClient) -> None:
    first = await place_call(http, scenario="queue", auto_answer=False)
    second = await place_call(http, scenario="inbound", auto_answer=False)
    sessions = {s["id"]: s for s in (await http.get("/_sim/state")).json()["sessions"]}
    assert sessions[first]["simulator"]["queueExtensionId"] in (
        "1000000201",
        "1000000202",
    )
    assert sessions[second]["parties"][1]["extensionId"].startswith("1000000")
    bad = await http.post("/_sim/calls", json={"scenario": "queue", "queue": "299"})
    assert bad.status_code == 400
