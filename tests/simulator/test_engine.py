"""The pure parts: engine transitions, timeline, plans, filters."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from telephony.simulator.defaults import AGENTS
from telephony.simulator.engine import flows
from telephony.simulator.engine.engine import (
    CallEngine,
    Endpoint,
    EngineError,
    PartyChange,
)
from telephony.simulator.engine.wire import event_body, iso_ms
from telephony.simulator.floor.plans import random_plan
from telephony.simulator.floor.timeline import Timeline
from telephony.simulator.gateway.subscriptions import parse_filter

NOW = datetime(2026, 1, 15, 10, 5, 2, 140000, tzinfo=UTC)
CUSTOMER = Endpoint("+14155550100", "WIRELESS CALLER")


def make_engine(seed: int = 1) -> tuple[CallEngine, list[PartyChange]]:
    changes: list[PartyChange] = []
    engine = CallEngine(
        account_id="1000000001",
        clock=lambda: NOW,
        rng=random.Random(seed),
        sink=changes.append,
    )
    return engine, changes


def inbound(engine: CallEngine) -> str:
    session = flows.start_inbound(
        engine, caller=CUSTOMER, agent=AGENTS[0], company_number="+16505550100"
    )
    return session.id


def test_sequence_starts_at_two_and_counts_per_session() -> None:
    engine, changes = make_engine()
    first, second = inbound(engine), inbound(engine)
    by_session = {
        sid: [c.sequence for c in changes if c.session_id == sid]
        for sid in (first, second)
    }
    assert by_session == {first: [2, 3, 4, 5], second: [2, 3, 4, 5]}


def test_party_ids_share_the_session_hex() -> None:
    engine, changes = make_engine()
    session_id = inbound(engine)
    assert session_id.startswith("s-") and len(session_id) == 34
    assert {c.party.id for c in changes} == {
        f"p-{session_id[2:]}-1",
        f"p-{session_id[2:]}-2",
    }


def test_same_seed_gives_same_ids() -> None:
    assert inbound(make_engine(5)[0]) == inbound(make_engine(5)[0])
    assert inbound(make_engine(5)[0]) != inbound(make_engine(6)[0])


def test_hold_requires_answered_and_unhold_requires_hold() -> None:
    engine, changes = make_engine()
    session_id = inbound(engine)
    agent_leg = changes[1].party.id
    with pytest.raises(EngineError) as refused:
        engine.hold(session_id, agent_leg)
    assert refused.value.kind == "state"
    engine.answer(session_id)
    with pytest.raises(EngineError):
        engine.unhold(session_id, agent_leg)
    held = engine.hold(session_id, agent_leg)
    assert held.status == "Hold" and held.pickup is None


def test_snapshots_do_not_change_after_emission() -> None:
    engine, changes = make_engine()
    session_id = inbound(engine)
    engine.answer(session_id)
    assert [c.party.status for c in changes if c.party.id.endswith("-2")] == [
        "Setup",
        "Proceeding",
        "Answered",
    ]


def test_hang_up_ends_user_legs_first_and_forgets_the_session() -> None:
    engine, changes = make_engine()
    session_id = inbound(engine)
    engine.answer(session_id)
    engine.hang_up(session_id, changes[0].party.id)
    assert [(c.party.id[-1], c.party.status) for c in changes[-2:]] == [
        ("2", "Disconnected"),
        ("1", "Disconnected"),
    ]
    assert session_id not in engine.sessions
    with pytest.raises(EngineError) as gone:
        engine.get(session_id)
    assert gone.value.kind == "session"


def test_unknown_party_is_a_party_error() -> None:
    engine, _ = make_engine()
    session_id = inbound(engine)
    with pytest.raises(EngineError) as refused:
        engine.hold(session_id, "p-nope-1")
    assert refused.value.kind == "party"


def test_event_body_has_capture_shape() -> None:
    engine, changes = make_engine()
    inbound(engine)
    body = event_body(changes[3], "10.13.22.27.TAM")
    assert body["eventTime"] == "2026-01-15T10:05:02.140Z"
    assert body["origin"] == {"type": "Call"}
    party = body["parties"][0]
    assert party["status"]["code"] == "Proceeding"
    assert (
        party["status"]["mobilePickupData"]["to"] == "#1052016@sip.ringcentral.com:5060"
    )
    assert iso_ms(NOW) == "2026-01-15T10:05:02.140Z"


def test_timeline_returns_due_actions_in_order() -> None:
    timeline = Timeline()
    ran: list[str] = []
    assert timeline.schedule(2.0, lambda: ran.append("b"))
    assert timeline.schedule(1.0, lambda: ran.append("a"))
    assert not timeline.schedule(2.0, lambda: ran.append("c"))
    for action in timeline.due(2.0):
        action()
    assert ran == ["a", "b", "c"] and timeline.next_at() is None


def test_random_plans_are_seeded_and_plausible() -> None:
    plans = [random_plan(random.Random(3)) for _ in range(2)]
    assert plans[0] == plans[1]
    for plan in (random_plan(random.Random(seed)) for seed in range(200)):
        assert plan.ring is not None and 3 <= plan.ring <= 12
        assert plan.talk is not None and 20 <= plan.talk <= 960


@pytest.mark.parametrize(
    ("raw", "extension", "normalised"),
    [
        (
            "/restapi/v1.0/account/~/telephony/sessions",
            None,
            "/restapi/v1.0/account/1/telephony/sessions",
        ),
        (
            "/restapi/v1.0/account/1/extension/~/telephony/sessions",
            "7",
            "/restapi/v1.0/account/1/extension/7/telephony/sessions",
        ),
        (
            "/restapi/v1.0/account/~/telephony/sessions?direction=Inbound",
            None,
            "/restapi/v1.0/account/1/telephony/sessions?direction=Inbound",
        ),
    ],
)
def test_filters_are_normalised(
    raw: str, extension: str | None, normalised: str
) -> None:
    parsed = parse_filter(raw, account_id="1", owner_id="7", extensions={"7"})
    assert parsed.extension_id == extension
    assert parsed.normalised == normalised
