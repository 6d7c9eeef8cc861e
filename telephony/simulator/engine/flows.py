"""How each kind of call starts, event by event, on top of the engine.

Each function opens a session and emits the same opening sequence the
captured flows in tests/fixtures/ringcentral/captured/ show (docs/ringcentral.md 6.8),
leaving the call ringing. Answering, holding and hanging up are engine
actions, shared by every flow.
"""

from __future__ import annotations

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import Endpoint, Party, Session


def user_endpoint(agent: Agent, phone_number: str) -> Endpoint:
    """How a user's side of a leg looks: number, name, extension, device."""
    return Endpoint(phone_number, agent.name, agent.extension_id, agent.device_id)


def start_inbound(
    engine: CallEngine, *, caller: Endpoint, agent: Agent, company_number: str
) -> Session:
    """PSTN caller dials the company number and reaches an agent's phone.

    Setup p-1 (caller, Outbound, account path) → Setup p-2 (agent, Inbound)
    → Answered p-1 (RingCentral destination reached before the human
    answers) → Proceeding p-2 with mobilePickupData (ringing), or
    Voicemail p-2 when the agent is on Do Not Disturb.
    """
    session = engine.open_session()
    dialled = Endpoint(company_number)
    reached = Endpoint(company_number, agent.name, agent.extension_id)
    customer = engine.add_party(session, direction="Outbound", from_=caller, to=dialled)
    user = engine.add_party(
        session,
        direction="Inbound",
        from_=caller,
        to=reached,
        extension_id=agent.extension_id,
    )
    engine.change(session, customer.id, status="Answered", to=reached)
    ring_user(engine, session, user)
    return session


def ring_user(engine: CallEngine, session: Session, leg: Party) -> Party:
    """A direct call reaches a user's leg: it rings (Proceeding with
    mobilePickupData), or goes to the user's voicemail when the user is on
    Do Not Disturb [inferred: no event sequence for DND is published]."""
    if engine.availability_of(leg.extension_id or "").takes_direct_calls:
        return engine.change(
            session, leg.id, status="Proceeding", pickup=engine.ringing_pickup(leg)
        )
    return engine.change(session, leg.id, status="Voicemail", missed_call=True)


def start_outbound(
    engine: CallEngine,
    *,
    agent: Agent,
    callee: Endpoint,
    company_number: str,
    origin: str = "Call",
) -> Session:
    """An agent dials a PSTN number (desk phone, RingOut or call-out).

    Setup p-1 (agent, Outbound, with deviceId) → Proceeding p-2 (PSTN,
    Inbound, no Setup) → Proceeding p-1.
    """
    session = engine.open_session(origin)
    caller = user_endpoint(agent, company_number)
    user = engine.add_party(
        session,
        direction="Outbound",
        from_=caller,
        to=callee,
        extension_id=agent.extension_id,
    )
    dial_pstn(engine, session, user)
    return session


def dial_pstn(engine: CallEngine, session: Session, user: Party) -> None:
    """The PSTN side of an outbound call starts ringing (no Setup)."""
    engine.add_party(
        session, direction="Inbound", from_=user.from_, to=user.to, status="Proceeding"
    )
    engine.change(session, user.id, status="Proceeding")


def start_internal(
    engine: CallEngine, *, caller: Agent, callee: Agent, origin: str = "Call"
) -> Session:
    """One extension dials another.

    Setup p-1 (caller) → Setup p-2 (callee) → Answered p-1 → Proceeding p-2
    with mobilePickupData.
    """
    session = engine.open_session(origin)
    source = user_endpoint(caller, caller.extension_number)
    target = Endpoint(callee.extension_number, callee.name, callee.extension_id)
    first = engine.add_party(
        session,
        direction="Outbound",
        from_=source,
        to=target,
        extension_id=caller.extension_id,
    )
    ring_extension(engine, session, first, callee)
    return session


def ring_extension(
    engine: CallEngine, session: Session, first: Party, callee: Agent
) -> None:
    """An internal callee's leg: Setup, caller Answered, callee rings."""
    source = first.from_
    target = Endpoint(callee.extension_number, callee.name, callee.extension_id)
    second = engine.add_party(
        session,
        direction="Inbound",
        from_=source,
        to=target,
        extension_id=callee.extension_id,
    )
    engine.change(session, first.id, status="Answered")
    ring_user(engine, session, second)


def user_party(session: Session) -> Party:
    """The RingCentral user's leg the phone acts on (first live user leg).

    Queue legs, supervisors and park slots are skipped; with no user leg
    left (after a bridge), the first live leg.
    """
    live = session.live_parties()
    users = [p for p in live if p.extension_id is not None and p.kind == "call"]
    return (users or live or list(session.parties.values()))[0]


def far_party(session: Session, user: Party) -> Party:
    """The other side of a two-party call."""
    live = session.live_parties()
    others = [p for p in live if p.id != user.id and p.kind != "supervisor"]
    return (others or [user])[0]


def caller_party(session: Session) -> Party:
    """The leg that placed the call (the first one)."""
    return next(iter(session.parties.values()))
