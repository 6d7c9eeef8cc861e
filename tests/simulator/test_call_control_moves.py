"""The Call Control endpoints added to the first slice (docs/ringcentral.md 7):
real loopback sockets, every body and event validated against the
OpenAPI file."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from tests.simulator.test_call_control import SESSIONS, answered_call, assert_error
from tests.support.gateway import bearer, next_event, place_call, summary
from tests.support.openapi import assert_valid

TELEPHONY = "/restapi/v1.0/account/~/telephony"


def valid_event(envelope: dict[str, Any]) -> dict[str, Any]:
    """Validate a notification; `Voicemail` is the spelling real events use
    where the spec says `VoiceMail` (docs/ringcentral.md 9)."""
    checked = copy.deepcopy(envelope)
    status = checked["body"]["parties"][0]["status"]
    if status["code"] == "Voicemail":
        status["code"] = "VoiceMail"
    assert_valid("AccountTelephonySessionsEvent", checked)
    return dict(envelope["body"]["parties"][0])


async def events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [valid_event(await next_event(ws)) for _ in range(count)]


def codes(parties: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (p["id"].rsplit("-", 1)[1], p["status"]["code"], p["status"].get("reason", ""))
        for p in parties
    ]


def party_path(session_id: str, number: int) -> str:
    return f"{SESSIONS}/{session_id}/parties/p-{session_id[2:]}-{number}"


async def test_transfer_to_extension_is_blind_in_the_same_session(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    response = await http.post(
        f"{party_path(session_id, 2)}/transfer",
        json={"extensionNumber": "102"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 200, response.text
    assert_valid("CallParty", response.json())
    assert response.json()["status"] == {
        "code": "Disconnected",
        "reason": "BlindTransfer",
        "rcc": False,
    }
    flow = await events(socket, 3)
    assert codes(flow) == [
        ("2", "Disconnected", "BlindTransfer"),
        ("3", "Setup", ""),
        ("3", "Proceeding", ""),
    ]
    assert flow[2]["extensionId"] == "1000000102"


async def test_transfer_validates_target_and_state(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    session_id = await answered_call(http, socket)
    path = f"{party_path(session_id, 2)}/transfer"
    assert_error(await http.post(path, json={}, headers=headers), 400, "CMN-101")
    two = {"extensionNumber": "102", "phoneNumber": "+14155550100"}
    assert_error(await http.post(path, json=two, headers=headers), 400, "CMN-101")
    missing = await http.post(path, json={"extensionNumber": "999"}, headers=headers)
    assert assert_error(missing, 404, "CMN-102")["parameterName"] == "extensionNumber"
    ringing = await place_call(http, agent="104", auto_answer=False)
    refused = await http.post(
        f"{party_path(ringing, 2)}/transfer",
        json={"phoneNumber": "+14155550111"},
        headers=headers,
    )
    assert_error(refused, 409, "TAS-409")


async def test_park_and_pickup(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    session_id = await answered_call(http, socket)
    parked = await http.post(f"{party_path(session_id, 2)}/park", headers=headers)
    assert parked.status_code == 201, parked.text
    assert_valid("CallParty", parked.json())
    assert parked.json()["park"]["id"] and parked.json()["status"]["parkData"] == "*801"
    (event,) = await events(socket, 1)
    assert event["status"]["code"] == "Parked" and event["park"]["id"]
    picked = await http.post(
        f"{party_path(session_id, 2)}/pickup",
        json={"deviceId": "80000105"},
        headers=headers,
    )
    assert picked.status_code == 201, picked.text
    assert picked.json()["extensionId"] == "1000000105"
    assert codes(await events(socket, 3)) == [
        ("3", "Setup", ""),
        ("3", "Answered", ""),
        ("2", "Gone", "Pickup"),
    ]


async def test_recordings_start_201_and_pause_200(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    session_id = await answered_call(http, socket)
    path = f"{party_path(session_id, 2)}/recordings"
    started = await http.post(path, headers=headers)
    assert started.status_code == 201, started.text
    assert_valid("CallRecording", started.json())
    recording_id = started.json()["id"]
    assert started.json() == {"id": recording_id, "active": True}
    (event,) = await events(socket, 1)
    assert event["recordings"] == [{"id": recording_id, "active": True}]
    paused = await http.patch(
        f"{path}/{recording_id}", json={"active": False}, headers=headers
    )
    assert paused.status_code == 200 and paused.json()["active"] is False
    (event,) = await events(socket, 1)
    assert event["recordings"] == [{"id": recording_id, "active": False}]
    unknown = await http.patch(f"{path}/nope", json={"active": True}, headers=headers)
    assert assert_error(unknown, 404, "CMN-102")["parameterName"] == "recordingId"
    assert_error(
        await http.patch(f"{path}/{recording_id}", json={}, headers=headers),
        400,
        "CMN-101",
    )


async def test_session_supervise_needs_an_online_device(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    session_id = await answered_call(http, socket)
    path = f"{SESSIONS}/{session_id}/supervise"
    body = {"mode": "Listen", "agentExtensionNumber": "103"}
    for device in ("nope", "81000101"):  # unknown, and an offline softphone
        refused = await http.post(
            path, json={**body, "supervisorDeviceId": device}, headers=headers
        )
        assert assert_error(refused, 404, "CMN-102")["parameterName"] == "deviceId"
    response = await http.post(
        path, json={**body, "supervisorDeviceId": "80000101"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert_valid("SuperviseCallSessionResponse", response.json())
    assert response.json()["extensionId"] == "1000000101"
    assert codes(await events(socket, 2)) == [("3", "Setup", ""), ("3", "Answered", "")]
    again = await http.post(
        path, json={**body, "supervisorDeviceId": "80000102"}, headers=headers
    )
    assert_error(again, 409, "TAS-409")


async def test_party_supervise_and_delete_party(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    session_id = await answered_call(http, socket)
    response = await http.post(
        f"{party_path(session_id, 2)}/supervise",
        json={
            "mode": "Listen",
            "supervisorDeviceId": "80000109",
            "agentExtensionId": "1000000103",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert_valid("PartySuperviseResponse", response.json())
    await events(socket, 2)
    deleted = await http.delete(party_path(session_id, 3), headers=headers)
    assert deleted.status_code == 204
    assert codes(await events(socket, 1)) == [("3", "Disconnected", "")]
    assert_error(
        await http.delete(party_path(session_id, 2), headers=headers), 409, "TAS-409"
    )


async def test_bridge_joins_two_calls(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    first = await answered_call(http, socket)
    second = await place_call(
        http,
        scenario="internal",
        agent="103",
        to="106",
        ring_seconds=0,
        talk_seconds=None,
    )
    await events(socket, 5)
    response = await http.post(
        f"{party_path(first, 2)}/bridge",
        json={"telephonySessionId": second, "partyId": f"p-{second[2:]}-1"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid("CallParty", body)
    assert (body["status"]["code"], body["status"]["reason"]) == (
        "Gone",
        "AttendedTransfer",
    )
    assert body["status"]["peerId"]["telephonySessionId"] == second
    flow = await events(socket, 2)
    assert codes(flow) == [
        ("2", "Gone", "AttendedTransfer"),
        ("1", "Gone", "AttendedTransfer"),
    ]
    missing = await http.post(
        f"{party_path(first, 1)}/bridge",
        json={"telephonySessionId": "s-nope", "partyId": "p-1"},
        headers=headers,
    )
    assert_error(missing, 404, "CMN-102")


async def test_ringing_leg_actions_answer_reject_reply_forward_ignore(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    calls = [
        await place_call(http, agent=a, auto_answer=False)
        for a in ("101", "102", "103", "104")
    ]
    await events(socket, 16)
    answered = await http.post(
        f"{party_path(calls[0], 2)}/answer",
        json={"deviceId": "80000101"},
        headers=headers,
    )
    assert (
        answered.status_code == 200 and answered.json()["status"]["code"] == "Answered"
    )
    assert answered.json()["to"]["deviceId"] == "80000101"
    rejected = await http.post(f"{party_path(calls[1], 2)}/reject", headers=headers)
    assert rejected.status_code == 204
    replied = await http.post(
        f"{party_path(calls[2], 2)}/reply",
        json={"replyWithPattern": {"pattern": "OnMyWay"}},
        headers=headers,
    )
    assert replied.status_code == 200, replied.text
    assert_valid("ReplyParty", replied.json())
    forwarded = await http.post(
        f"{party_path(calls[3], 2)}/forward",
        json={"phoneNumber": "+14155550199"},
        headers=headers,
    )
    assert forwarded.status_code == 200, forwarded.text
    assert_valid("ForwardCallPartyResponse", forwarded.json())
    flow = await events(socket, 6)
    assert codes(flow) == [
        ("2", "Answered", ""),
        ("2", "Voicemail", ""),
        ("2", "Disconnected", "CallReplied"),
        ("1", "Disconnected", ""),
        ("2", "Disconnected", "CallRedirected"),
        ("3", "Proceeding", ""),
    ]
    ignored = await http.post(
        f"{party_path(calls[0], 2)}/ignore",
        json={"deviceId": "80000101"},
        headers=headers,
    )
    assert_error(ignored, 409, "TAS-409")
    assert_error(
        await http.post(f"{party_path(calls[0], 2)}/answer", json={}, headers=headers),
        400,
        "CMN-101",
    )


async def test_ignore_on_a_queue_agent_leg(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await place_call(
        http, scenario="queue", queue="201", agent="102", auto_answer=False
    )
    await events(socket, 4)
    response = await http.post(
        f"{party_path(session_id, 3)}/ignore",
        json={"deviceId": "80000102"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 204
    assert codes(await events(socket, 2)) == [
        ("3", "Disconnected", "Rejected"),
        ("2", "Voicemail", ""),
    ]


async def test_flip_rings_the_users_flip_number(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    session_id = await answered_call(http, socket)
    response = await http.post(
        f"{party_path(session_id, 2)}/flip",
        json={"callFlipId": "*2"},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 200, response.text
    assert codes(await events(socket, 2)) == [
        ("2", "Disconnected", "CallFlip"),
        ("3", "Proceeding", ""),
    ]


async def test_call_out_returns_wrapped_session_with_caller_in_setup(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    response = await http.post(
        f"{TELEPHONY}/call-out",
        json={"from": {"deviceId": "80000106"}, "to": {"phoneNumber": "+14155550100"}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-rate-limit-group"] == "Heavy"
    body = response.json()
    assert_valid("CallSession", body)
    assert body["session"]["origin"] == {"type": "CallOut"}
    assert codes(body["session"]["parties"]) == [("1", "Setup", "")]
    flow = await next_event(socket)
    assert flow["body"]["origin"] == {"type": "CallOut"}
    assert [summary(await next_event(socket))[1:3] for _ in range(2)] == [
        ("2", "Proceeding"),
        ("1", "Proceeding"),
    ]
    bad = await http.post(
        f"{TELEPHONY}/call-out",
        json={"from": {"deviceId": "nope"}, "to": {"phoneNumber": "+1"}},
        headers=headers,
    )
    assert assert_error(bad, 404, "CMN-102")["parameterName"] == "deviceId"


async def test_conference_and_bring_in(
    http: httpx.AsyncClient, tokens: dict[str, Any], socket: ClientConnection
) -> None:
    headers = bearer(tokens["access_token"])
    response = await http.post(f"{TELEPHONY}/conference", headers=headers)
    assert response.status_code == 201, response.text
    session = response.json()["session"]
    assert_valid("CallSession", response.json())
    assert session["origin"] == {"type": "Conference"} and session["parties"] == []
    assert session["voiceCallToken"].startswith("conf_")
    call = await answered_call(http, socket)
    joined = await http.post(
        f"{SESSIONS}/{session['id']}/parties/bring-in",
        json={"telephonySessionId": call, "partyId": f"p-{call[2:]}-1"},
        headers=headers,
    )
    assert joined.status_code == 201, joined.text
    assert_valid("CallParty", joined.json())
    assert joined.json()["conferenceRole"] == "Host"
    recording = await http.post(
        f"{SESSIONS}/{session['id']}/parties/{joined.json()['id']}/recordings",
        headers=headers,
    )
    assert_error(recording, 409, "TAS-409")
