"""The directory refresh against the embedded RingCentral: the extension
list, then each call queue's members, stored; what it costs in requests;
what a failure keeps; and the worker running it after it connects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from telephony.history import services
from telephony.models import Extension, QueueMember
from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.ratelimit import group_of
from telephony.worker import upkeep
from tests.support import WAIT
from tests.support.worker import fast_worker, is_status, receive_until, running

SALES, SUPPORT = "1000000201", "1000000202"
MEMBERSHIP = {
    SALES: [f"100000010{n}" for n in range(1, 6)],
    SUPPORT: [f"10000001{n:02}" for n in range(6, 11)],
}


def stored_membership() -> dict[str, list[str]]:
    membership: dict[str, list[str]] = {}
    for queue, member in QueueMember.objects.values_list(
        "queue_extension_id", "member_extension_id"
    ):
        membership.setdefault(queue, []).append(member)
    return membership


class Recorder:
    """Passes every request to the real client; notes what was asked."""

    def __init__(self, client: RingCentralClient) -> None:
        self.client = client
        self.asked: list[tuple[str, str, bool]] = []

    async def request(
        self, method: str, path: str, *, background: bool = False, **kw: Any
    ) -> dict[str, Any]:
        self.asked.append((method, path, background))
        return await self.client.request(method, path, background=background, **kw)


@pytest.mark.django_db(transaction=True)
async def test_refresh_stores_the_directory_then_every_queues_members(
    rc_client: RingCentralClient,
) -> None:
    recorder = Recorder(rc_client)
    told: list[dict[str, str]] = []
    queues = await upkeep.refresh_directory(
        recorder,  # type: ignore[arg-type]
        on_queues=told.append,
        members_interval=0,
    )
    assert queues == {SALES: "Sales", SUPPORT: "Support"}
    assert told == [queues]
    assert await database_sync_to_async(stored_membership)() == MEMBERSHIP
    assert await database_sync_to_async(Extension.objects.count)() == 12
    # The rate cost: one extension-list page (Medium), then one member list
    # per queue (Light); every request background (budgeted); the call-queue
    # list is not read (the extension list names the queues).
    assert [(group_of(m, p), p.split("?")[0], bg) for m, p, bg in recorder.asked] == [
        ("Medium", "/restapi/v1.0/account/~/extension", True),
        ("Light", f"/restapi/v1.0/account/~/call-queues/{SALES}/members", True),
        ("Light", f"/restapi/v1.0/account/~/call-queues/{SUPPORT}/members", True),
    ]


@pytest.mark.django_db(transaction=True)
async def test_member_lists_wait_until_the_resync_is_done(
    rc_client: RingCentralClient,
) -> None:
    # The resync's session reads share the Light group, and the floor needs
    # them first: a worker passes members_after=resynced.wait.
    recorder = Recorder(rc_client)
    resynced, told = asyncio.Event(), asyncio.Event()
    refresh = asyncio.create_task(
        upkeep.refresh_directory(
            recorder,  # type: ignore[arg-type]
            on_queues=lambda queues: told.set(),
            members_after=resynced.wait,
            members_interval=0,
        )
    )
    async with asyncio.timeout(WAIT):
        await told.wait()  # the extension list is read and stored
    assert [path for _, path, _ in recorder.asked if "call-queues" in path] == []
    resynced.set()
    async with asyncio.timeout(WAIT):
        await refresh
    assert sum("call-queues" in path for _, path, _ in recorder.asked) == 2
    assert await database_sync_to_async(stored_membership)() == MEMBERSHIP


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [403, 503])
async def test_a_failed_member_read_keeps_the_last_membership(
    rc_client: RingCentralClient, sim_api, status: int
) -> None:
    stale = {SALES: ["1000000101", "1000000999"]}
    await database_sync_to_async(services.queue_members_replace)(members=stale)
    response = await sim_api.post(
        "/_sim/faults",
        json={
            "fault": "http_status",
            "status": status,
            "path_prefix": f"/restapi/v1.0/account/~/call-queues/{SUPPORT}/",
        },
    )
    assert response.status_code == 200, response.text
    queues = await upkeep.refresh_directory(rc_client, members_interval=0)
    assert queues == {SALES: "Sales", SUPPORT: "Support"}  # the list was read
    assert await database_sync_to_async(stored_membership)() == stale
    # The next refresh (the fault was for one request) brings it up to date.
    await upkeep.refresh_directory(rc_client, members_interval=0)
    assert await database_sync_to_async(stored_membership)() == MEMBERSHIP


@pytest.mark.django_db(transaction=True)
async def test_an_unread_extension_list_reads_no_members(
    rc_client: RingCentralClient, sim_api
) -> None:
    await database_sync_to_async(services.queue_members_replace)(members=MEMBERSHIP)
    await sim_api.post(
        "/_sim/faults",
        json={
            "fault": "http_status",
            "status": 503,
            "path_prefix": "/restapi/v1.0/account/~/extension",
        },
    )
    recorder = Recorder(rc_client)
    assert await upkeep.refresh_directory(recorder) is None  # type: ignore[arg-type]
    assert len(recorder.asked) == 1
    assert await database_sync_to_async(stored_membership)() == MEMBERSHIP


@pytest.mark.django_db(transaction=True)
async def test_the_worker_refreshes_the_membership_when_it_connects(
    rc_client: RingCentralClient, probe
) -> None:
    layer, probe = probe
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await receive_until(layer, probe, is_status(True))
        # Cleared when the refresh started (before "connected" went out);
        # set once the member lists were read, after the resync.
        async with asyncio.timeout(WAIT):
            await worker.directory_refreshed.wait()
        assert worker.resynced.is_set()
    assert await database_sync_to_async(stored_membership)() == MEMBERSHIP
    assert worker.model.known.queues == {SALES: "Sales", SUPPORT: "Support"}
