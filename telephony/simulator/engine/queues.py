"""Call queues: a queue leg, agent legs ringing in parallel, resolution.

docs/ringcentral.md 6.9 E (structure inferred from the docs and the spec fields):
the caller reaches the queue's extension, the queue rings several agents
at once with `queueCall: true` and `uiCallInfo`; the first to answer wins,
the other agent legs stop ringing and the queue leg leaves. When nobody
is left ringing, the caller goes to the queue's voicemail [inferred].
"""

from __future__ import annotations

from collections.abc import Sequence

from telephony.simulator.defaults import Agent
from telephony.simulator.engine.account import CallQueue
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import Endpoint, Party, Session, UiCallInfo


def queue_endpoint(queue: CallQueue, phone_number: str) -> Endpoint:
    """How the queue appears in `to`: the dialled number, its name and id."""
    return Endpoint(phone_number, queue.name, queue.extension_id)


def start_queue(
    engine: CallEngine,
    *,
    caller: Endpoint,
    queue: CallQueue,
    agents: Sequence[Agent],
    company_number: str,
) -> Session:
    """A PSTN caller dials the company number and lands in a call queue.

    Setup p-1 (caller, Outbound, account path) → Setup p-2 (queue leg,
    Inbound) → Answered p-1 → Proceeding p-3… (one per rung agent, with
    queueCall, uiCallInfo and mobilePickupData).
    """
    session = engine.open_session()
    session.queue_id = queue.extension_id
    reached = queue_endpoint(queue, company_number)
    customer = engine.add_party(
        session, direction="Outbound", from_=caller, to=Endpoint(company_number)
    )
    engine.add_party(
        session,
        direction="Inbound",
        from_=caller,
        to=reached,
        extension_id=queue.extension_id,
        kind="queue",
    )
    engine.change(session, customer.id, status="Answered", to=reached)
    if agents:
        ring_agents(engine, session, queue, agents)
    else:
        queue_voicemail(engine, session)
    return session


def ring_agents(
    engine: CallEngine, session: Session, queue: CallQueue, agents: Sequence[Agent]
) -> list[Party]:
    """Ring agent legs in parallel for the queue call of `session`."""
    caller = next(iter(session.parties.values())).from_
    info = UiCallInfo(queue.name, caller.name or caller.phone_number)
    legs = []
    for agent in agents:
        to = Endpoint(caller_target(session), agent.name, agent.extension_id)
        leg = engine.add_party(
            session,
            direction="Inbound",
            from_=caller,
            to=to,
            extension_id=agent.extension_id,
            status="Proceeding",
            queue_call=True,
            ui_call_info=info,
            pickup=engine.pickup_for(agent.extension_id),
        )
        legs.append(leg)
    return legs


def caller_target(session: Session) -> str:
    """The number the caller dialled (the company number)."""
    return next(iter(session.parties.values())).to.phone_number


def drop_agent_leg(
    engine: CallEngine, session: Session, party_id: str, reason: str
) -> Party:
    """One agent leg stops ringing; the last one sends the caller on."""
    ended = engine.end(session, party_id, reason=reason)
    if not session.ringing_agents():
        queue_voicemail(engine, session)
    return ended


def queue_voicemail(engine: CallEngine, session: Session) -> None:
    """Nobody answers: the queue leg takes a message (`Voicemail`)."""
    for leg in session.live_parties():
        if leg.kind == "queue":
            engine.change(session, leg.id, status="Voicemail", missed_call=True)


def no_answer(engine: CallEngine, session: Session) -> None:
    """The queue's ring time is over: agent legs end with `NoAnswer`."""
    agents = session.ringing_agents()
    for leg in agents:
        engine.end(session, leg.id, reason="NoAnswer", missed_call=True)
    if agents:
        queue_voicemail(engine, session)
