"""Call Control actions beyond hold and mute (docs/ringcentral.md 7.2): reject,
ignore, reply, flip, recordings, supervision, party removal, conferences.

Each function checks the party's state (EngineError "state" → 409), asks
the engine for the changes and returns what the REST response shows.
Choices no public source confirms are marked [inferred] and listed in
docs/simulator.md.
"""

from __future__ import annotations

from telephony.simulator.defaults import Agent
from telephony.simulator.engine import queues, transfers
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import (
    CONNECTED,
    RINGING,
    Endpoint,
    EngineError,
    Party,
    Peer,
    Recording,
    Session,
)

# docs/ringcentral.md 7.2 item 18: at most ten parties in a conference.
MAX_CONFERENCE_PARTIES = 10


def ringing_user_leg(engine: CallEngine, session_id: str, party_id: str) -> Party:
    """The party, if it is an inbound user leg still ringing; else 409."""
    party = engine.get(session_id).party(party_id)
    if (
        party.status not in RINGING
        or party.direction != "Inbound"
        or party.extension_id is None
        or party.kind != "call"
    ):
        raise EngineError("state", f"Party in status {party.status} is not ringing")
    return party


def reject(engine: CallEngine, session_id: str, party_id: str) -> None:
    """Stop ringing: a queue agent's leg leaves (`Rejected`); a direct
    call goes to the user's voicemail [inferred]."""
    party = ringing_user_leg(engine, session_id, party_id)
    session = engine.get(session_id)
    if party.queue_call:
        queues.drop_agent_leg(engine, session, party.id, "Rejected")
    else:
        transfers.to_voicemail(engine, session_id, party.id)


def ignore(engine: CallEngine, session_id: str, party_id: str) -> None:
    """A queue agent passes on the call; the queue rings on without them."""
    party = ringing_user_leg(engine, session_id, party_id)
    if not party.queue_call:
        raise EngineError("state", "Only a call queue agent's leg can be ignored")
    queues.drop_agent_leg(engine, engine.get(session_id), party.id, "Rejected")


def reply(engine: CallEngine, session_id: str, party_id: str) -> Party:
    """Reply with a text instead of answering; returns the party as it was.

    The leg then ends with reason `CallReplied`; for a direct call the
    caller hears the text and the call ends [inferred].
    """
    party = ringing_user_leg(engine, session_id, party_id)
    session = engine.get(session_id)
    if party.queue_call:
        queues.drop_agent_leg(engine, session, party.id, "CallReplied")
    else:
        engine.end(session, party.id, reason="CallReplied")
        engine.hang_up(session_id)
    return party


def flip(
    engine: CallEngine, session_id: str, party_id: str, number: str, agent: Agent
) -> Party:
    """Move the call to one of the user's flip numbers: that number rings
    as a new leg of the user; the desk leg ends with `CallFlip`."""
    session = engine.get(session_id)
    party = session.party(party_id)
    if party.status not in CONNECTED or party.extension_id != agent.extension_id:
        raise EngineError("state", f"Cannot flip a party in status {party.status}")
    caller = transfers.remote_caller(session, party)
    ended = engine.end(session, party.id, reason="CallFlip")
    engine.add_party(
        session,
        direction="Inbound",
        from_=caller,
        to=Endpoint(number, agent.name),
        extension_id=agent.extension_id,
        status="Proceeding",
    )
    return ended


def start_recording(engine: CallEngine, session_id: str, party_id: str) -> Recording:
    """Start an on-demand recording of a connected party (one at a time)."""
    session = engine.get(session_id)
    party = session.party(party_id)
    if session.origin == "Conference":
        raise EngineError("state", "Conference calls cannot be recorded")
    if party.status not in CONNECTED or party.recordings:
        raise EngineError("state", f"Cannot record a party in status {party.status}")
    recording = Recording(engine.new_id(), True)
    engine.change(session, party.id, recordings=(recording,))
    return recording


def find_recording(party: Party, recording_id: str) -> Recording | None:
    """The party's recording with this id, if any."""
    return next((r for r in party.recordings if r.id == recording_id), None)


def set_recording(
    engine: CallEngine, session_id: str, party_id: str, recording: Recording
) -> Recording:
    """Pause (`active=False`) or resume a recording; event on change."""
    session = engine.get(session_id)
    party = session.party(party_id)
    if party.status not in CONNECTED:
        raise EngineError("state", f"Cannot change recording in {party.status}")
    current = find_recording(party, recording.id)
    if current != recording:
        others = tuple(r for r in party.recordings if r.id != recording.id)
        engine.change(session, party.id, recordings=(*others, recording))
    return recording


def supervise(
    engine: CallEngine,
    session_id: str,
    *,
    supervisor: Agent,
    device_id: str,
    agent_id: str,
    auto_answer: bool = True,
    party_id: str | None = None,
) -> Party:
    """A supervisor starts listening: a new leg on the supervisor's device.

    Session mode allows one supervisor per call; party mode one per
    monitored party, on calls of at most two parties.
    """
    session = engine.get(session_id)
    monitored = _monitored(session, agent_id, party_id)
    supervisors = [p for p in session.live_parties() if p.kind == "supervisor"]
    if party_id is None and supervisors:
        raise EngineError("state", "The call is already supervised")
    if party_id is not None and any(
        p.from_.extension_id == agent_id for p in supervisors
    ):
        raise EngineError("state", "The party is already supervised")
    leg = engine.add_party(
        session,
        direction="Inbound",
        from_=Endpoint(monitored.to.phone_number, monitored.to.name, agent_id),
        to=Endpoint(
            supervisor.extension_number,
            supervisor.name,
            supervisor.extension_id,
            device_id,
        ),
        extension_id=supervisor.extension_id,
        kind="supervisor",
    )
    status = "Answered" if auto_answer else "Proceeding"
    return engine.change(session, leg.id, status=status)


def _monitored(session: Session, agent_id: str, party_id: str | None) -> Party:
    if party_id is not None:
        party = session.party(party_id)
        callers = [p for p in session.live_parties() if p.kind == "call"]
        if party.extension_id != agent_id or len(callers) > 2:
            raise EngineError("state", "This party cannot be supervised")
    else:
        party = next(
            (
                p
                for p in session.live_parties()
                if p.extension_id == agent_id and p.kind == "call"
            ),
            None,
        ) or _refuse("The agent has no leg in this call")
    if party.status not in CONNECTED:
        raise EngineError("state", f"Cannot supervise a party in {party.status}")
    return party


def delete_party(engine: CallEngine, session_id: str, party_id: str) -> None:
    """Remove a supervisor's leg, a parked call or a conference participant."""
    session = engine.get(session_id)
    party = session.party(party_id)
    if party.status == "Parked":
        engine.hang_up(session_id, party.id)
        return
    if party.kind != "supervisor" and session.origin != "Conference":
        raise EngineError("state", "Only supervised, parked or conference parties")
    if party.status in ("Disconnected", "Gone"):
        raise EngineError("state", "The party has already left")
    engine.end(session, party.id)
    engine.close_if_empty(session)


def conference(engine: CallEngine) -> Session:
    """An empty `Conference` session with its voiceCallToken (no events)."""
    session = engine.open_session("Conference")
    session.voice_call_token = f"conf_{session.id[2:]}"
    return session


def bring_in(
    engine: CallEngine, session_id: str, source_id: str, source_party: str
) -> Party:
    """Move a connected leg of another call into a conference.

    The leg leaves its call as `Gone` with `peerId` on the new participant
    and the rest of that call ends [inferred].
    """
    target = engine.get(session_id)
    source = engine.get(source_id)
    party = source.party(source_party)
    if target.origin != "Conference" or party.status not in CONNECTED:
        raise EngineError("state", "Only connected legs join a conference")
    if len(target.live_parties()) >= MAX_CONFERENCE_PARTIES:
        raise EngineError("state", "The conference is full")
    role = "Host" if not target.parties else "Participant"
    joined = engine.add_party(
        target,
        direction=party.direction,
        from_=party.from_,
        to=party.to,
        extension_id=party.extension_id,
        conference_role=role,
    )
    joined = engine.change(target, joined.id, status="Answered")
    engine.change(
        source,
        party.id,
        status="Gone",
        pickup=None,
        peer=Peer(target.id, joined.id, target.legacy_id),
    )
    engine.hang_up(source_id)
    return joined


def _refuse(message: str) -> Party:
    raise EngineError("state", message)
