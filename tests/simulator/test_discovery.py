"""Discovery: extensions, devices, presence and active calls (docs/ringcentral.md 8)."""

from __future__ import annotations

from typing import Any

from tests.support.clock import SPEED, Rig, rig
from tests.support.gateway import bearer, phone, place_call, recv, request
from tests.support.openapi import assert_valid

ACCOUNT = "/restapi/v1.0/account/~"


async def get_json(r: Rig, path: str, status: int = 200) -> dict[str, Any]:
    response = await r.http.get(path, headers=bearer(r.tokens["access_token"]))
    assert response.status_code == status, response.text
    return dict(response.json())


async def test_extension_list_has_agents_and_queues_with_integer_ids() -> None:
    async with rig() as r:
        body = await get_json(r, f"{ACCOUNT}/extension")
        assert_valid("GetExtensionListResponse", body)
        records = body["records"]
        assert [x["type"] for x in records].count("User") == 10
        assert [x["type"] for x in records].count("Department") == 2
        alice = records[0]
        assert alice["id"] == 1000000101 and alice["extensionNumber"] == "101"
        assert alice["name"] == "Alice Agent" and alice["status"] == "Enabled"
        assert alice["contact"]["firstName"] == "Alice"
        assert body["paging"] == {
            "page": 1,
            "totalPages": 1,
            "perPage": 100,
            "totalElements": 12,
            "pageStart": 0,
            "pageEnd": 11,
        }


async def test_extension_list_pages_and_filters() -> None:
    async with rig() as r:
        second = await get_json(r, f"{ACCOUNT}/extension?perPage=5&page=2")
        assert_valid("GetExtensionListResponse", second)
        assert [x["extensionNumber"] for x in second["records"]] == [
            "106",
            "107",
            "108",
            "109",
            "110",
        ]
        assert {"firstPage", "lastPage", "nextPage", "previousPage"} <= set(
            second["navigation"]
        )
        assert "page=3" in second["navigation"]["nextPage"]["uri"]
        last = await get_json(r, f"{ACCOUNT}/extension?perPage=5&page=3")
        assert len(last["records"]) == 2 and "nextPage" not in last["navigation"]
        queues = await get_json(r, f"{ACCOUNT}/extension?type=Department")
        assert [q["extensionNumber"] for q in queues["records"]] == ["201", "202"]
        users = await get_json(r, f"{ACCOUNT}/extension?type=User&status=Enabled")
        assert users["paging"]["totalElements"] == 10
        error = await get_json(r, f"{ACCOUNT}/extension?perPage=0", status=400)
        assert_valid("ApiErrorResponseModel", error)
        assert error["errorCode"] == "CMN-101"


async def test_one_extension_and_its_devices() -> None:
    async with rig() as r:
        me = await get_json(r, f"{ACCOUNT}/extension/~")
        assert_valid("GetExtensionInfoResponse", me)
        assert me["id"] == 1000000101 and me["account"]["id"] == "1000000001"
        queue = await get_json(r, f"{ACCOUNT}/extension/1000000201")
        assert queue["type"] == "Department"
        devices = await get_json(r, f"{ACCOUNT}/extension/1000000102/device")
        assert_valid("GetExtensionDevicesResponse", devices)
        desk = devices["records"][0]
        assert (desk["id"], desk["type"], desk["status"]) == (
            "80000102",
            "HardPhone",
            "Online",
        )
        assert desk["extension"] == {
            "id": 1000000102,
            "uri": me["uri"].replace("101", "102"),
            "extensionNumber": "102",
        }
        for path in ("/extension/42", "/extension/42/device", "/extension/42/presence"):
            error = await get_json(r, ACCOUNT + path, status=404)
            assert_valid("ApiErrorResponseModel", error)
            assert error["parameterName"] == "extensionId"


async def presence(r: Rig, extension: str = "~") -> dict[str, Any]:
    path = f"{ACCOUNT}/extension/{extension}/presence?detailedTelephonyState=true"
    body = await get_json(r, path)
    assert_valid("PresenceInfoResponse", body)
    return body


async def test_presence_follows_the_live_call() -> None:
    async with rig() as r:
        idle = await presence(r)
        assert (idle["telephonyStatus"], idle["presenceStatus"]) == (
            "NoCall",
            "Available",
        )
        assert idle["activeCalls"] == [] and idle["extension"]["id"] == 1000000101
        session_id = await place_call(r.http, agent="101", auto_answer=False)
        ringing = await presence(r)
        assert ringing["telephonyStatus"] == "Ringing"
        (call,) = ringing["activeCalls"]
        assert call["telephonySessionId"] == session_id
        assert call["direction"] == "Inbound" and call["partyId"].endswith("-2")
        await phone(r.http, session_id, "answer")
        assert (await presence(r))["telephonyStatus"] == "CallConnected"
        await phone(r.http, session_id, "hold")
        held = await presence(r)
        assert held["telephonyStatus"] == "OnHold"
        assert held["presenceStatus"] == "Busy"
        await phone(r.http, session_id, "hangup")
        assert (await presence(r))["telephonyStatus"] == "NoCall"
        plain = await get_json(r, f"{ACCOUNT}/extension/~/presence")
        assert "activeCalls" not in plain


async def test_account_presence_lists_every_extension() -> None:
    async with rig() as r:
        await place_call(r.http, agent="103", auto_answer=False)
        body = await get_json(r, f"{ACCOUNT}/presence?detailedTelephonyState=true")
        assert_valid("AccountPresenceInfo", body)
        by_number = {x["extension"]["extensionNumber"]: x for x in body["records"]}
        assert len(by_number) == 12
        assert by_number["103"]["telephonyStatus"] == "Ringing"
        assert by_number["101"]["telephonyStatus"] == "NoCall"


async def active_calls(r: Rig, path: str = f"{ACCOUNT}/active-calls") -> list[Any]:
    body = await get_json(r, path)
    assert_valid("CallLogResponse", body)
    return list(body["records"])


async def test_active_calls_lag_behind_and_linger_after_the_end() -> None:
    async with rig() as r:
        session_id = await place_call(r.http, agent="104", auto_answer=False)
        assert await active_calls(r) == []  # ringing calls are not listed
        await phone(r.http, session_id, "answer")
        assert await active_calls(r) == []  # 3-10 s behind
        r.clock.advance(10 / SPEED)
        (record,) = await active_calls(r)
        assert record["telephonySessionId"] == session_id
        assert (record["type"], record["direction"], record["result"]) == (
            "Voice",
            "Inbound",
            "In Progress",
        )
        assert record["to"]["name"] == "Deepak Rao"
        mine = await active_calls(r, f"{ACCOUNT}/extension/1000000104/active-calls")
        assert [x["telephonySessionId"] for x in mine] == [session_id]
        assert await active_calls(r, f"{ACCOUNT}/extension/~/active-calls") == []
        await phone(r.http, session_id, "hangup")
        r.clock.advance(119 / SPEED)
        assert len(await active_calls(r)) == 1  # still lingering
        r.clock.advance(2 / SPEED)
        assert await active_calls(r) == []


async def test_discovery_works_over_the_websocket() -> None:
    async with rig() as r:
        ws = await r.socket()
        await recv(ws)
        header, body = await request(ws, "GET", f"{ACCOUNT}/extension/~/presence")
        await ws.close()
        assert header["status"] == 200
        assert header["headers"]["X-Rate-Limit-Group"] == "Light"
        assert_valid("PresenceInfoResponse", body)


async def test_discovery_needs_a_bearer_token() -> None:
    async with rig() as r:
        response = await r.http.get(f"{ACCOUNT}/extension")
        assert response.status_code == 401
        assert_valid("ApiErrorResponseModel", response.json())
