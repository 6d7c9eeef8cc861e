"""Call history: the captured flows through LiveModel into HistoryWriter and
the database, upserts across restarts, failures and the buffer's bounds."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async

from telephony.history import services
from telephony.history.writer import HistoryWriter
from telephony.live.model import Change, LiveModel
from telephony.models import CallRecord, PartyRecord
from telephony.ringcentral.events import parse_session_event
from telephony.worker import TelephonyWorker
from tests.support import WAIT
from tests.support.paths import CAPTURED
from tests.support.sim import phone, place_call
from tests.support.worker import receive_one

IVR = "inbound-pstn-ivr-user-hold.json"
INTERNAL = "internal-ext-to-ext-hold.json"
OUTBOUND = "outbound-user-to-pstn-hold.json"
IVR_ID = "s-718107795d564867a6f635fd81e89940"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def changes(name: str, model: LiveModel | None = None) -> list[Change]:
    model = model or LiveModel()
    envelopes = json.loads((CAPTURED / name).read_text())
    found = [model.apply(parse_session_event(env)) for env in envelopes]
    return [c for c in found if c is not None]


def fed(*names: str) -> HistoryWriter:
    writer = HistoryWriter()
    for name in names:
        for change in changes(name):
            writer.record(change)
    return writer


# Per flow: start, answer, end, ring, talk, hold, holds, direction, agent
# (id, name), customer (number, name), parties.
EXPECTED = {
    IVR: (
        "2020-06-23T01:05:43.940Z",
        "2020-06-23T01:06:00.001Z",
        "2020-06-23T01:06:14.812Z",
        *(16.061, 12.418, 2.393, 1, "Inbound"),
        *("809646016", "Alice Agent", "+14155550100", "WIRELESS CALLER", 3),
    ),
    INTERNAL: (
        "2020-06-23T01:17:14.330Z",
        "2020-06-23T01:17:21.084Z",
        "2020-06-23T01:17:35.061Z",
        *(6.754, 9.658, 4.319, 1, "Internal"),
        *("809646016", "Alice Agent", "+17205550142", "Bob Builder", 2),
    ),
    OUTBOUND: (
        "2020-06-23T01:19:21.627Z",
        "2020-06-23T01:19:28.900Z",
        "2020-06-23T01:19:45.032Z",
        *(7.273, 12.857, 3.275, 1, "Outbound"),
        *("809646016", "Alice Agent", "+14155550100", "", 2),
    ),
}


# The ORM through database_sync_to_async, which closes its connection (the
# async ORM would leave one open in the shared thread: PostgreSQL then
# refuses to drop the test database).
async def one_row(**filters: Any) -> CallRecord:
    return await database_sync_to_async(CallRecord.objects.get)(**filters)


async def count(queryset: Any) -> int:
    return await database_sync_to_async(queryset.count)()


def summary(row: CallRecord) -> tuple[Any, ...]:
    return (
        row.started_at,
        row.answered_at,
        row.ended_at,
        *(row.ring_seconds, row.talk_seconds, row.hold_seconds, row.hold_count),
        row.direction,
        *(row.agent_extension_id, row.agent_name),
        *(row.customer_number, row.customer_name, row.parties.count()),
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", [IVR, INTERNAL, OUTBOUND])
async def test_captured_flow_becomes_one_answered_record(name: str) -> None:
    writer = fed(name)
    assert await writer.flush() is True
    row = await one_row()
    start, answer, end, *rest = EXPECTED[name]
    expected = (utc(start), utc(answer), utc(end), *rest)
    assert await database_sync_to_async(summary)(row) == expected
    assert (row.result, row.ended, row.final_reason) == ("answered", True, "")
    assert writer.pending == 0


@pytest.mark.django_db(transaction=True)
async def test_ivr_flow_parties_keep_first_and_final_status() -> None:
    writer = fed(IVR)
    await writer.flush()
    parties = await database_sync_to_async(list)(
        PartyRecord.objects.order_by("party_id")
    )
    assert [(p.party_id[-1], p.first_status, p.status) for p in parties] == [
        ("1", "Setup", "Disconnected"),
        ("2", "Setup", "Disconnected"),
        ("3", "Setup", "Disconnected"),
    ]
    agent = parties[2]
    assert agent.extension_id == "809646016"
    assert agent.answered_at == utc("2020-06-23T01:06:00.001Z")
    assert agent.ended_at == utc("2020-06-23T01:06:14.808Z")
    assert parties[1].answered_at is None  # the IVR leg never answered
    assert (agent.from_name, agent.to_name) == ("WIRELESS CALLER", "Alice Agent")


@pytest.mark.django_db(transaction=True)
async def test_call_in_progress_is_written_then_updated_in_place() -> None:
    ivr = changes(IVR)
    writer = HistoryWriter()
    for change in ivr[:8]:  # up to the hold (sequence 9)
        writer.record(change)
    await writer.flush()
    row = await one_row()
    assert (row.result, row.ended, row.ended_at) == ("in_progress", False, None)
    assert row.last_seen_at == utc("2020-06-23T01:06:04.601Z")
    assert row.ring_seconds == 16.061
    assert row.talk_seconds == 4.6  # answer to last seen, no hold closed yet
    for change in ivr[8:]:
        writer.record(change)
    await writer.flush()
    row = await one_row()
    assert (row.result, row.hold_seconds, row.hold_count) == ("answered", 2.393, 1)
    assert await count(PartyRecord.objects.all()) == 3


@pytest.mark.django_db(transaction=True)
async def test_worker_restart_mid_call_updates_the_same_row() -> None:
    """A second model and writer (a restarted worker) see the rest of the
    call: still one row, the earliest start and answer, hold time and holds
    from both lives, the parties the second life never saw kept."""
    events = [parse_session_event(e) for e in json.loads((CAPTURED / IVR).read_text())]
    first_model, first = LiveModel(), HistoryWriter()
    for event in events[:9]:  # through the unhold (sequence 10)
        if (change := first_model.apply(event)) is not None:
            first.record(change)
    await first.flush()
    # After the restart: the agent holds again for 3 s, then both hang up.
    hold, unhold, agent_gone, caller_gone = events[7], events[8], *events[9:]
    later = [
        replace(hold, uuid="h2", sequence=11, event_time=utc("2020-06-23T01:06:07Z")),
        replace(unhold, uuid="u2", sequence=12, event_time=utc("2020-06-23T01:06:10Z")),
        replace(agent_gone, sequence=13),
        replace(caller_gone, sequence=14),
    ]
    second_model, second = LiveModel(), HistoryWriter()
    for event in later:
        if (change := second_model.apply(event)) is not None:
            second.record(change)
    await second.flush()
    row = await one_row()
    assert row.started_at == utc("2020-06-23T01:05:43.940Z")
    assert row.answered_at == utc("2020-06-23T01:06:00.001Z")
    assert row.ended_at == utc("2020-06-23T01:06:14.808Z")
    assert (row.hold_seconds, row.hold_count) == (5.393, 2)
    assert (row.result, row.ended) == ("answered", True)
    assert (row.customer_number, row.agent_name) == ("+14155550100", "Alice Agent")
    assert await count(PartyRecord.objects.all()) == 3


@pytest.mark.django_db(transaction=True)
async def test_failing_write_is_retried_and_never_raises_into_record(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = services.call_history_apply
    calls = 0

    def flaky(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is down")
        return real(**kwargs)

    monkeypatch.setattr(services, "call_history_apply", flaky)
    ivr = changes(IVR)
    writer = HistoryWriter()
    for change in ivr[:5]:
        writer.record(change)
    with caplog.at_level(logging.ERROR, logger="telephony.history.writer"):
        assert await writer.flush() is False
    assert "database is down" in caplog.text
    assert writer.failures == 1
    for change in ivr[5:]:  # the live path goes on
        writer.record(change)
    assert await writer.flush() is True
    row = await one_row()
    assert (row.result, row.hold_seconds, writer.failures) == ("answered", 2.393, 0)
    assert calls == 2


@pytest.mark.django_db(transaction=True)
async def test_cancelled_flush_waits_for_the_write_it_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shutdown cancels run() mid-write: the transaction commits anyway, so
    the writer waits for it and does not send the same news twice."""
    real, started, release = (
        services.call_history_apply,
        threading.Event(),
        threading.Event(),
    )

    def slow(**kwargs: Any) -> Any:
        started.set()
        assert release.wait(WAIT)
        return real(**kwargs)

    monkeypatch.setattr(services, "call_history_apply", slow)
    writer = fed(IVR)
    flushing = asyncio.create_task(writer.flush())
    assert await asyncio.to_thread(started.wait, WAIT)
    flushing.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    assert (writer.pending, writer.failures) == (0, 0)
    row = await one_row()
    assert (row.hold_seconds, row.result) == (2.393, "answered")


def test_record_never_touches_the_database() -> None:
    """No django_db mark: any query would fail the test."""
    writer = fed(IVR, INTERNAL, OUTBOUND)
    assert writer.pending == 3


def test_buffer_is_bounded_and_drops_ended_calls_first() -> None:
    writer = HistoryWriter(max_sessions=2)
    ended_ivr = changes(IVR)
    live_internal = changes(INTERNAL)[:3]
    for change in [*ended_ivr, *live_internal, *changes(OUTBOUND)[:2]]:
        writer.record(change)
    assert writer.dropped == 1
    assert writer.pending == 2  # the ended IVR call went first
    assert IVR_ID not in writer._dirty


@pytest.mark.django_db(transaction=True)
async def test_run_flushes_when_the_buffer_is_large() -> None:
    writer = HistoryWriter(flush_interval=3600, flush_size=2)
    task = asyncio.create_task(writer.run())
    try:
        writer.record(changes(IVR)[0])
        writer.record(changes(OUTBOUND)[0])  # the second session: flush now
        async with asyncio.timeout(WAIT):
            await writer.written.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await count(CallRecord.objects.all()) == 2


@pytest.mark.django_db(transaction=True)
def test_close_missing_marks_open_rows_lost() -> None:
    writer = HistoryWriter()
    for change in [*changes(IVR), *changes(INTERNAL)[:4], *changes(OUTBOUND)[:4]]:
        writer.record(change)
    asyncio.run(writer.flush())
    internal = CallRecord.objects.get(direction="Internal")
    now = datetime(2020, 6, 23, 2, 0, tzinfo=UTC)
    closed = services.call_history_close_missing(
        live_ids=[internal.telephony_session_id], now=now
    )
    assert closed == 1
    rows = {r.direction: r for r in CallRecord.objects.all()}
    assert (rows["Outbound"].result, rows["Outbound"].ended_at) == ("lost", now)
    assert (rows["Internal"].result, rows["Internal"].ended) == ("in_progress", False)
    assert rows["Inbound"].result == "answered"
    # Older news than the loss does not reopen the row; a real end does.
    rest = changes(OUTBOUND)
    writer.record(rest[4])
    asyncio.run(writer.flush())
    assert CallRecord.objects.get(direction="Outbound").result == "lost"
    for change in rest[5:]:
        writer.record(change)
    asyncio.run(writer.flush())
    assert CallRecord.objects.get(direction="Outbound").result == "answered"


def no_delay():
    return itertools.repeat(0.0)


class RecordingWorker(TelephonyWorker):
    """The worker with the history hook the integration adds."""

    def __init__(self, *args: Any, history: HistoryWriter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history = history

    async def publish(self, change: Change | None) -> None:
        if change is not None:
            self.history.record(change)
        await super().publish(change)


async def next_message(layer: Any, channel: str, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while (message := await receive_one(layer, channel))["type"] != kind:
            pass
    return message


@pytest.mark.django_db(transaction=True)
async def test_embedded_ringcentral_call_with_hold_is_recorded(
    rc_client, sim_api, probe
) -> None:
    layer, channel = probe
    history = HistoryWriter()
    worker = RecordingWorker(
        client=rc_client, layer=layer, reconnect_delays=no_delay, history=history
    )
    task = asyncio.create_task(worker.run())
    try:
        await next_message(layer, channel, "telephony.worker_status")
        session_id = await place_call(sim_api)
        for action in ("answer", "hold", "unhold", "hangup"):
            await phone(sim_api, session_id, action)
        await next_message(layer, channel, "telephony.call_ended")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await history.flush() is True
    row = await one_row(telephony_session_id=session_id)
    assert (row.result, row.ended, row.hold_count) == ("answered", True, 1)
    assert row.direction == "Inbound"
    assert row.agent_name and row.customer_number
    assert row.answered_at is not None and row.hold_seconds >= 0
    assert await count(PartyRecord.objects.filter(call=row)) >= 2


def test_text_longer_than_its_column_is_cut_not_fatal():
    from telephony.history.services import fit_text
    from telephony.models import CallRecord

    row = fit_text(CallRecord(customer_number="9" * 150, customer_name="n" * 300))
    assert (len(row.customer_number), len(row.customer_name)) == (64, 200)
