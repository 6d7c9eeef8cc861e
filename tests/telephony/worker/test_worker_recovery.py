"""The worker's model equals the platform's truth after every kind of loss:
restarts, dropped sockets (recoverable or not), duplicated, reordered and
lost events, phone-side actions. Driven by the simulator's fault injection."""

from __future__ import annotations

import pytest

from tests.support.worker import (
    call_ended,
    call_update,
    fast_worker,
    fault,
    ground_truth,
    is_status,
    model_view,
    phone,
    place,
    receive_until,
    running,
)


async def test_a_restarted_worker_finds_calls_already_in_progress(
    rc_client, sim_api, probe
):
    layer, _ = probe
    ringing = await place(sim_api)
    talking = await place(sim_api)
    await phone(sim_api, talking, "answer")
    await phone(sim_api, talking, "hold")
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await worker.resynced.wait()
        assert model_view(worker) == await ground_truth(sim_api)
        assert set(model_view(worker)) == {ringing, talking}
        assert worker.model.get(talking)["state"] == "held"


async def test_recoverable_drop_replays_missed_events_without_a_resync(
    rc_client, sim_api, probe
):
    layer, channel = probe
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await receive_until(layer, channel, is_status(True))
        await worker.resynced.wait()
        session_id = await place(sim_api)
        await receive_until(layer, channel, call_update(session_id))
        assert (await fault(sim_api, fault="drop_websockets", recoverable=True))[
            "dropped"
        ] == 1
        await phone(sim_api, session_id, "answer")  # while the socket is down
        await receive_until(layer, channel, is_status(False))
        await receive_until(layer, channel, is_status(True))
        await receive_until(layer, channel, call_update(session_id, "talking"))
        assert worker.resyncs == 1  # only the first connection's
        assert model_view(worker) == await ground_truth(sim_api)


async def test_unrecoverable_drop_resyncs_the_model(rc_client, sim_api, probe):
    layer, channel = probe
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await receive_until(layer, channel, is_status(True))
        await worker.resynced.wait()
        kept = await place(sim_api)
        ended = await place(sim_api)
        await receive_until(layer, channel, call_update(ended))
        await fault(sim_api, fault="drop_websockets", recoverable=False)
        await phone(sim_api, kept, "answer")
        await phone(sim_api, ended, "hangup")
        await receive_until(layer, channel, is_status(False))
        await receive_until(layer, channel, is_status(True))
        await worker.resynced.wait()
        assert worker.resyncs == 2
        assert model_view(worker) == await ground_truth(sim_api)
        assert worker.model.get(ended) is None


@pytest.mark.parametrize(
    "event_fault",
    [
        {"fault": "duplicate_events", "ratio": 1.0},
        {"fault": "reorder_events", "ratio": 0.5},
        {"fault": "drop_events", "ratio": 0.3},
    ],
)
async def test_faulty_delivery_still_converges_on_the_truth(
    rc_client, sim_api, probe, event_fault
):
    layer, channel = probe
    worker = fast_worker(rc_client, layer, ghost_after=0.0)
    async with running(worker):
        await receive_until(layer, channel, is_status(True))
        await worker.resynced.wait()
        await fault(sim_api, **event_fault)
        calls = [await place(sim_api) for _ in range(4)]
        for session_id in calls:
            await phone(sim_api, session_id, "answer")
        await phone(sim_api, calls[0], "hold")
        await phone(sim_api, calls[1], "hangup")
        await phone(sim_api, calls[2], "mute")
        await sim_api.delete("/_sim/faults")
        # The truth is settled; whatever delivery lost, the sweeper (every
        # call counts as silent with ghost_after=0) must bring the model
        # there: ended calls go, stale states are re-read.
        await worker.settled()  # gap checks of what was seen
        await worker.sweep()
        assert model_view(worker) == await ground_truth(sim_api)


async def test_phone_side_hold_and_hangup_show_on_the_console(
    rc_client, sim_api, probe
):
    layer, channel = probe
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await receive_until(layer, channel, is_status(True))
        session_id = await place(sim_api)
        await phone(sim_api, session_id, "answer")
        await phone(sim_api, session_id, "hold")
        await receive_until(layer, channel, call_update(session_id, "held"))
        await phone(sim_api, session_id, "hangup")
        await receive_until(layer, channel, call_ended(session_id))
        assert model_view(worker) == await ground_truth(sim_api) == {}


async def test_a_call_whose_final_events_are_lost_leaves_within_a_sweep(
    rc_client, sim_api, probe
):
    """The sweeper compares the floor with RingCentral's presence every
    SWEEP_INTERVAL (30 s; here half a second) and re-reads only what
    differs: a call presence no longer lists is read (404) and ends."""
    layer, channel = probe
    worker = fast_worker(rc_client, layer, sweep_interval=0.5, ghost_after=0.2)
    async with running(worker):
        await receive_until(layer, channel, is_status(True))
        session_id = await place(sim_api)
        await phone(sim_api, session_id, "answer")
        await receive_until(layer, channel, call_update(session_id, "talking"))
        await fault(sim_api, fault="drop_events", ratio=1.0)
        await phone(sim_api, session_id, "hangup")  # nobody hears of it
        await receive_until(layer, channel, call_ended(session_id))
        await sim_api.delete("/_sim/faults")
        assert model_view(worker) == await ground_truth(sim_api) == {}
