"""The channel-layer contract: exact payloads, and that every payload
survives Redis (msgpack) and the browser (JSON), on a real Redis too."""

from __future__ import annotations

import asyncio
import json
import uuid

import msgpack
import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError

from telephony import broadcast
from telephony.live.views import AgentView
from tests.support import WAIT

AGENT: AgentView = {
    "extension_id": "101",
    "availability": "dnd",
    "since": "2026-01-15T10:00:00.000Z",
    "user_status": "Available",
    "dnd_status": "DoNotAcceptAnyCalls",
    "presence_status": "Available",
    "telephony_status": "NoCall",
}
CALL = {
    "id": "s-1",
    "state": "talking",
    "startedAt": "2026-01-15T10:00:00.000Z",
    "parties": [{"id": "p-1", "recordings": [{"id": "r1", "active": True}]}],
}
REDIS = "redis://127.0.0.1:6379/0"


async def every_payload(layer, channel: str) -> list[dict]:
    """Send one message of every type to `channel`; return them received."""
    await layer.group_add(broadcast.SUPERVISORS, channel)
    await broadcast.publish_call_changed(
        layer, kind="updated", epoch="e1", seq=1, call=CALL
    )
    await broadcast.publish_call_changed(
        layer, kind="ended", epoch="e1", seq=2, call=CALL
    )
    await broadcast.publish_agent_changed(layer, epoch="e1", seq=3, agent=AGENT)
    for seq, kind in enumerate(broadcast.OVERSIGHT_TYPES, start=4):
        await broadcast.publish_oversight(
            layer, kind=kind, epoch="e1", seq=seq, item={"id": kind}
        )
    await broadcast.publish_worker_status(
        layer, epoch="e1", seq=6, status={"connected": True}
    )
    await broadcast.send_snapshot(
        layer,
        channel=channel,
        epoch="e1",
        seq=3,
        calls=[CALL],
        agents=[],
        status={"connected": True},
    )
    await broadcast.reply_command(
        layer,
        channel=channel,
        request_id="r",
        ok=False,
        action="hold",
        session_id="s-1",
        message="m",
        status=429,
        error_code="CMN-301",
        retry_after=12.5,
    )
    await broadcast.confirm_command(
        layer, channel=channel, request_id="r", confirmed=True, message="ok"
    )
    await broadcast.send_health(layer, channel=channel, health={"connected": True})
    await broadcast.reply_error(layer, channel=channel, message="no")
    await broadcast.revoke_access(layer, reason="You logged out.", session_key="k1")
    await broadcast.change_access(layer, user_ids=[3, 1, 3])
    await broadcast.change_wall(layer, wall_id=7)
    await broadcast.publish_changes(
        layer,
        [
            broadcast.call_changed(kind="updated", epoch="e1", seq=7, call=CALL),
            broadcast.agent_changed(epoch="e1", seq=8, agent=AGENT),
        ],
    )
    async with asyncio.timeout(WAIT):
        return [await layer.receive(channel) for _ in range(16)]


async def test_payloads_are_exact_and_round_trip_msgpack_and_json():
    layer = InMemoryChannelLayer()
    received = await every_payload(layer, await layer.new_channel())
    assert received[0] == {
        "type": "telephony.call_updated",
        "epoch": "e1",
        "seq": 1,
        "call": CALL,
    }
    assert received[1]["type"] == "telephony.call_ended"
    assert {m["type"] for m in received} >= set(broadcast.CONSUMER_TYPES)
    assert received[-3] == {"type": "telephony.access_changed", "user_ids": ["1", "3"]}
    assert [c["seq"] for c in received[-1]["changes"]] == [7, 8]
    assert received[-2] == {"type": "telephony.wall_changed", "wall_id": "7"}
    for message in received:
        assert msgpack.unpackb(msgpack.packb(message)) == message
        assert json.loads(json.dumps(message)) == message


async def test_worker_inbox_and_group_work_across_redis():
    layer = RedisChannelLayer(hosts=[REDIS], prefix=f"test-{uuid.uuid4().hex}")
    try:
        received = await every_payload(layer, await layer.new_channel())
        assert [m["type"] for m in received][:2] == [
            "telephony.call_updated",
            "telephony.call_ended",
        ]
        await broadcast.request_snapshot(layer, reply_to="specific.reply!x")
        async with asyncio.timeout(WAIT):
            request = await layer.receive(broadcast.WORKER_INBOX)
        assert request == {
            "type": "telephony.snapshot_requested",
            "reply_to": "specific.reply!x",
        }
    finally:
        await layer.flush()
        await layer.close_pools()


async def test_a_send_over_a_dropped_connection_goes_again_once_it_can() -> None:
    tries: list[int] = []

    async def send() -> None:
        tries.append(len(tries))
        if len(tries) == 1:
            raise RedisConnectionError("Connection closed by server.")

    await broadcast.send_again(send)
    assert tries == [0, 1]  # failed before writing, then sent: once in all


async def test_a_send_gives_up_after_its_attempts_and_the_error_shows() -> None:
    tries: list[int] = []

    async def send() -> None:
        tries.append(1)
        raise ConnectionResetError("Redis is away")

    with pytest.raises(ConnectionResetError):
        await broadcast.send_again(send, attempts=2)
    assert len(tries) == 2


async def test_a_send_refused_by_its_check_is_never_tried() -> None:
    class Deposed(Exception):
        pass

    def fence() -> None:
        raise Deposed

    async def send() -> None:
        raise AssertionError("sent by a deposed leader")

    with pytest.raises(Deposed):
        await broadcast.send_again(send, before=fence)
