"""Call queues and their members (docs/ringcentral.md 8.6), over HTTP and
over the WebSocket, validated against RingCentral's OpenAPI file."""

from __future__ import annotations

from tests.simulator.test_discovery import ACCOUNT, get_json
from tests.support.clock import rig
from tests.support.gateway import recv, request
from tests.support.openapi import assert_valid, spec

QUEUES = f"{ACCOUNT}/call-queues"
SALES, SUPPORT = "1000000201", "1000000202"


async def test_call_queue_list_names_the_queues_with_string_ids() -> None:
    async with rig() as r:
        body = await get_json(r, QUEUES)
        assert_valid("CallQueueList", body)
        assert [
            (q["id"], q["extensionNumber"], q["name"]) for q in body["records"]
        ] == [
            (SALES, "201", "Sales"),
            (SUPPORT, "202", "Support"),
        ]
        assert all(q["status"] == "Enabled" for q in body["records"])
        assert body["records"][0]["uri"].endswith(f"/call-queues/{SALES}")
        assert body["paging"]["totalElements"] == 2
        # The same queues as the extension list's Department records.
        departments = await get_json(r, f"{ACCOUNT}/extension?type=Department")
        assert [str(x["id"]) for x in departments["records"]] == [SALES, SUPPORT]


async def test_call_queue_list_pages_and_filters_by_member() -> None:
    async with rig() as r:
        second = await get_json(r, f"{QUEUES}?perPage=1&page=2")
        assert_valid("CallQueueList", second)
        assert [q["name"] for q in second["records"]] == ["Support"]
        assert "nextPage" not in second["navigation"]
        assert "page=1" in second["navigation"]["previousPage"]["uri"]
        # Carmen (103) is in Sales only; Grace (107) in Support only.
        carmen = await get_json(r, f"{QUEUES}?memberExtensionId=1000000103")
        assert [q["name"] for q in carmen["records"]] == ["Sales"]
        grace = await get_json(r, f"{QUEUES}?memberExtensionId=1000000107")
        assert [q["name"] for q in grace["records"]] == ["Support"]
        nobody = await get_json(r, f"{QUEUES}?memberExtensionId=42")
        assert nobody["records"] == [] and nobody["paging"]["totalElements"] == 0
        assert_valid("CallQueueList", nobody)
        error = await get_json(r, f"{QUEUES}?perPage=0", status=400)
        assert_valid("ApiErrorResponseModel", error)
        assert error["errorCode"] == "CMN-101"


async def test_members_are_the_agents_the_queue_rings_with_integer_ids() -> None:
    async with rig() as r:
        body = await get_json(r, f"{QUEUES}/{SALES}/members")
        assert_valid("CallQueueMembers", body)
        assert [(m["id"], m["extensionNumber"]) for m in body["records"]] == [
            (1000000101, "101"),
            (1000000102, "102"),
            (1000000103, "103"),
            (1000000104, "104"),
            (1000000105, "105"),
        ]
        first = body["records"][0]
        assert set(first) == {"uri", "id", "extensionNumber"}  # no name: the spec's
        assert first["uri"].endswith("/extension/1000000101")
        assert body["uri"].endswith(f"/call-queues/{SALES}/members?page=1&perPage=100")
        last = await get_json(r, f"{QUEUES}/{SUPPORT}/members?perPage=2&page=3")
        assert_valid("CallQueueMembers", last)
        assert [m["extensionNumber"] for m in last["records"]] == ["110"]
        assert last["paging"] == {
            "page": 3,
            "totalPages": 3,
            "perPage": 2,
            "totalElements": 5,
            "pageStart": 4,
            "pageEnd": 4,
        }


async def test_an_unknown_queue_is_404_naming_the_group() -> None:
    async with rig() as r:
        # An agent's id is an extension, but not a call queue.
        for group in ("42", "1000000101"):
            error = await get_json(r, f"{QUEUES}/{group}/members", status=404)
            assert_valid("ApiErrorResponseModel", error)
            assert (error["errorCode"], error["parameterName"]) == (
                "CMN-102",
                "groupId",
            )


async def test_rate_groups_follow_the_spec() -> None:
    paths = spec()["paths"]
    list_op = paths["/restapi/v1.0/account/{accountId}/call-queues"]["get"]
    members_op = paths[
        "/restapi/v1.0/account/{accountId}/call-queues/{groupId}/members"
    ]
    assert (list_op["x-throttling-group"], list_op["x-app-permission"]) == (
        "Medium",
        "ReadAccounts",
    )
    assert members_op["get"]["x-throttling-group"] == "Light"
    async with rig() as r:
        token = {"Authorization": f"Bearer {r.tokens['access_token']}"}
        listed = await r.http.get(QUEUES, headers=token)
        assert listed.headers["x-rate-limit-group"] == "Medium"
        members = await r.http.get(f"{QUEUES}/{SALES}/members", headers=token)
        assert members.headers["x-rate-limit-group"] == "Light"


async def test_call_queues_over_the_websocket_and_only_with_a_token() -> None:
    async with rig() as r:
        ws = await r.socket()
        await recv(ws)
        header, body = await request(ws, "GET", f"{QUEUES}/{SUPPORT}/members")
        await ws.close()
        assert header["status"] == 200
        assert header["headers"]["X-Rate-Limit-Group"] == "Light"
        assert_valid("CallQueueMembers", body)
        assert body["records"][0]["extensionNumber"] == "106"
        response = await r.http.get(QUEUES)
        assert response.status_code == 401
