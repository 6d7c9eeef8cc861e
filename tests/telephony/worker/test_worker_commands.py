"""Every supervisor command through the worker against the embedded
RingCentral: accepted or rejected with RingCentral's code, then confirmed
(or not) by the telephony event that should follow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import User

from telephony import broadcast
from telephony.worker.commands import USER_BURST, UserLimits, transfer_allowed
from tests.support.worker import (
    call_update,
    command,
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

SUPERVISOR_DEVICE = "80000101"  # the simulated JWT owner's desk phone


@pytest.fixture
async def talking_call(rc_client, sim_api) -> Any:
    """A worker following the floor, and one answered call; yields
    (worker, layer, probe channel, session id, agent party id)."""
    layer = get_channel_layer()
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    worker = fast_worker(rc_client, layer, supervisor_device_id=SUPERVISOR_DEVICE)
    async with running(worker):
        await receive_until(layer, probe, is_status(True))
        session_id = await place(sim_api, agent="102")
        await phone(sim_api, session_id, "answer")
        update = await receive_until(layer, probe, call_update(session_id, "talking"))
        yield worker, layer, probe, session_id, update["call"]["agent_party_id"]
    await layer.group_discard(broadcast.SUPERVISORS, probe)


async def confirmed(layer: Any, action: str, *args: Any) -> dict:
    reply_channel, reply = await command(layer, action, *args)
    assert reply["ok"] is True, reply
    result = await receive_until(
        layer, reply_channel, lambda m: m["type"] == "telephony.command_confirmed"
    )
    assert result["confirmed"] is True, result
    return result


@pytest.mark.django_db(transaction=True)
async def test_mute_record_pause_resume_are_confirmed(talking_call, sim_api):
    worker, layer, _, session_id, party_id = talking_call
    await confirmed(layer, "mute", session_id, party_id)
    assert worker.model.get(session_id)["parties"][1]["muted"] is True
    await confirmed(layer, "unmute", session_id, party_id)
    await confirmed(layer, "record_start", session_id, party_id)
    agent = next(
        p for p in worker.model.get(session_id)["parties"] if p["id"] == party_id
    )
    recording_id = agent["recordings"][0]["id"]
    params = {"recordingId": recording_id}
    await confirmed(layer, "record_pause", session_id, party_id, params)
    await confirmed(layer, "record_resume", session_id, party_id, params)
    assert model_view(worker) == await ground_truth(sim_api)


@pytest.mark.django_db(transaction=True)
async def test_transfer_to_an_extension_moves_the_call(talking_call, sim_api):
    worker, layer, probe, session_id, party_id = talking_call
    await confirmed(layer, "transfer", session_id, party_id, {"extensionNumber": "103"})

    def target_rings(message: dict[str, Any]) -> bool:
        return call_update(session_id)(message) and any(
            p["extension_id"] == "1000000103" and p["status"] == "Proceeding"
            for p in message["call"]["parties"]
        )

    # The customer stays on the call while agent 103's new leg rings.
    await receive_until(layer, probe, target_rings)
    assert model_view(worker) == await ground_truth(sim_api)


@pytest.mark.django_db(transaction=True)
async def test_listen_adds_the_supervisors_leg(talking_call, sim_api):
    worker, layer, _, session_id, party_id = talking_call
    before = len(worker.model.get(session_id)["parties"])
    await confirmed(layer, "listen", session_id, party_id)
    call = worker.model.get(session_id)
    assert len(call["parties"]) == before + 1
    # The supervisor's leg is theirs, never the agent the buttons act on.
    assert call["agent_party_id"] == party_id
    assert [p["role"] for p in call["parties"]].count("monitor") == 1
    await confirmed(layer, "mute", session_id, call["agent_party_id"])
    muted = {p["role"]: p["muted"] for p in worker.model.get(session_id)["parties"]}
    assert muted["agent"] is True and muted["monitor"] is False


@pytest.mark.django_db(transaction=True)
async def test_end_call_is_confirmed_by_the_call_ending(talking_call, sim_api):
    worker, layer, _, session_id, party_id = talking_call
    await confirmed(layer, "end", session_id, party_id)
    assert worker.model.get(session_id) is None
    assert await ground_truth(sim_api) == {}


@pytest.mark.django_db(transaction=True)
async def test_a_429_storm_is_reported_as_rate_limited_with_retry_time(
    talking_call, sim_api
):
    _, layer, _, session_id, party_id = talking_call
    await fault(
        sim_api,
        fault="http_status",
        status=429,
        count=1,
        retry_after=30,
        path_prefix="/restapi/v1.0/account/~/telephony",
    )
    _, reply = await command(layer, "hold", session_id, party_id)
    assert (reply["ok"], reply["status"], reply["error_code"]) == (
        False,
        429,
        "CMN-301",
    )
    assert "Rate-limited by RingCentral, retry in 30 s" in reply["message"]
    # During the penalty the worker does not call RingCentral at all.
    _, again = await command(layer, "hold", session_id, party_id)
    assert again["status"] == 429 and again["retry_after"] <= 30


@pytest.mark.django_db(transaction=True)
async def test_expired_tokens_are_renewed_and_the_command_succeeds(
    talking_call, sim_api
):
    _, layer, _, session_id, party_id = talking_call
    assert (await fault(sim_api, fault="expire_tokens"))["expired"] >= 1
    await confirmed(layer, "hold", session_id, party_id)


@pytest.mark.django_db(transaction=True)
async def test_listen_without_a_device_is_refused_in_plain_words(rc_client, sim_api):
    layer = get_channel_layer()
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    worker = fast_worker(rc_client, layer)
    async with running(worker):
        await receive_until(layer, probe, is_status(True))
        session_id = await place(sim_api)
        await phone(sim_api, session_id, "answer")
        update = await receive_until(layer, probe, call_update(session_id, "talking"))
        _, reply = await command(
            layer, "listen", session_id, update["call"]["agent_party_id"]
        )
    assert reply["ok"] is False
    assert "No supervisor device" in reply["message"]


@pytest.mark.django_db(transaction=True)
async def test_a_command_without_answer_in_time_is_unknown_then_confirmed(
    rc_client, sim_api
):
    """No answer is not "failed": RingCentral may have done it, and the
    telephony event decides (a blind retry could transfer twice)."""
    import httpx

    from telephony.ringcentral.client import RingCentralClient
    from telephony.simulator.defaults import (
        LOCAL_CLIENT_ID,
        LOCAL_CLIENT_SECRET,
        LOCAL_JWT,
    )

    slow = RingCentralClient(
        server_url=rc_client.server_url,
        client_id=LOCAL_CLIENT_ID,
        client_secret=LOCAL_CLIENT_SECRET,
        jwt=LOCAL_JWT,
        timeout=httpx.Timeout(2.0, read=0.3),
    )
    layer = get_channel_layer()
    probe = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, probe)
    worker = fast_worker(slow, layer)
    try:
        async with running(worker):
            await receive_until(layer, probe, is_status(True))
            session_id = await place(sim_api)
            await phone(sim_api, session_id, "answer")
            update = await receive_until(
                layer, probe, call_update(session_id, "talking")
            )
            await fault(
                sim_api,
                fault="slow_http",
                ms=1500,
                count=1,
                path_prefix="/restapi/v1.0/account/~/telephony",
            )
            reply_channel, reply = await command(
                layer, "hold", session_id, update["call"]["agent_party_id"]
            )
            assert reply["ok"] is True
            assert "did not answer in time" in reply["message"]
            result = await receive_until(
                layer,
                reply_channel,
                lambda m: m["type"] == "telephony.command_confirmed",
            )
            assert result["confirmed"] is True
    finally:
        await slow.aclose()


@pytest.mark.django_db(transaction=True)
async def test_a_command_whose_event_is_lost_is_re_read_so_the_call_shows_the_truth(
    talking_call, sim_api
):
    worker, layer, probe, session_id, party_id = talking_call
    worker.commands.confirm_timeout = 0.3
    await fault(sim_api, fault="drop_events", ratio=1.0)  # the Hold event is lost
    reply_channel, reply = await command(layer, "hold", session_id, party_id)
    assert reply["ok"] is True
    result = await receive_until(
        layer, reply_channel, lambda m: m["type"] == "telephony.command_confirmed"
    )
    assert result["confirmed"] is False
    # Not confirmed: the worker read the call again and published the truth.
    held = await receive_until(layer, probe, call_update(session_id, "held"))
    assert held["call"]["agent_party_id"] == party_id
    await sim_api.delete("/_sim/faults")


@pytest.mark.django_db(transaction=True)
async def test_a_transfer_to_an_unknown_extension_says_so_with_ringcentrals_code(
    talking_call,
):
    _, layer, _, session_id, party_id = talking_call
    _, reply = await command(
        layer, "transfer", session_id, party_id, {"extensionNumber": "999"}
    )
    assert (reply["ok"], reply["status"], reply["error_code"]) == (
        False,
        404,
        "CMN-102",
    )
    assert "No extension 999 on this account" in reply["message"]
    assert "no longer exists" not in reply["message"]


def test_a_supervisors_share_a_burst_then_one_every_refill() -> None:
    now = [0.0]
    limits = UserLimits(
        lambda: now[0], burst=3, refill=2.0, in_flight=10, per_minute=1000
    )
    assert [limits.take("bob") for _ in range(3)] == [None, None, None]
    refused = limits.take("bob")
    assert refused is not None and refused.status == 429
    assert "Too many commands from you" in refused.message
    assert refused.retry_after == 2.0
    assert limits.take("carol") is None  # another supervisor is not held up
    now[0] += 2.0
    assert limits.take("bob") is None
    assert limits.take("bob") is not None


def test_supervisors_acting_at_once_share_the_accounts_budget() -> None:
    """Three supervisors busy within a minute get a third of the budget
    each (40 a minute together, under RingCentral's 50), so even all of
    them flooding cannot drain it; alone again, one gets the full share."""
    now = [0.0]
    limits = UserLimits(lambda: now[0], burst=1, refill=2.0, per_minute=40)
    for user in ("ann", "bob", "cy"):
        assert limits.take(user) is None
        limits.done(user)
    assert limits.interval(now[0]) == 4.5  # 3 x 60 s / 40
    now[0] += 2.0
    refused = limits.take("ann")
    assert refused is not None and refused.retry_after == 2.5
    now[0] += 2.5
    assert limits.take("ann") is None
    limits.done("ann")
    now[0] += 61.0  # bob and cy went quiet
    assert limits.interval(now[0]) == 2.0


def test_commands_awaiting_ringcentral_are_capped_per_supervisor() -> None:
    limits = UserLimits(lambda: 0.0, burst=10, refill=1.0, in_flight=2)
    assert limits.take("bob") is None and limits.take("bob") is None
    waiting = limits.take("bob")
    assert waiting is not None and "2 commands waiting" in waiting.message
    limits.done("bob")
    assert limits.take("bob") is None


@pytest.mark.django_db(transaction=True)
async def test_one_supervisors_flood_is_refused_and_others_still_act(
    talking_call, sim_api
):
    """1,000 clicks in 2 s drained the shared budget for everyone; now the
    flooding supervisor is told to wait and another one's Hold goes through."""
    _, layer, _, session_id, party_id = talking_call
    # All at once, as a flood comes (the worker runs commands concurrently).
    flood = await asyncio.gather(
        *(
            command(
                layer,
                "mute" if n % 2 == 0 else "unmute",
                session_id,
                party_id,
                user="flooder",
                request_id=f"flood-{n}",
            )
            for n in range(USER_BURST + 3)
        )
    )
    replies = [reply for _, reply in flood]
    # Refused here, before RingCentral is called: 429 without RingCentral's
    # error code, saying why (too many waiting, or too many too fast).
    ours = [r for r in replies if r["status"] == 429 and r["error_code"] is None]
    assert ours, replies
    assert all(
        "commands waiting for RingCentral" in r["message"]
        or "Too many commands from you" in r["message"]
        for r in ours
    )
    assert len(replies) - len(ours) <= USER_BURST  # what reached RingCentral
    # Another supervisor is not held to the flooder's share.
    _, other = await command(layer, "hold", session_id, party_id, user="alice")
    assert not (other["status"] == 429 and other["error_code"] is None), other


def audit_rows() -> list[dict[str, Any]]:
    from telephony.models import CommandAudit

    return list(
        CommandAudit.objects.order_by("pk").values(
            "user_id", "username", "action", "params", "outcome", "http_status"
        )
    )


@pytest.mark.django_db(transaction=True)
async def test_an_outside_transfer_destination_must_be_allowed(
    talking_call, sim_api, settings
):
    """An outside number costs money and takes the customer off the
    account: refused in plain words unless an administrator allowed it;
    the audit row keeps the destination and who asked, by reference too."""
    _, layer, _, session_id, party_id = talking_call
    user = await database_sync_to_async(User.objects.create_user)("carol")
    before = await ground_truth(sim_api)
    _, reply = await command(
        layer,
        "transfer",
        session_id,
        party_id,
        {"phoneNumber": "+14155550199"},
        user="carol",
        user_id=user.pk,
    )
    assert (reply["ok"], reply["status"], reply["error_code"]) == (False, 403, None)
    assert reply["message"].startswith(
        "Transfer refused: +14155550199 is not an allowed outside destination."
    )
    assert await ground_truth(sim_api) == before  # RingCentral never asked
    settings.TRANSFER_ALLOWED_NUMBERS = ["+1415*"]
    _, reply = await command(
        layer,
        "transfer",
        session_id,
        party_id,
        {"phoneNumber": "+14155550199"},
        user="carol",
        user_id=user.pk,
        request_id="again",
    )
    assert reply["ok"] is True, reply
    rows = await database_sync_to_async(audit_rows)()
    assert rows == [
        {
            "user_id": user.pk,
            "username": "carol",
            "action": "transfer",
            "params": {"phoneNumber": "+14155550199"},
            "outcome": outcome,
            "http_status": status,
        }
        for outcome, status in (("rejected", 403), ("accepted", 200))
    ]


@pytest.mark.django_db(transaction=True)
async def test_the_audit_keeps_a_recording_id_and_survives_a_rename(
    talking_call, sim_api
):
    worker, layer, _, session_id, party_id = talking_call
    user = await database_sync_to_async(User.objects.create_user)("dave")
    await confirmed(layer, "record_start", session_id, party_id)
    agent = next(
        p for p in worker.model.get(session_id)["parties"] if p["id"] == party_id
    )
    params = {"recordingId": agent["recordings"][0]["id"]}
    _, reply = await command(
        layer,
        "record_pause",
        session_id,
        party_id,
        params,
        user="dave",
        user_id=user.pk,
    )
    assert reply["ok"] is True, reply

    def renamed() -> dict[str, Any]:
        from telephony.models import CommandAudit

        User.objects.filter(pk=user.pk).update(username="david")
        row = CommandAudit.objects.get(action="record_pause")
        return {
            "user": row.user.username,
            "username": row.username,
            "params": row.params,
        }

    assert await database_sync_to_async(renamed)() == {
        "user": "david",  # who it is now
        "username": "dave",  # who it was when they acted
        "params": params,
    }


def test_the_allow_list_matches_whole_numbers_or_prefixes() -> None:
    allowed = ["+14155550100", "+44*"]
    assert transfer_allowed("+14155550100", allowed)
    assert not transfer_allowed("+141555501001", allowed)
    assert transfer_allowed("+442071234567", allowed)
    assert not transfer_allowed("+4", allowed)
    assert not transfer_allowed("+14155550100", [])
