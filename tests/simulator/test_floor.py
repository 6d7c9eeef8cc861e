"""The generated floor on a fake clock: pausing, and agents stepping away
(availability spells), driven through `Floor.run_due` without a runner
task; then `/_sim/floor` over a real socket."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from telephony.live.model import LiveModel
from telephony.ringcentral.events import parse_session_event
from telephony.simulator import Simulator, SimulatorConfig
from telephony.simulator.defaults import AGENTS
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import PartyChange
from telephony.simulator.engine.presence import PresenceBook, PresenceChange
from telephony.simulator.engine.wire import event_body, event_path
from telephony.simulator.floor.floor import CallRequest, Floor
from telephony.simulator.floor.plans import CallPlan
from telephony.simulator.floor.profiles import profile_named
from tests.support import WAIT
from tests.support.clock import FakeClock
from tests.support.gateway import (
    ACCOUNT_FILTER,
    login,
    next_event,
    open_socket,
    phone,
    place_call,
    recv,
    subscribe,
    summary,
    ws_url,
)

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def make_floor(
    profile: str = "none", seed: int = 1
) -> tuple[Floor, FakeClock, list[PartyChange], list[PresenceChange]]:
    """A floor on a fake clock, at speed 1, that nobody runs by itself."""
    changes: list[PartyChange] = []
    presence_changes: list[PresenceChange] = []
    chosen = profile_named(profile)
    account = chosen.account()
    rng = random.Random(seed)
    engine = CallEngine(
        account_id=account.id, clock=lambda: NOW, rng=rng, sink=changes.append
    )
    book = PresenceBook(
        engine,
        tracked=[a.extension_id for a in account.agents],
        now=lambda: NOW,
        sink=presence_changes.append,
    )
    clock = FakeClock()
    floor = Floor(
        engine=engine,
        rng=rng,
        account=account,
        profile=chosen,
        clock=clock,
        presence=book,
        spell_rng=random.Random(f"spells-{seed}"),
    )
    return floor, clock, changes, presence_changes


def play(floor: Floor, clock: FakeClock, seconds: float) -> None:
    """Move the clock `seconds` on, running each step as it falls due."""
    lag = clock.now - floor.now()  # the time spent paused
    end = clock.now + seconds
    while (
        not floor.paused and (due := floor.next_due()) is not None and due + lag <= end
    ):
        clock.now = max(clock.now, due + lag + 1e-6)  # float rounding
        floor.run_due()
    clock.now = end
    floor.run_due()


def statuses(changes: list[PartyChange], session_id: str) -> list[str]:
    return [c.party.status for c in changes if c.session_id == session_id]


def test_a_paused_floor_stands_still_and_resumes_where_it_stopped() -> None:
    floor, clock, changes, _ = make_floor()
    plan = CallPlan(ring=10.0, talk=None)
    session = floor.place(CallRequest("inbound", AGENTS[2], plan))
    play(floor, clock, 5)
    floor.pause()
    assert floor.paused
    play(floor, clock, 600)
    assert statuses(changes, session.id)[-1] == "Proceeding"
    # Placed while paused: it opens at once, its plan waits for the resume.
    later = floor.place(CallRequest("inbound", AGENTS[3], CallPlan(1.0, None)))
    assert statuses(changes, later.id)[-1] == "Proceeding"
    floor.resume()
    play(floor, clock, 0.9)
    assert statuses(changes, later.id)[-1] == "Proceeding"
    play(floor, clock, 0.2)
    assert statuses(changes, later.id)[-1] == "Answered"
    assert statuses(changes, session.id)[-1] == "Proceeding"  # 3.9 s of 10 left
    play(floor, clock, 3.5)
    assert statuses(changes, session.id)[-1] == "Proceeding"
    play(floor, clock, 1.0)
    assert statuses(changes, session.id)[-1] == "Answered"


def test_a_paused_generating_floor_has_no_arrivals() -> None:
    floor, clock, changes, _ = make_floor("demo")
    floor.pause()
    floor.begin()
    play(floor, clock, 3600)
    assert changes == [] and floor.engine.sessions == {}
    floor.resume()
    play(floor, clock, 60)
    assert floor.engine.sessions  # the warm-up calls, then arrivals


def spell_run(
    seed: int, minutes: int
) -> tuple[list[tuple[str, str, str]], list[float]]:
    """Simulated minutes of contact-centre: availability changes and the
    share of agents unavailable, sampled every simulated minute; and no
    call is offered to an agent who does not take it."""
    floor, clock, _, presence = make_floor("contact-centre", seed)
    engine = floor.engine
    offered_to_unavailable: list[PartyChange] = []

    def check(change: PartyChange) -> None:
        party = change.party
        ringing = party.status == "Proceeding" and party.direction == "Inbound"
        if party.extension_id is None or not ringing:
            return
        availability = engine.availability_of(party.extension_id)
        accepted = (
            availability.takes_queue_calls
            if party.queue_call
            else availability.takes_direct_calls
        )
        if not accepted and party.kind == "call":
            offered_to_unavailable.append(change)

    engine.add_listener(check)
    floor.begin()
    shares = []
    agents = floor.agents
    for _ in range(minutes):
        play(floor, clock, 60)
        away = sum(not engine.availability_of(a.extension_id).available for a in agents)
        shares.append(away / len(agents))
    assert offered_to_unavailable == []
    steps = [
        (c.extension_id, c.state.user_status, c.state.dnd_status)
        for c in presence
        if c.simple
    ]
    return steps, shares


def test_agents_step_away_now_and_then_reproducibly() -> None:
    steps, shares = spell_run(5, 60)
    mean = sum(shares) / len(shares)
    assert 0.04 <= mean <= 0.10, mean
    assert max(shares) < 0.2
    kinds = {(user, dnd) for _, user, dnd in steps}
    assert {
        ("Busy", "TakeAllCalls"),
        ("Offline", "TakeAllCalls"),
        ("Available", "DoNotAcceptAnyCalls"),
        ("Available", "DoNotAcceptDepartmentCalls"),
        ("Available", "TakeAllCalls"),  # back from a spell
    } <= kinds
    again, _ = spell_run(5, 10)
    assert again == steps[: len(again)] and len(again) > 20


def test_direct_calls_to_unavailable_agents_go_to_voicemail() -> None:
    floor, clock, changes, _ = make_floor()
    book = floor.presence
    assert book is not None
    book.set_availability(AGENTS[4].extension_id, dnd_status="DoNotAcceptAnyCalls")
    book.set_availability(AGENTS[5].extension_id, user_status="Offline")
    on_dnd = floor.place(CallRequest("inbound", AGENTS[4], CallPlan(5.0, 30.0)))
    offline = floor.place(CallRequest("inbound", AGENTS[5], CallPlan(5.0, 30.0)))
    assert statuses(changes, on_dnd.id)[-1] == "Voicemail"  # at once
    assert statuses(changes, offline.id)[-1] == "Proceeding"  # it rings…
    play(floor, clock, 5)
    assert statuses(changes, offline.id)[-1] == "Voicemail"  # …nobody answers
    play(floor, clock, 31)
    assert floor.engine.sessions == {}  # both callers left a message
    assert floor.plans == {}


# -- /_sim/floor over a real socket ---------------------------------------------


async def floor_api(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    if body:
        response = await http.post("/_sim/floor", json=body)
    else:
        response = await http.get("/_sim/floor")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def live_sessions(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await http.get("/_sim/state")).json()["sessions"])


async def with_simulator(
    test: Callable[[Simulator, httpx.AsyncClient], Any], **config: Any
) -> None:
    sim = Simulator(SimulatorConfig(rate_limits=None, **config))
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT) as http:
            await test(sim, http)
    finally:
        await sim.stop()


async def test_pausing_a_busy_floor_holds_the_live_count_still() -> None:
    async def check(sim: Simulator, http: httpx.AsyncClient) -> None:
        running = await floor_api(http)
        assert {k: v for k, v in running.items() if k != "liveCalls"} == {
            "profile": "demo",
            "speed": 500.0,
            "paused": False,
        }
        paused = await floor_api(http, paused=True)
        assert paused["paused"] is True
        # Counted once the floor stands still: at speed 500 it moves
        # between a running floor's answer and reading the engine here.
        assert paused["liveCalls"] == len(sim.engine.sessions)
        before = await live_sessions(http)
        # Every round trip lets the floor's runner run: nothing may move.
        for _ in range(20):
            assert await live_sessions(http) == before
        assert (await floor_api(http))["liveCalls"] == len(before)
        assert (await floor_api(http, paused=False))["paused"] is False

    await with_simulator(check, profile="demo", speed=500.0, seed=4)


async def test_call_control_and_sim_calls_work_while_paused() -> None:
    async def check(sim: Simulator, http: httpx.AsyncClient) -> None:
        ws = await open_socket(await ws_url(http, (await login(http))["access_token"]))
        await recv(ws)
        await subscribe(ws, ACCOUNT_FILTER)
        await floor_api(http, paused=True)
        session_id = await place_call(http, agent="102", ring_seconds=1)
        assert [summary(await next_event(ws))[2] for _ in range(4)] == [
            "Setup",
            "Setup",
            "Answered",
            "Proceeding",
        ]
        held = await place_call(http, agent="103", auto_answer=False)
        for _ in range(4):
            await next_event(ws)
        assert (await phone(http, held, "answer")).status_code == 200
        assert summary(await next_event(ws))[2] == "Answered"
        assert (await phone(http, held, "hold")).status_code == 200
        assert summary(await next_event(ws))[2] == "Hold"
        # The first call's ring timer only runs again after the resume.
        await floor_api(http, paused=False)
        answered = await next_event(ws)
        assert answered["body"]["telephonySessionId"] == session_id
        assert summary(answered)[2] == "Answered"
        await ws.close()

    await with_simulator(check, profile="none", speed=100.0, seed=2)


async def test_floor_api_refuses_a_bad_body() -> None:
    async def check(sim: Simulator, http: httpx.AsyncClient) -> None:
        for body in ({"paused": "yes"}, {}, [True]):
            response = await http.post("/_sim/floor", json=body)
            assert response.status_code == 400, body
            assert response.json()["errorCode"] == "CMN-101"
        assert (await http.delete("/_sim/floor")).status_code == 404

    await with_simulator(check, profile="none")


def test_every_session_is_numbered_from_2_without_holes() -> None:
    # docs/ringcentral.md 6.3: one numbering per session, shared by all its
    # parties, from 2, +1 per event. Two simulated hours of demo (park,
    # pickups, blind and warm transfers, queues, voicemail, DND).
    floor, clock, changes, _ = make_floor("demo", 3)
    floor.begin()
    play(floor, clock, 7200)
    by_session: dict[str, list[int]] = {}
    for change in changes:
        by_session.setdefault(change.session_id, []).append(change.sequence)
    assert len(by_session) > 300
    holes = {
        sid: seqs
        for sid, seqs in by_session.items()
        if seqs != list(range(2, 2 + len(seqs)))
    }
    assert holes == {}
    kinds = {c.party.status for c in changes}
    assert {"Parked", "Gone", "Voicemail", "Hold"} <= kinds


def test_a_client_following_the_events_sees_every_call_end() -> None:
    # RingCentral's own rules for an end (docs/ringcentral.md 6.5, 6.7):
    # the client's live model must hold exactly the simulator's live calls,
    # picked-up parked calls included (no ghost left for a sweeper).
    floor, clock, changes, _ = make_floor("demo", 3)
    floor.begin()
    play(floor, clock, 7200)
    model = LiveModel()
    for number, change in enumerate(changes):
        envelope = {
            "uuid": str(number),
            "event": event_path("1000000001", change.party),
            "timestamp": "2026-01-15T10:00:00.000Z",
            "subscriptionId": "s",
            "ownerId": "1000000101",
            "body": event_body(change, "10.13.22.27.TAM"),
        }
        model.apply(parse_session_event(envelope))
    assert any(c.party.reason == "Pickup" for c in changes)
    _, live = model.snapshot()
    assert {call["id"] for call in live} == set(floor.engine.sessions)
