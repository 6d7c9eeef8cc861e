"""The steps of a call's plan after it is answered: hold and mute from the
phone, recording, blind and warm transfers, park and pickup, voicemail,
and the hang-up. Each step looks the call up again and does nothing (or
raises EngineError, which the runner logs at debug level) when the call
changed meanwhile, e.g. because a supervisor acted on it through the API.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from telephony.simulator.engine import actions, flows, queues, transfers
from telephony.simulator.engine.model import Endpoint, Session
from telephony.simulator.floor.plans import CallPlan, Side

if TYPE_CHECKING:
    from telephony.simulator.floor.floor import Floor

# Simulated seconds an agent consults a colleague before a warm transfer.
CONSULT_SECONDS = 8.0


def start_talk(floor: Floor, session_id: str, plan: CallPlan) -> None:
    """Schedule everything the plan does once the call is answered."""
    if plan.record:
        session = floor.engine.get(session_id)
        actions.start_recording(floor.engine, session_id, flows.user_party(session).id)
    if plan.hold_at is not None:
        floor.schedule(plan.hold_at, partial(hold, floor, session_id, True))
        floor.schedule(
            plan.hold_at + plan.hold_for, partial(hold, floor, session_id, False)
        )
    if plan.mute_at is not None:
        floor.schedule(plan.mute_at, partial(mute, floor, session_id, True))
        floor.schedule(
            plan.mute_at + plan.mute_for, partial(mute, floor, session_id, False)
        )
    if plan.transfer_at is not None:
        step = warm_transfer if plan.transfer == "warm" else blind_transfer
        floor.schedule(plan.transfer_at, partial(step, floor, session_id))
    if plan.park_at is not None:
        floor.schedule(plan.park_at, partial(park, floor, session_id, plan.park_for))
    if plan.talk is not None:
        end_after(floor, session_id, plan.talk, plan.hangup_by)


def end_after(floor: Floor, session_id: str, seconds: float, side: Side) -> None:
    """Hang the call up after `seconds` (once per call)."""
    if session_id in floor.ending:
        return
    floor.ending.add(session_id)
    floor.schedule(seconds, partial(hang_up, floor, session_id, side))


def has_end(floor: Floor, session: Session) -> bool:
    """True if the call's hang-up is already scheduled."""
    return session.id in floor.ending


def hang_up(floor: Floor, session_id: str, side: Side) -> None:
    """The customer or the agent ends the call."""
    floor.ending.discard(session_id)
    session = floor.engine.sessions.get(session_id)
    if session is None:
        return
    user = flows.user_party(session)
    party = user if side == "agent" else flows.far_party(session, user)
    floor.engine.hang_up(session_id, party.id)


def voicemail(floor: Floor, session_id: str, plan: CallPlan) -> None:
    """Nobody answers: the caller reaches a mailbox and leaves a message."""
    floor.plans.pop(session_id, None)
    session = floor.engine.get(session_id)
    end_after(floor, session_id, plan.talk or 20.0, "customer")
    if session.queue_id is not None:
        queues.no_answer(floor.engine, session)
        return
    ringing = session.ringing_agents()
    if ringing:
        transfers.to_voicemail(floor.engine, session_id, ringing[0].id)


def hold(floor: Floor, session_id: str, on: bool) -> None:
    """The agent presses hold (or resumes) on the desk phone."""
    session = floor.engine.sessions.get(session_id)
    if session is None:
        return
    party = flows.user_party(session)
    if on and party.status == "Answered" and not party.phone_hold:
        floor.engine.hold(session_id, party.id, "phone")
    elif not on and party.phone_hold:
        floor.engine.unhold(session_id, party.id, "phone")


def mute(floor: Floor, session_id: str, on: bool) -> None:
    """The agent mutes (or unmutes) the desk phone."""
    session = floor.engine.sessions.get(session_id)
    if session is None:
        return
    party = flows.user_party(session)
    if party.status in ("Answered", "Hold"):
        floor.engine.set_muted(session_id, party.id, on, "phone")


def blind_transfer(floor: Floor, session_id: str) -> None:
    """The agent sends the caller to an idle colleague, who answers."""
    session = floor.engine.sessions.get(session_id)
    if session is None:
        return
    party = flows.user_party(session)
    peer = floor.idle_agent()
    if peer is None or party.extension_id == peer.extension_id:
        return
    to = Endpoint(peer.extension_number, peer.name, peer.extension_id)
    target = transfers.Target("agent", to, peer.extension_id)
    transfers.blind_transfer(floor.engine, session_id, party.id, target)
    floor.follow_up(session)


def warm_transfer(floor: Floor, session_id: str) -> None:
    """Hold, call a colleague, consult, then bridge the two calls."""
    session = floor.engine.sessions.get(session_id)
    agent = (
        floor.account.agent_by_id(flows.user_party(session).extension_id or "")
        if session
        else None
    )
    peer = floor.idle_agent()
    if session is None or agent is None or peer is None or peer == agent:
        return
    party = flows.user_party(session)
    if not party.phone_hold:
        floor.engine.hold(session_id, party.id, "phone")
    consult = flows.start_internal(floor.engine, caller=agent, callee=peer)
    ring = floor.rng.uniform(*floor.profile.shape.ring)
    floor.schedule(ring, partial(_consult_answered, floor, consult.id))
    floor.schedule(
        ring + CONSULT_SECONDS,
        partial(_bridge, floor, session_id, party.id, consult.id),
    )


def _consult_answered(floor: Floor, consult_id: str) -> None:
    if consult_id in floor.engine.sessions:
        floor.engine.answer(consult_id)


def _bridge(floor: Floor, session_id: str, party_id: str, consult_id: str) -> None:
    consult = floor.engine.sessions.get(consult_id)
    if consult is None:
        return
    if session_id not in floor.engine.sessions:
        floor.engine.hang_up(consult_id)
        return
    mine = flows.caller_party(consult)
    transfers.bridge(floor.engine, session_id, party_id, consult_id, mine.id)


def park(floor: Floor, session_id: str, seconds: float) -> None:
    """The agent parks the call; a colleague picks it up later."""
    session = floor.engine.sessions.get(session_id)
    if session is None:
        return
    parked = transfers.park(floor.engine, session_id, flows.user_party(session).id)
    floor.schedule(seconds, partial(_pickup, floor, session_id, parked.id))


def _pickup(floor: Floor, session_id: str, party_id: str) -> None:
    session = floor.engine.sessions.get(session_id)
    agent = floor.idle_agent()
    if session is None or agent is None or session.party(party_id).status != "Parked":
        return
    transfers.pickup(floor.engine, session_id, party_id, agent, agent.device_id)
