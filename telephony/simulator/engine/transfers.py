"""Moving calls: blind transfer, forward, bridge (warm transfer), park,
pickup from park and voicemail (docs/ringcentral.md 6.9 C and D, 7.2).

Where the sources are silent the choices are marked [inferred] and listed
in docs/simulator.md: a transferred or forwarded call keeps its session
and gains a new leg for the target; bridging marks both of the user's legs
`Gone`/`AttendedTransfer` with `peerId` pointing at each other and joins
the two sessions so they end together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.account import CallQueue
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.flows import ring_user
from telephony.simulator.engine.model import (
    CONNECTED,
    RINGING,
    Endpoint,
    EngineError,
    Party,
    Peer,
    Session,
)
from telephony.simulator.engine.queues import ring_agents

TargetKind = Literal["agent", "queue", "number", "voicemail", "park"]
# docs/ringcentral.md 7.2 item 17: orbits *801-*899, at most 50 parked calls.
ORBITS = tuple(f"*{n}" for n in range(801, 900))
MAX_PARKED = 50


@dataclass(frozen=True)
class Target:
    """Where a transfer or forward sends the call."""

    kind: TargetKind
    endpoint: Endpoint
    extension_id: str | None = None
    queue: CallQueue | None = None
    # Queue members to ring (idle ones, chosen by the caller of this API).
    agents: tuple[Agent, ...] = ()


def remote_caller(session: Session, leaving: Party) -> Endpoint:
    """Who the new leg is "from": the other side of the leaving party."""
    others = [
        p
        for p in session.live_parties()
        if p.id != leaving.id and p.kind != "supervisor"
    ]
    if not others:
        return leaving.from_
    other = others[0]
    return other.from_ if other.direction == "Outbound" else other.to


def add_target_leg(
    engine: CallEngine, session: Session, target: Target, caller: Endpoint
) -> Party:
    """The target's new leg in the same session [inferred]."""
    ext = target.extension_id
    if target.kind == "number":
        return engine.add_party(
            session,
            direction="Inbound",
            from_=caller,
            to=target.endpoint,
            status="Proceeding",
        )
    if target.kind == "voicemail":
        return engine.add_party(
            session,
            direction="Inbound",
            from_=caller,
            to=target.endpoint,
            extension_id=ext,
            status="Voicemail",
            missed_call=True,
        )
    if target.kind == "park":
        return engine.add_party(
            session,
            direction="Inbound",
            from_=caller,
            to=target.endpoint,
            extension_id=ext,
            status="Parked",
            park_id=engine.new_id(),
            kind="park",
        )
    if target.kind == "queue" and target.queue is not None:
        leg = engine.add_party(
            session,
            direction="Inbound",
            from_=caller,
            to=target.endpoint,
            extension_id=ext,
            kind="queue",
        )
        session.queue_id = ext
        if target.agents:
            ring_agents(engine, session, target.queue, target.agents)
        else:
            engine.change(session, leg.id, status="Voicemail", missed_call=True)
        return leg
    leg = engine.add_party(
        session,
        direction="Inbound",
        from_=caller,
        to=target.endpoint,
        extension_id=ext,
    )
    return ring_user(engine, session, leg)


def blind_transfer(
    engine: CallEngine, session_id: str, party_id: str, target: Target
) -> Party:
    """Transferring party Disconnected/BlindTransfer; the target rings."""
    session = engine.get(session_id)
    party = _require(session.party(party_id), CONNECTED, "transfer")
    caller = remote_caller(session, party)
    ended = engine.end(session, party.id, reason="BlindTransfer")
    add_target_leg(engine, session, target, caller)
    return ended


def forward(
    engine: CallEngine, session_id: str, party_id: str, target: Target
) -> Party:
    """A ringing inbound leg is sent elsewhere before it is answered."""
    session = engine.get(session_id)
    party = _require(session.party(party_id), RINGING, "forward")
    if party.direction != "Inbound" or party.extension_id is None:
        raise EngineError("state", "Only a ringing inbound user leg can be forwarded")
    caller = remote_caller(session, party)
    ended = engine.end(session, party.id, reason="CallRedirected")
    add_target_leg(engine, session, target, caller)
    return ended


def bridge(
    engine: CallEngine, session_id: str, party_id: str, other_id: str, other_party: str
) -> Party:
    """Warm transfer: join the far ends of two calls; the user drops out."""
    first = engine.get(session_id)
    second = engine.get(other_id)
    mine = _require(first.party(party_id), CONNECTED, "bridge")
    theirs = _require(second.party(other_party), CONNECTED, "bridge")
    if first.id == second.id:
        raise EngineError("state", "Cannot bridge a session with itself")
    gone = engine.change(
        first,
        mine.id,
        status="Gone",
        reason="AttendedTransfer",
        pickup=None,
        peer=Peer(second.id, theirs.id, second.legacy_id),
    )
    engine.change(
        second,
        theirs.id,
        status="Gone",
        reason="AttendedTransfer",
        pickup=None,
        peer=Peer(first.id, mine.id, first.legacy_id),
    )
    first.linked.add(second.id)
    second.linked.add(first.id)
    return gone


def park(engine: CallEngine, session_id: str, party_id: str) -> Party:
    """Park a connected user leg in the next free orbit (*801…)."""
    session = engine.get(session_id)
    party = _require(session.party(party_id), CONNECTED, "park")
    if party.extension_id is None or party.kind != "call":
        raise EngineError("state", "Only a user's own leg can be parked")
    orbit = _free_orbit(engine)
    engine.orbits[orbit] = (session.id, party.id)
    return engine.change(
        session,
        party.id,
        status="Parked",
        park_id=engine.new_id(),
        park_data=orbit,
        pickup=None,
        api_hold=False,
        phone_hold=False,
    )


def pickup(
    engine: CallEngine, session_id: str, party_id: str, agent: Agent, device_id: str
) -> Party:
    """Pick a parked call up on a device: a new answered leg for its owner.

    The parked leg leaves as `Gone` (docs/ringcentral.md 6.5: a party
    connected elsewhere, pickup from park included) with `peerId` on the
    new leg and reason `Pickup` [inferred: the new leg stays in the same
    session]. Not `Disconnected`/`Pickup`, which means "moved to another
    device of the same user" and is no end for clients (6.7, 10 item 3):
    a client would keep the call forever.
    """
    session = engine.get(session_id)
    parked = _require(session.party(party_id), frozenset({"Parked"}), "pick up")
    caller = remote_caller(session, parked)
    to = Endpoint(agent.extension_number, agent.name, agent.extension_id, device_id)
    leg = engine.add_party(
        session,
        direction="Inbound",
        from_=caller,
        to=to,
        extension_id=agent.extension_id,
    )
    answered = engine.change(session, leg.id, status="Answered")
    engine.end(
        session,
        parked.id,
        status="Gone",
        reason="Pickup",
        peer=Peer(session.id, answered.id, session.legacy_id),
    )
    return answered


def to_voicemail(engine: CallEngine, session_id: str, party_id: str) -> Party:
    """A ringing user leg sends the caller to its mailbox (`Voicemail`)."""
    session = engine.get(session_id)
    party = _require(session.party(party_id), RINGING, "send to voicemail")
    return engine.change(
        session, party.id, status="Voicemail", missed_call=True, pickup=None
    )


def _free_orbit(engine: CallEngine) -> str:
    """The first orbit not holding a parked call (stale entries pruned)."""
    for orbit, (session_id, party_id) in list(engine.orbits.items()):
        session = engine.sessions.get(session_id)
        if session is None or session.parties[party_id].status != "Parked":
            del engine.orbits[orbit]
    if len(engine.orbits) >= MAX_PARKED:
        raise EngineError("state", "Every park orbit is in use")
    return next(o for o in ORBITS if o not in engine.orbits)


def _require(party: Party, allowed: frozenset[str], action: str) -> Party:
    if party.status not in allowed:
        raise EngineError("state", f"Cannot {action} a party in status {party.status}")
    return party
