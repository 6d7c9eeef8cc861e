"""Presence notifications (docs/ringcentral.md 8.5) and agents' availability:
filters, bodies validated against the OpenAPI file, agreement with REST
presence, the control API `/_sim/agents`, and delivery through faults and
recovery like telephony events."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.clock import Rig, rig
from tests.support.gateway import (
    ACCOUNT_FILTER,
    ACCOUNT_PRESENCE_FILTER,
    DETAILED_PRESENCE_FILTER,
    bearer,
    is_presence,
    next_event,
    next_presence,
    phone,
    place_call,
    presence_summary,
    recv,
    request,
    subscribe,
    subscription_body,
    summary,
)
from tests.support.openapi import assert_valid

ACCOUNT = "/restapi/v1.0/account/1000000001"


def check(envelope: dict[str, Any]) -> dict[str, Any]:
    """Validate a presence envelope against every schema it must meet."""
    detailed = envelope["event"].endswith("?detailedTelephonyState=true")
    assert_valid("AccountPresenceEvent", envelope)
    if detailed:
        assert_valid("DetailedExtensionPresenceEvent", envelope)
    else:
        assert_valid("ExtensionPresenceEvent", envelope)
    body = envelope["body"]
    assert envelope["ownerId"] == body["ownerId"] == "1000000101"
    path = f"{ACCOUNT}/extension/{body['extensionId']}/presence"
    assert envelope["event"].partition("?")[0] == path
    return envelope


async def fence(ws: ClientConnection) -> list[list[Any]]:
    """Every frame queued so far: a Heartbeat's echo comes after them."""
    await ws.send(json.dumps([{"type": "Heartbeat", "messageId": "fence"}]))
    seen = []
    while (frame := await recv(ws))[0]["type"] != "Heartbeat":
        seen.append(frame)
    return seen


async def subscribed(r: Rig, *filters: str) -> ClientConnection:
    ws = await r.socket()
    await recv(ws)
    await subscribe(ws, *filters)
    return ws


async def set_presence(
    http: httpx.AsyncClient, number: str, status: int = 200, **body: Any
) -> dict[str, Any]:
    response = await http.post(f"/_sim/agents/{number}/presence", json=body)
    assert response.status_code == status, response.text
    return dict(response.json())


async def rest_presence(r: Rig, extension_id: str) -> dict[str, Any]:
    response = await r.http.get(
        f"{ACCOUNT}/extension/{extension_id}/presence?detailedTelephonyState=true",
        headers=bearer(r.tokens["access_token"]),
    )
    assert response.status_code == 200, response.text
    body = dict(response.json())
    assert_valid("PresenceInfoResponse", body)
    return body


async def test_presence_filters_are_accepted_and_normalised() -> None:
    async with rig() as r:
        ws = await r.socket()
        await recv(ws)
        header, info = await request(
            ws,
            "POST",
            "/restapi/v1.0/subscription",
            subscription_body(
                ACCOUNT_FILTER,
                ACCOUNT_PRESENCE_FILTER,
                "/restapi/v1.0/account/1000000001/presence?detailedTelephonyState=true",
                "/restapi/v1.0/account/~/extension/~/presence",
                "/restapi/v1.0/account/~/extension/1000000102/presence"
                "?detailedTelephonyState=true",
            ),
        )
        await ws.close()
        assert header["status"] == 200, info
        assert_valid("SubscriptionInfo", info)
        assert info["eventFilters"] == [
            f"{ACCOUNT}/telephony/sessions",
            f"{ACCOUNT}/presence",
            f"{ACCOUNT}/presence?detailedTelephonyState=true",
            f"{ACCOUNT}/extension/1000000101/presence",
            f"{ACCOUNT}/extension/1000000102/presence?detailedTelephonyState=true",
        ]


async def test_account_presence_follows_an_agents_phone() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_PRESENCE_FILTER)
        session_id = await place_call(r.http, agent="103", auto_answer=False)
        ringing = check(await next_presence(ws))
        await phone(r.http, session_id, "answer")
        talking = check(await next_presence(ws))
        await phone(r.http, session_id, "hold")
        held = check(await next_presence(ws))
        await phone(r.http, session_id, "unhold")
        back = check(await next_presence(ws))
        await phone(r.http, session_id, "hangup")
        idle = check(await next_presence(ws))
        assert await fence(ws) == []  # nothing else: only presence, only 103
        await ws.close()
    flow = [ringing, talking, held, back, idle]
    assert [presence_summary(e) for e in flow] == [
        ("1000000103", "Ringing", "Busy", "Available", "TakeAllCalls"),
        ("1000000103", "CallConnected", "Busy", "Available", "TakeAllCalls"),
        ("1000000103", "OnHold", "Busy", "Available", "TakeAllCalls"),
        ("1000000103", "CallConnected", "Busy", "Available", "TakeAllCalls"),
        ("1000000103", "NoCall", "Available", "Available", "TakeAllCalls"),
    ]
    sequences = [e["body"]["sequence"] for e in flow]
    assert sequences == list(range(sequences[0], sequences[0] + 5))
    assert all("activeCalls" not in e["body"] for e in flow)
    assert flow[0]["event"] == f"{ACCOUNT}/extension/1000000103/presence"


async def test_presence_follows_the_telephony_event_that_caused_it() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_FILTER, ACCOUNT_PRESENCE_FILTER)
        await place_call(r.http, agent="104", auto_answer=False)
        queued = await fence(ws)
        await ws.close()
    frames = [frame[1] for frame in queued]
    kinds = [
        ("presence", e["body"]["telephonyStatus"])
        if is_presence(e)
        else ("telephony", *summary(e)[1:3])
        for e in frames
    ]
    # The agent's leg is created (Setup): presence turns Ringing at once;
    # Proceeding does not change presence.
    assert kinds == [
        ("telephony", "1", "Setup"),
        ("telephony", "2", "Setup"),
        ("presence", "Ringing"),
        ("telephony", "1", "Answered"),
        ("telephony", "2", "Proceeding"),
    ]
    check(frames[2])
    # One wsc numbering per socket, presence frames included.
    wsc = [frame[0]["wsc"]["sequence"] for frame in queued]
    assert wsc == list(range(wsc[0], wsc[0] + 5))


async def test_detailed_presence_lists_active_calls_and_their_end() -> None:
    async with rig() as r:
        ws = await subscribed(
            r,
            "/restapi/v1.0/account/~/extension/1000000105/presence"
            "?detailedTelephonyState=true",
        )
        first = await place_call(r.http, agent="105", auto_answer=False)
        ringing = check(await next_presence(ws))
        await phone(r.http, first, "answer")
        check(await next_presence(ws))
        await phone(r.http, first, "mute")  # no presence change
        second = await place_call(r.http, agent="105", auto_answer=False)
        both = check(await next_presence(ws))
        await phone(r.http, second, "hangup")
        one_ended = check(await next_presence(ws))
        await phone(r.http, first, "hangup")
        idle = check(await next_presence(ws))
        assert await fence(ws) == []
        assert (await rest_presence(r, "1000000105"))["activeCalls"] == []
        await ws.close()
    assert ringing["event"].endswith("/1000000105/presence?detailedTelephonyState=true")
    (call,) = ringing["body"]["activeCalls"]
    assert ringing["body"]["totalActiveCalls"] == 1
    assert (call["telephonySessionId"], call["direction"], call["telephonyStatus"]) == (
        first,
        "Inbound",
        "Ringing",
    )
    assert call["partyId"].endswith("-2") and call["toName"] == "Emma Schultz"
    assert both["body"]["telephonyStatus"] == "Ringing"  # the most urgent call
    assert [c["telephonySessionId"] for c in both["body"]["activeCalls"]] == [
        first,
        second,
    ]
    # A call that ends is shown once more: NoCall, terminationType final.
    ended, live = one_ended["body"]["activeCalls"]
    assert (ended["telephonySessionId"], ended["telephonyStatus"]) == (second, "NoCall")
    assert ended["terminationType"] == "final" and "terminationType" not in live
    assert one_ended["body"]["totalActiveCalls"] == 1
    assert one_ended["body"]["telephonyStatus"] == "CallConnected"
    assert idle["body"]["totalActiveCalls"] == 0
    assert [c["telephonyStatus"] for c in idle["body"]["activeCalls"]] == ["NoCall"]


async def test_simple_and_detailed_filters_together_give_only_detailed() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_PRESENCE_FILTER, DETAILED_PRESENCE_FILTER)
        await place_call(r.http, agent="106", auto_answer=False)
        (frame,) = await fence(ws)
        await ws.close()
    envelope = check(frame[1])
    assert envelope["event"].endswith("?detailedTelephonyState=true")
    assert envelope["body"]["totalActiveCalls"] == 1


async def test_extension_filter_sees_only_its_extension() -> None:
    async with rig() as r:
        ws = await subscribed(r, "/restapi/v1.0/account/~/extension/~/presence")
        await place_call(r.http, agent="102", auto_answer=False)
        await set_presence(r.http, "110", userStatus="Busy")
        await place_call(r.http, agent="101", auto_answer=False)
        frames = await fence(ws)
        await ws.close()
    assert [presence_summary(check(f[1]))[:2] for f in frames] == [
        ("1000000101", "Ringing")
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"dndStatus": "DoNotAcceptAnyCalls"}, ("Busy", "Available")),
        ({"userStatus": "Busy"}, ("Busy", "Busy")),
        ({"userStatus": "Offline"}, ("Offline", "Offline")),
        ({"dndStatus": "DoNotAcceptDepartmentCalls"}, ("Available", "Available")),
    ],
)
async def test_availability_is_notified_and_rest_agrees(
    change: dict[str, str], expected: tuple[str, str]
) -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_PRESENCE_FILTER)
        record = await set_presence(r.http, "107", **change)
        envelope = check(await next_presence(ws))
        await ws.close()
        body = envelope["body"]
        assert (body["presenceStatus"], body["userStatus"]) == expected
        assert body["dndStatus"] == change.get("dndStatus", "TakeAllCalls")
        assert body["telephonyStatus"] == "NoCall"
        rest = await rest_presence(r, "1000000107")
        response = await r.http.get(
            f"{ACCOUNT}/presence", headers=bearer(r.tokens["access_token"])
        )
        (listed,) = [
            x
            for x in response.json()["records"]
            if x["extension"]["extensionNumber"] == "107"
        ]
        agents = (await r.http.get("/_sim/agents")).json()["records"]
        (mine,) = [a for a in agents if a["extensionNumber"] == "107"]
    fields = ("telephonyStatus", "presenceStatus", "userStatus", "dndStatus")
    for view in (rest, listed, record, mine):
        assert {f: view[f] for f in fields} == {f: body[f] for f in fields}


async def test_presence_goes_through_faults_and_recovery() -> None:
    async with rig() as r:
        ws, details = await r.subscribed()
        await subscribe(ws, ACCOUNT_FILTER, ACCOUNT_PRESENCE_FILTER)
        await r.http.post(
            "/_sim/faults", json={"fault": "duplicate_events", "ratio": 1}
        )
        await set_presence(r.http, "108", userStatus="Busy")
        first, second = await fence(ws)
        assert first[1] == second[1] and is_presence(first[1])
        assert second[0]["wsc"]["sequence"] == first[0]["wsc"]["sequence"] + 1
        await r.http.delete("/_sim/faults")
        response = await r.http.post(
            "/_sim/faults", json={"fault": "drop_websockets", "recoverable": True}
        )
        assert response.json()["dropped"] == 1
        await ws.wait_closed()
        await set_presence(r.http, "108", userStatus="Available")
        fresh = await r.socket(wsc=details["wsc"]["token"])
        _, body = await recv(fresh)
        assert body["recoveryState"] == "Successful"
        replayed = check(await next_event(fresh))
        await fresh.close()
    assert presence_summary(replayed)[3] == "Available"
    assert replayed["body"]["sequence"] == first[1]["body"]["sequence"] + 1


async def test_agents_lists_every_agent_with_queues_and_presence() -> None:
    async with rig() as r:
        await place_call(r.http, agent="101", auto_answer=False)
        records = (await r.http.get("/_sim/agents")).json()["records"]
    assert len(records) == 10
    alice = records[0]
    assert alice == {
        "extensionId": "1000000101",
        "extensionNumber": "101",
        "name": "Alice Agent",
        "queues": [{"extensionNumber": "201", "name": "Sales"}],
        "userStatus": "Available",
        "dndStatus": "TakeAllCalls",
        "presenceStatus": "Busy",
        "telephonyStatus": "Ringing",
    }
    assert records[9]["queues"] == [{"extensionNumber": "202", "name": "Support"}]


@pytest.mark.parametrize(
    ("number", "body", "status", "parameter"),
    [
        ("999", {"userStatus": "Busy"}, 404, "extensionNumber"),
        ("201", {"userStatus": "Busy"}, 404, "extensionNumber"),  # a queue
        ("101", {}, 400, "userStatus"),
        ("101", {"userStatus": "Away"}, 400, "userStatus"),
        ("101", {"dndStatus": "Unknown"}, 400, "dndStatus"),
        ("101", {"dndStatus": True}, 400, "dndStatus"),
    ],
)
async def test_agent_presence_refuses_unknown_agents_and_values(
    number: str, body: dict[str, Any], status: int, parameter: str
) -> None:
    async with rig() as r:
        error = await set_presence(r.http, number, status, **body)
        assert_valid("ApiErrorResponseModel", error)
        assert error["parameterName"] == parameter
        not_json = await r.http.post(
            "/_sim/agents/101/presence",
            content=b"[1]",
            headers={"Content-Type": "application/json"},
        )
        assert not_json.status_code == 400


async def test_direct_call_to_an_agent_on_dnd_goes_to_voicemail() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_FILTER)
        await set_presence(r.http, "109", dndStatus="DoNotAcceptAnyCalls")
        await place_call(r.http, agent="109", auto_answer=False)
        flow = [await next_event(ws) for _ in range(4)]
        await ws.close()
    assert [summary(e) for e in flow] == [
        (2, "1", "Setup", "account"),
        (3, "2", "Setup", "extension"),
        (4, "1", "Answered", "account"),
        (5, "2", "Voicemail", "extension"),
    ]
    callee = flow[3]["body"]["parties"][0]
    assert callee["missedCall"] is True and "mobilePickupData" not in callee["status"]


async def test_queue_skips_members_on_dnd_or_away() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_FILTER)
        await set_presence(r.http, "101", dndStatus="DoNotAcceptAnyCalls")
        await set_presence(r.http, "102", userStatus="Busy")
        await set_presence(r.http, "103", userStatus="Offline")
        await set_presence(r.http, "104", dndStatus="DoNotAcceptDepartmentCalls")
        await place_call(r.http, scenario="queue", queue="201", auto_answer=False)
        frames = [f[1] for f in await fence(ws)]
        await ws.close()
    rung = [
        e["body"]["parties"][0]["extensionId"]
        for e in frames
        if e["body"]["parties"][0].get("queueCall")
    ]
    assert rung == ["1000000105"]  # the only Sales member taking queue calls


async def test_an_away_agent_lets_it_ring_to_voicemail() -> None:
    async with rig() as r:
        ws = await subscribed(r, ACCOUNT_FILTER)
        await set_presence(r.http, "110", userStatus="Busy")
        await place_call(r.http, agent="110", ring_seconds=1, talk_seconds=None)
        flow = [summary(await next_event(ws))[1:3] for _ in range(5)]
        await ws.close()
    assert flow == [
        ("1", "Setup"),
        ("2", "Setup"),
        ("1", "Answered"),
        ("2", "Proceeding"),  # it rings: away is not Do Not Disturb
        ("2", "Voicemail"),  # nobody at the desk to answer
    ]


async def transfer(r: Rig, session_id: str, target: dict[str, str]) -> None:
    party = f"p-{session_id[2:]}-2"
    response = await r.http.post(
        f"{ACCOUNT}/telephony/sessions/{session_id}/parties/{party}/transfer",
        json=target,
        headers=bearer(r.tokens["access_token"]),
    )
    assert response.status_code == 200, response.text


async def test_call_control_transfers_follow_availability() -> None:
    async with rig() as r:
        await set_presence(r.http, "102", dndStatus="DoNotAcceptAnyCalls")
        await set_presence(r.http, "107", dndStatus="DoNotAcceptAnyCalls")
        await set_presence(r.http, "108", userStatus="Busy")
        await set_presence(r.http, "109", userStatus="Offline")
        await set_presence(r.http, "110", dndStatus="DoNotAcceptDepartmentCalls")
        first = await place_call(r.http, agent="101", auto_answer=False)
        await phone(r.http, first, "answer")
        second = await place_call(r.http, agent="106", auto_answer=False)
        await phone(r.http, second, "answer")
        ws = await subscribed(r, ACCOUNT_FILTER)
        await transfer(r, first, {"extensionNumber": "102"})  # DND: voicemail
        await transfer(r, second, {"extensionNumber": "202"})  # nobody free
        flow = [summary(f[1])[1:3] for f in await fence(ws)]
        await ws.close()
    assert flow == [
        ("2", "Disconnected"),
        ("3", "Setup"),
        ("3", "Voicemail"),  # 102 on Do Not Disturb
        ("2", "Disconnected"),
        ("3", "Setup"),
        ("3", "Voicemail"),  # Support's queue voicemail: no member takes it
    ]
