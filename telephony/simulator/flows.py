"""How each kind of call starts, event by event, on top of the engine.

Each function opens a session and emits the same opening sequence the
captured flows in /work/shared/ringcentral/captured/ show (PROTOCOL.md 6.8),
leaving the call ringing. Answering, holding and hanging up are engine
actions, shared by every flow.
"""

from __future__ import annotations

from telephony.simulator.defaults import Agent
from telephony.simulator.engine import CallEngine, Endpoint, Party, Session


def user_endpoint(agent: Agent, phone_number: str) -> Endpoint:
    """How a user's side of a leg looks: number, name, extension, device."""
    return Endpoint(phone_number, agent.name, agent.extension_id, agent.device_id)


def start_inbound(
    engine: CallEngine, *, caller: Endpoint, agent: Agent, company_number: str
) -> Session:
    """PSTN caller dials the company number and reaches an agent's phone.

    Setup p-1 (caller, Outbound, account path) → Setup p-2 (agent, Inbound)
    → Answered p-1 (RingCentral destination reached before the human
    answers) → Proceeding p-2 with mobilePickupData (ringing).
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
    engine.change(
        session, user.id, status="Proceeding", pickup=engine.ringing_pickup(user)
    )
    return session


def start_outbound(
    engine: CallEngine, *, agent: Agent, callee: Endpoint, company_number: str
) -> Session:
    """An agent dials a PSTN number from the desk phone.

    Setup p-1 (agent, Outbound, with deviceId) → Proceeding p-2 (PSTN,
    Inbound, no Setup) → Proceeding p-1.
    """
    session = engine.open_session()
    caller = user_endpoint(agent, company_number)
    user = engine.add_party(
        session,
        direction="Outbound",
        from_=caller,
        to=callee,
        extension_id=agent.extension_id,
    )
    engine.add_party(
        session, direction="Inbound", from_=caller, to=callee, status="Proceeding"
    )
    engine.change(session, user.id, status="Proceeding")
    return session


def start_internal(engine: CallEngine, *, caller: Agent, callee: Agent) -> Session:
    """One extension dials another.

    Setup p-1 (caller) → Setup p-2 (callee) → Answered p-1 → Proceeding p-2
    with mobilePickupData.
    """
    session = engine.open_session()
    source = user_endpoint(caller, caller.extension_number)
    target = Endpoint(callee.extension_number, callee.name, callee.extension_id)
    first = engine.add_party(
        session,
        direction="Outbound",
        from_=source,
        to=target,
        extension_id=caller.extension_id,
    )
    second = engine.add_party(
        session,
        direction="Inbound",
        from_=source,
        to=target,
        extension_id=callee.extension_id,
    )
    engine.change(session, first.id, status="Answered")
    engine.change(
        session, second.id, status="Proceeding", pickup=engine.ringing_pickup(second)
    )
    return session


def user_party(session: Session) -> Party:
    """The RingCentral user's leg the phone acts on (first live user leg)."""
    live = session.live_parties()
    return next((p for p in live if p.extension_id is not None), live[0])


def far_party(session: Session, user: Party) -> Party:
    """The other side of a two-party call."""
    live = session.live_parties()
    return next((p for p in live if p.id != user.id), user)


def caller_party(session: Session) -> Party:
    """The leg that placed the call (the first one)."""
    return next(iter(session.parties.values()))
