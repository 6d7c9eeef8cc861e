"""The call journal behind the live path: every published change stored in
order, the floor marked by reference, a bounded buffer, and a hold in
progress that keeps its hold time when the worker restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async

from telephony.history.journal import Journal
from telephony.live.model import Change
from telephony.models import CallEvent, CallRecord, FloorMark
from tests.support.calls import call_view
from tests.support.worker import (
    call_update,
    fast_worker,
    phone,
    place,
    receive_until,
    running,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def clock_from(start: datetime) -> Any:
    ticks = iter(range(10_000))
    return lambda: start + timedelta(seconds=next(ticks))


@pytest.mark.django_db(transaction=True)
async def test_changes_are_stored_in_order_and_the_floor_is_marked_by_reference():
    live = {"s-1", "s-2"}
    journal = Journal(live=lambda: live, clock=clock_from(T0))
    journal.record(Change("updated", 0, call_view("s-1")))
    journal.record(Change("updated", 0, call_view("s-2")))
    journal.record(Change("updated", 0, call_view("s-1", state="held")))
    journal.record(Change("updated", 0, call_view("s-3")))
    journal.record(Change("ended", 0, call_view("s-3")))
    assert await journal.flush() is True
    await journal.mark()

    def stored() -> tuple[list[Any], list[Any]]:
        events = list(
            CallEvent.objects.values_list("telephony_session_id", "kind", "at")
        )
        marks = list(FloorMark.objects.values_list("events", flat=True))
        return events, marks

    events, marks = await database_sync_to_async(stored)()
    assert [(sid, kind) for sid, kind, _ in events] == [
        ("s-1", "updated"),
        ("s-2", "updated"),
        ("s-1", "updated"),
        ("s-3", "updated"),
        ("s-3", "ended"),
    ]
    assert [at for *_, at in events] == [T0 + timedelta(seconds=n) for n in range(5)]
    ids = await database_sync_to_async(
        lambda: dict(
            CallEvent.objects.filter(kind="updated").values_list(
                "telephony_session_id", "pk"
            )
        )
    )()
    # One reference per live call: s-1's latest (held) state, s-2's.
    assert marks == [sorted([ids["s-1"], ids["s-2"]])]
    latest = await database_sync_to_async(CallEvent.objects.get)(pk=ids["s-1"])
    assert latest.call["state"] == "held"


@pytest.mark.django_db(transaction=True)
async def test_the_buffer_is_bounded_and_counts_what_it_drops():
    journal = Journal(max_buffered=3, clock=clock_from(T0))
    for n in range(5):
        journal.record(Change("updated", 0, call_view(f"s-{n}")))
    assert (journal.pending, journal.dropped) == (3, 2)
    await journal.flush()
    kept = await database_sync_to_async(
        lambda: list(CallEvent.objects.values_list("telephony_session_id", flat=True))
    )()
    assert kept == ["s-2", "s-3", "s-4"]  # the oldest went first


@pytest.mark.django_db(transaction=True)
async def test_a_hold_in_progress_keeps_its_hold_time_across_a_worker_restart(
    rc_client, sim_api, probe
):
    layer, channel = probe
    session_id = await place(sim_api, agent="102")
    first = fast_worker(rc_client, layer)
    async with running(first):
        await first.resynced.wait()
        await phone(sim_api, session_id, "answer")
        await receive_until(layer, channel, call_update(session_id, "talking"))
        await phone(sim_api, session_id, "hold")
        held = await receive_until(layer, channel, call_update(session_id, "held"))
        await first.journal.flush()
    agent = held["call"]["agent_party_id"]
    hold_began = next(p["since"] for p in held["call"]["parties"] if p["id"] == agent)

    def restored(message: dict[str, Any]) -> bool:
        return call_update(session_id, "held")(message) and any(
            p["id"] == agent and p["since"] == hold_began
            for p in message["call"]["parties"]
        )

    second = fast_worker(rc_client, layer)  # a new process: nothing in memory
    async with running(second):
        # The floor first, then its stored clocks (not the restart's time).
        await receive_until(layer, channel, restored)
        call = second.model.get(session_id)
        assert call is not None and call["state"] == "held"
        assert call["hold_count"] == held["call"]["hold_count"]
        restarted = datetime.fromisoformat(call["updated_at"].replace("Z", "+00:00"))
        await phone(sim_api, session_id, "unhold")
        await receive_until(layer, channel, call_update(session_id, "talking"))
        await phone(sim_api, session_id, "hangup")
        await receive_until(
            layer, channel, lambda m: m["type"] == "telephony.call_ended"
        )
        await second.history.flush()

    record = await database_sync_to_async(CallRecord.objects.get)(
        telephony_session_id=session_id
    )
    began = datetime.fromisoformat(hold_began.replace("Z", "+00:00"))
    # The whole hold is counted, the part before the restart included, once.
    assert record.hold_seconds >= (restarted - began).total_seconds()
    assert record.hold_count == 1


@pytest.mark.django_db(transaction=True)
def test_purge_history_keeps_the_retention_period_and_the_audit():
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from telephony.history import services
    from telephony.models import CommandAudit

    now = timezone.now()
    old, recent = now - timedelta(days=40), now - timedelta(days=2)
    services.call_events_append(
        entries=[
            {"at": at, "session_id": sid, "kind": "updated", "call": call_view(sid)}
            for at, sid in ((old, "s-old"), (recent, "s-new"))
        ]
    )
    services.floor_mark_create(at=old, events=[])
    for sid, seen in (("s-old", old), ("s-new", recent)):
        CallRecord.objects.create(
            telephony_session_id=sid, started_at=seen, last_seen_at=seen, ended=True
        )
    services.command_audit_create(
        username="alice",
        action="hold",
        telephony_session_id="s-old",
        party_id="p-1",
        outcome="accepted",
    )
    out = StringIO()
    call_command("purge_history", "--days", "30", stdout=out)
    assert "1 journal events, 1 floor marks, 1 finished calls" in out.getvalue()
    assert list(CallEvent.objects.values_list("telephony_session_id", flat=True)) == [
        "s-new"
    ]
    assert list(CallRecord.objects.values_list("telephony_session_id", flat=True)) == [
        "s-new"
    ]
    assert CommandAudit.objects.count() == 1  # evidence is kept
