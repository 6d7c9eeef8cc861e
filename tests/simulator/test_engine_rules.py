"""Pure engine rules beyond the basic call: queues, transfers, bridge,
park, voicemail, recordings, supervision, conferences, API vs phone holds,
and the account and profiles the floor runs on."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from telephony.simulator.config import PROFILES
from telephony.simulator.engine import actions, queues, transfers
from telephony.simulator.engine.account import DEMO_ACCOUNT, QueueSpec, build_account
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.flows import start_inbound, start_internal
from telephony.simulator.engine.model import (
    Availability,
    Endpoint,
    EngineError,
    PartyChange,
)
from telephony.simulator.engine.presence import PresenceBook, PresenceChange
from telephony.simulator.engine.wire import event_party
from telephony.simulator.floor.profiles import PROFILE_NAMES, profile_named

NOW = datetime(2026, 1, 15, 10, 5, 2, tzinfo=UTC)
CUSTOMER = Endpoint("+14155550100", "WIRELESS CALLER")
ALICE, BOB, CARMEN = DEMO_ACCOUNT.agents[:3]
SALES = DEMO_ACCOUNT.queues[0]


def make_engine() -> tuple[CallEngine, list[PartyChange]]:
    changes: list[PartyChange] = []
    engine = CallEngine(
        account_id="1000000001",
        clock=lambda: NOW,
        rng=random.Random(1),
        sink=changes.append,
    )
    return engine, changes


def steps(changes: list[PartyChange], start: int = 0) -> list[tuple[str, str, str]]:
    """(party number, status, reason) of each change from `start`."""
    return [
        (c.party.id.rsplit("-", 1)[1], c.party.status, c.party.reason or "")
        for c in changes[start:]
    ]


def answered_inbound(engine: CallEngine) -> str:
    session = start_inbound(
        engine, caller=CUSTOMER, agent=ALICE, company_number="+16505550100"
    )
    engine.answer(session.id)
    return session.id


def test_queue_call_rings_agents_in_parallel_and_first_answer_wins() -> None:
    engine, changes = make_engine()
    session = queues.start_queue(
        engine,
        caller=CUSTOMER,
        queue=SALES,
        agents=[ALICE, BOB],
        company_number="+16505550100",
    )
    assert steps(changes) == [
        ("1", "Setup", ""),
        ("2", "Setup", ""),
        ("1", "Answered", ""),
        ("3", "Proceeding", ""),
        ("4", "Proceeding", ""),
    ]
    agent_leg = event_party(changes[3].party)
    assert agent_leg["queueCall"] is True
    assert agent_leg["uiCallInfo"] == {
        "primary": {"type": "QueueName", "value": "Sales"},
        "additional": {"type": "CallerIdName", "value": "WIRELESS CALLER"},
    }
    assert changes[1].party.to.name == "Sales"
    engine.answer(session.id, changes[4].party.id)
    assert steps(changes, 5) == [
        ("4", "Answered", ""),
        ("3", "Disconnected", "AgentAnswered"),
        ("2", "Disconnected", ""),
    ]


def test_queue_call_nobody_answers_goes_to_queue_voicemail() -> None:
    engine, changes = make_engine()
    session = queues.start_queue(
        engine,
        caller=CUSTOMER,
        queue=SALES,
        agents=[ALICE],
        company_number="+16505550100",
    )
    actions.reject(engine, session.id, changes[3].party.id)
    assert steps(changes, 4) == [
        ("3", "Disconnected", "Rejected"),
        ("2", "Voicemail", ""),
    ]
    assert changes[-1].party.missed_call is True


def test_blind_transfer_disconnects_transferrer_and_rings_target() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    target = transfers.Target(
        "agent", Endpoint("102", BOB.name, BOB.extension_id), BOB.extension_id
    )
    before = len(changes)
    ended = transfers.blind_transfer(
        engine, session_id, f"p-{session_id[2:]}-2", target
    )
    assert (ended.status, ended.reason) == ("Disconnected", "BlindTransfer")
    assert steps(changes, before) == [
        ("2", "Disconnected", "BlindTransfer"),
        ("3", "Setup", ""),
        ("3", "Proceeding", ""),
    ]
    new_leg = changes[-1].party
    assert new_leg.extension_id == BOB.extension_id
    assert new_leg.from_.phone_number == CUSTOMER.phone_number
    engine.answer(session_id, new_leg.id)
    assert engine.get(session_id).party(new_leg.id).status == "Answered"


def test_transfer_needs_an_answered_party() -> None:
    engine, changes = make_engine()
    session = start_inbound(engine, caller=CUSTOMER, agent=ALICE, company_number="+1")
    target = transfers.Target("number", Endpoint("+14155550111"))
    with pytest.raises(EngineError) as refused:
        transfers.blind_transfer(engine, session.id, changes[1].party.id, target)
    assert refused.value.kind == "state"


def test_bridge_marks_both_user_legs_gone_with_peer_ids() -> None:
    engine, changes = make_engine()
    first = answered_inbound(engine)
    engine.hold(first, f"p-{first[2:]}-2", "phone")
    consult = start_internal(engine, caller=ALICE, callee=BOB)
    engine.answer(consult.id)
    gone = transfers.bridge(
        engine, first, f"p-{first[2:]}-2", consult.id, f"p-{consult.id[2:]}-1"
    )
    assert (gone.status, gone.reason) == ("Gone", "AttendedTransfer")
    assert gone.peer is not None and gone.peer.session_id == consult.id
    other = changes[-1].party
    assert (other.status, other.peer and other.peer.party_id) == (
        "Gone",
        f"p-{first[2:]}-2",
    )
    assert event_party(other)["status"]["peerId"]["telephonySessionId"] == first
    engine.hang_up(first)
    assert first not in engine.sessions and consult.id not in engine.sessions


def test_park_then_pickup_moves_the_call_to_a_new_leg() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    parked = transfers.park(engine, session_id, f"p-{session_id[2:]}-2")
    assert parked.status == "Parked" and parked.park_data == "*801"
    assert event_party(parked)["park"] == {"id": parked.park_id}
    assert not engine.is_busy(ALICE.extension_id)
    picked = transfers.pickup(engine, session_id, parked.id, BOB, BOB.device_id)
    assert (picked.status, picked.extension_id) == ("Answered", BOB.extension_id)
    assert steps(changes)[-1] == ("2", "Gone", "Pickup")
    peer = event_party(changes[-1].party)["status"]["peerId"]
    assert (peer["telephonySessionId"], peer["partyId"]) == (session_id, picked.id)
    assert engine.orbits  # freed lazily on the next park
    second = answered_inbound(engine)
    assert transfers.park(engine, second, f"p-{second[2:]}-2").park_data == "*801"


def test_reject_of_a_direct_call_sends_the_caller_to_voicemail() -> None:
    engine, changes = make_engine()
    session = start_inbound(engine, caller=CUSTOMER, agent=ALICE, company_number="+1")
    actions.reject(engine, session.id, changes[1].party.id)
    assert steps(changes)[-1] == ("2", "Voicemail", "")
    assert event_party(changes[-1].party)["status"]["code"] == "Voicemail"
    with pytest.raises(EngineError):
        actions.reject(engine, session.id, changes[1].party.id)


def test_api_and_phone_holds_must_both_be_undone() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    party = f"p-{session_id[2:]}-2"
    engine.hold(session_id, party, "phone")
    count = len(changes)
    assert engine.hold(session_id, party, "api").status == "Hold"
    assert len(changes) == count  # nothing visible changed
    with pytest.raises(EngineError):
        engine.hold(session_id, party, "api")
    assert engine.unhold(session_id, party, "api").status == "Hold"
    assert len(changes) == count
    assert engine.unhold(session_id, party, "phone").status == "Answered"
    assert steps(changes)[-1] == ("2", "Answered", "")
    with pytest.raises(EngineError):
        engine.unhold(session_id, party, "phone")


def test_api_and_phone_mutes_are_separate() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    party = f"p-{session_id[2:]}-2"
    assert engine.set_muted(session_id, party, True, "phone").muted
    assert engine.set_muted(session_id, party, True, "api").muted
    assert engine.set_muted(session_id, party, False, "api").muted
    assert not engine.set_muted(session_id, party, False, "phone").muted
    assert [c.party.muted for c in changes[-2:]] == [True, False]


def test_recordings_start_pause_and_resume_on_the_party() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    party = f"p-{session_id[2:]}-2"
    started = actions.start_recording(engine, session_id, party)
    assert event_party(changes[-1].party)["recordings"] == [
        {"id": started.id, "active": True}
    ]
    with pytest.raises(EngineError):
        actions.start_recording(engine, session_id, party)
    paused = actions.set_recording(
        engine, session_id, party, type(started)(started.id, False)
    )
    assert paused.active is False
    assert changes[-1].party.recordings[0].active is False


def test_supervise_adds_one_listening_leg() -> None:
    engine, changes = make_engine()
    session_id = answered_inbound(engine)
    leg = actions.supervise(
        engine,
        session_id,
        supervisor=CARMEN,
        device_id=CARMEN.device_id,
        agent_id=ALICE.extension_id,
    )
    assert (leg.status, leg.kind, leg.extension_id) == (
        "Answered",
        "supervisor",
        CARMEN.extension_id,
    )
    assert steps(changes)[-2:] == [("3", "Setup", ""), ("3", "Answered", "")]
    with pytest.raises(EngineError):
        actions.supervise(
            engine,
            session_id,
            supervisor=BOB,
            device_id=BOB.device_id,
            agent_id=ALICE.extension_id,
        )
    actions.delete_party(engine, session_id, leg.id)
    assert steps(changes)[-1] == ("3", "Disconnected", "")


def test_conference_takes_legs_of_other_calls() -> None:
    engine, changes = make_engine()
    conference = actions.conference(engine)
    assert conference.voice_call_token and not changes
    call = answered_inbound(engine)
    joined = actions.bring_in(engine, conference.id, call, f"p-{call[2:]}-1")
    assert (joined.conference_role, joined.status) == ("Host", "Answered")
    assert call not in engine.sessions
    assert [c.party.status for c in changes[-2:]] == ["Gone", "Disconnected"]


def test_profiles_and_config_agree_and_accounts_are_deterministic() -> None:
    assert (
        set(PROFILES)
        == set(PROFILE_NAMES)
        >= {
            "none",
            "office",
            "demo",
            "contact-centre",
            "load-5000",
            "load-2000",
        }
    )
    load = profile_named("load-5000").account()
    assert len(load.agents) >= 5000
    assert load.agents[:10] == DEMO_ACCOUNT.agents
    again = build_account(len(load.agents), QueueSpec(20, 500))
    assert [a.name for a in again.agents[-3:]] == [a.name for a in load.agents[-3:]]
    ids = [a.extension_id for a in load.agents] + [d.id for d in load.devices]
    assert len(set(ids)) == len(ids)
    assert DEMO_ACCOUNT.queue_by_number("201").name == "Sales"  # type: ignore[union-attr]
    assert [m.extension_number for m in SALES.members] == [
        "101",
        "102",
        "103",
        "104",
        "105",
    ]
    assert DEMO_ACCOUNT.device(ALICE.device_id).status == "Online"  # type: ignore[union-attr]
    bench = profile_named("load-2000").account()
    assert (len(bench.agents), len(bench.queues)) == (4000, 10)
    assert all(bench.queues_of(a.extension_id) for a in bench.agents)
    with pytest.raises(ValueError):
        profile_named("busy")


def test_presence_book_reports_each_change_of_an_agents_presence() -> None:
    engine, _ = make_engine()
    seen: list[PresenceChange] = []
    book = PresenceBook(
        engine,
        tracked=[a.extension_id for a in DEMO_ACCOUNT.agents],
        now=lambda: NOW,
        sink=seen.append,
    )
    session_id = answered_inbound(engine)  # Alice: rings, then talks
    party_id = next(
        p.id for p in engine.get(session_id).parties.values() if p.extension_id
    )
    engine.set_muted(session_id, party_id, True)  # no presence change
    engine.hold(session_id, party_id)
    book.set_availability(ALICE.extension_id, dnd_status="DoNotAcceptAnyCalls")
    book.set_availability(ALICE.extension_id, dnd_status="DoNotAcceptAnyCalls")
    engine.hang_up(session_id)
    assert [
        (c.sequence, c.state.telephony_status, c.state.presence_status, c.simple)
        for c in seen
    ] == [
        (1, "Ringing", "Busy", True),
        (2, "CallConnected", "Busy", True),
        (3, "OnHold", "Busy", True),
        (4, "OnHold", "Busy", True),  # DND while on a call; a repeat: nothing
        (5, "NoCall", "Busy", True),  # DND keeps the user Busy
    ]
    assert seen[3].state.dnd_status == "DoNotAcceptAnyCalls"
    (ended,) = seen[4].ended
    assert (ended.party_id, ended.status, ended.ended) == (party_id, "NoCall", True)
    assert book.current(ALICE.extension_id) == seen[4].state
    assert {c.extension_id for c in seen} == {ALICE.extension_id}


def test_dnd_sends_direct_calls_to_voicemail_but_not_queue_choices() -> None:
    engine, changes = make_engine()
    engine.availability[BOB.extension_id] = Availability(
        dnd_status="DoNotAcceptAnyCalls"
    )
    start_inbound(engine, caller=CUSTOMER, agent=BOB, company_number="+16505550100")
    assert steps(changes) == [
        ("1", "Setup", ""),
        ("2", "Setup", ""),
        ("1", "Answered", ""),
        ("2", "Voicemail", ""),
    ]
    assert changes[-1].party.missed_call and changes[-1].party.pickup is None
    start = len(changes)
    start_internal(engine, caller=ALICE, callee=BOB)
    assert steps(changes, start)[-1] == ("2", "Voicemail", "")
    assert not Availability(dnd_status="TakeDepartmentCallsOnly").takes_direct_calls
    assert Availability(dnd_status="TakeDepartmentCallsOnly").takes_queue_calls
    assert not Availability(user_status="Busy").takes_queue_calls
    assert Availability(user_status="Busy").takes_direct_calls
