"""The worker end to end: embedded RingCentral -> worker -> channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from telephony import broadcast
from telephony.ringcentral.client import RingCentralClient
from telephony.worker import TelephonyWorker
from tests.support.sim import phone, place_call
from tests.support.worker import (
    call_update,
    command,
    is_status,
    no_delay,
    receive_until,
    running,
)


async def wait_connected(layer: Any, probe: str) -> None:
    """The worker has subscribed: calls placed from now on are seen."""
    await receive_until(layer, probe, is_status(True))


@pytest.mark.django_db(transaction=True)
async def test_a_new_call_reaches_probe_and_hold_is_confirmed(
    rc_client: RingCentralClient, sim_api, probe
):
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        session_id = await place_call(sim_api)
        ringing = await receive_until(layer, probe, call_update(session_id))
        assert ringing["call"]["parties"]
        await phone(sim_api, session_id, "answer")
        talking = await receive_until(layer, probe, call_update(session_id, "talking"))
        agent_party = talking["call"]["agent_party_id"]
        assert agent_party

        _, reply = await command(layer, "hold", session_id, agent_party)
        assert reply["ok"] is True, reply
        held = await receive_until(layer, probe, call_update(session_id, "held"))
        assert held["seq"] > talking["seq"]

        await phone(sim_api, session_id, "hangup")
        ended = await receive_until(
            layer, probe, lambda m: m["type"] == "telephony.call_ended"
        )
        assert ended["call"]["id"] == session_id
        assert await worker.history.flush()

    audit, record = await database_sync_to_async(audit_and_history)(session_id)
    assert (audit.username, audit.action, audit.outcome) == (
        "alice",
        "hold",
        "accepted",
    )
    assert (record.result, record.ended, record.hold_count) == ("answered", True, 1)


def audit_and_history(session_id: str):
    # Through database_sync_to_async: the async ORM would leave a connection
    # open that PostgreSQL's test-database teardown refuses to drop.
    from telephony.models import CallRecord, CommandAudit

    return CommandAudit.objects.get(), CallRecord.objects.get(
        telephony_session_id=session_id
    )


@pytest.mark.django_db(transaction=True)
async def test_rejected_command_replies_with_ringcentral_code(
    rc_client, sim_api, probe
):
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        session_id = await place_call(sim_api)
        await phone(sim_api, session_id, "answer")
        talking = await receive_until(layer, probe, call_update(session_id, "talking"))
        # Not on hold: RingCentral answers 409.
        _, reply = await command(
            layer, "unhold", session_id, talking["call"]["agent_party_id"]
        )
    assert reply["ok"] is False
    assert reply["status"] == 409
    assert "not in a state" in reply["message"]


async def test_snapshot_request_returns_live_calls_with_sequence(
    rc_client, sim_api, probe
):
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        session_id = await place_call(sim_api)
        update = await receive_until(layer, probe, call_update(session_id))
        reply_channel = await layer.new_channel()
        await broadcast.request_snapshot(layer, reply_to=reply_channel)
        snapshot = await receive_until(layer, reply_channel, lambda m: True)
    assert snapshot["type"] == "telephony.snapshot_sent"
    assert snapshot["seq"] >= update["seq"]
    assert [c["id"] for c in snapshot["calls"]] == [session_id]
    assert snapshot["status"]["connected"] is True


async def test_bad_credentials_stop_the_stream_with_a_clear_status(
    simulator, probe, caplog
):
    layer, probe = probe
    client = RingCentralClient(
        server_url=simulator.url, client_id="wrong", client_secret="wrong", jwt="x"
    )
    worker = TelephonyWorker(client=client, layer=layer, reconnect_delays=no_delay)
    try:
        async with running(worker) as task:
            status = await receive_until(
                layer, probe, lambda m: m["type"] == "telephony.worker_status"
            )
            assert status["status"]["connected"] is False
            assert "OAU-" in status["status"]["error"]
            # The worker does not retry bad credentials, and still answers
            # consoles, which show the reason.
            reply_channel = await layer.new_channel()
            await broadcast.request_snapshot(layer, reply_to=reply_channel)
            snapshot = await receive_until(layer, reply_channel, lambda m: True)
            assert "OAU-" in snapshot["status"]["error"]
            assert not task.done()
    finally:
        await client.aclose()
    assert worker.fatal is not None
    assert any("RingCentral refused the worker" in r.message for r in caplog.records)


def agent_update(extension_id: str, availability: str):
    return lambda m: (
        m["type"] == "telephony.agent_updated"
        and m["agent"]["extension_id"] == extension_id
        and m["agent"]["availability"] == availability
    )


@pytest.mark.django_db(transaction=True)
async def test_agents_presence_comes_from_resync_then_from_notifications(
    rc_client: RingCentralClient, sim_api, probe
):
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        # The resync reads every extension's presence.
        await receive_until(layer, probe, agent_update("1000000103", "available"))
        response = await sim_api.post(
            "/_sim/agents/103/presence", json={"dndStatus": "DoNotAcceptAnyCalls"}
        )
        assert response.status_code == 200, response.text
        dnd = await receive_until(layer, probe, agent_update("1000000103", "dnd"))
        assert dnd["agent"]["dnd_status"] == "DoNotAcceptAnyCalls"
        await sim_api.post("/_sim/agents/103/presence", json={"userStatus": "Busy"})
        await sim_api.post(
            "/_sim/agents/103/presence", json={"dndStatus": "TakeAllCalls"}
        )
        await receive_until(layer, probe, agent_update("1000000103", "away"))
        snapshot = worker.snapshot()
        assert snapshot.seq == worker.seq
        presence = {a["extension_id"]: a["availability"] for a in snapshot.agents}
        assert presence["1000000103"] == "away"


def oversight(message_type: str, /, **fields: Any):
    return lambda m: (
        m["type"] == message_type
        and all(m["item"].get(k) == v for k, v in fields.items())
    )


@pytest.mark.django_db(transaction=True)
async def test_a_long_hold_alert_is_raised_acknowledged_for_all_and_cleared(
    rc_client: RingCentralClient, sim_api, probe
):
    from telephony.models import QueueSettings

    await database_sync_to_async(QueueSettings.objects.update_or_create)(
        queue_extension_id="", defaults={"long_hold_seconds": 1}
    )
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        session_id = await place_call(sim_api)
        await phone(sim_api, session_id, "answer")
        await phone(sim_api, session_id, "hold")
        raised = await receive_until(
            layer, probe, oversight("telephony.alert_changed", kind="long_hold")
        )
        alert = raised["item"]
        assert alert["fix"]["action"] == "unhold"
        assert alert["fix"]["sessionId"] == session_id
        await layer.send(
            broadcast.WORKER_INBOX,
            {
                "type": "telephony.alert_ack_requested",
                "reply_to": probe,
                "user": "sam",
                "alert_id": alert["id"],
            },
        )
        await receive_until(
            layer, probe, oversight("telephony.alert_changed", acked_by="sam")
        )
        await phone(sim_api, session_id, "unhold")
        await receive_until(
            layer, probe, oversight("telephony.alert_changed", cleared=True)
        )


@pytest.mark.django_db(transaction=True)
async def test_supervisors_on_a_call_are_told_to_every_process(
    rc_client: RingCentralClient, sim_api, probe
):
    layer, probe = probe
    worker = TelephonyWorker(client=rc_client, layer=layer, reconnect_delays=no_delay)
    async with running(worker):
        await wait_connected(layer, probe)
        session_id = await place_call(sim_api)
        await broadcast.report_viewing(
            layer, console="console-1", user="kim", session_id=session_id
        )
        seen = await receive_until(
            layer, probe, oversight("telephony.attention_changed", viewers=["kim"])
        )
        assert seen["item"]["session_id"] == session_id
        assert worker.snapshot().attention[0]["viewers"] == ["kim"]
