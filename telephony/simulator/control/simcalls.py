"""What the control API does with calls: place one by scenario, act on a
desk phone, and report the ground truth of every live call.

`control.py` routes `/_sim/` requests here. Phone actions are the agent's
own (hold, mute from the handset): they are tracked apart from API holds
and mutes, as on the platform (see `Party`).
"""

from __future__ import annotations

from typing import Any

from telephony.simulator.defaults import Agent
from telephony.simulator.engine import flows
from telephony.simulator.engine.model import Endpoint, Party, Session
from telephony.simulator.engine.wire import call_session
from telephony.simulator.floor.floor import CallRequest, Floor
from telephony.simulator.floor.plans import CallPlan, random_plan
from telephony.simulator.rest.errors import ApiError, api_error

SCENARIOS = ("inbound", "outbound", "internal", "queue")
ACTIONS = ("answer", "hold", "unhold", "mute", "unmute", "hangup")


def create_call(floor: Floor, body: dict[str, Any]) -> Session:
    """Place a call described by a `POST /_sim/calls` body."""
    scenario = body.get("scenario", "inbound")
    if scenario not in SCENARIOS:
        raise invalid("scenario")
    agent: Agent | None = _agent(floor, body.get("agent"), "agent")
    queue = None
    if scenario == "queue":
        queue = _queue(floor, body.get("queue"))
        agent = agent if body.get("agent") is not None else None
    peer = _peer(floor, body, agent) if scenario == "internal" else None
    customer = None
    if isinstance(body.get("customer"), str):
        customer = Endpoint(body["customer"], body.get("customerName"))
    plan = plan_from(body, floor)
    request = CallRequest(scenario, agent, plan, customer, peer, queue)
    return floor.place(request)


def phone_action(floor: Floor, session_id: str, body: dict[str, Any]) -> Party:
    """Do what a person does on the phone (`POST /_sim/calls/{id}/phone`)."""
    action = body.get("action")
    if action not in ACTIONS:
        raise invalid("action")
    party_id = body.get("partyId")
    if party_id is not None and not isinstance(party_id, str):
        raise invalid("partyId")
    engine = floor.engine
    if action == "answer":
        return floor.answer(session_id, party_id)
    target = party_id or flows.user_party(engine.get(session_id)).id
    if action == "hold":
        return engine.hold(session_id, target, "phone")
    if action == "unhold":
        return engine.unhold(session_id, target, "phone")
    if action in ("mute", "unmute"):
        return engine.set_muted(session_id, target, action == "mute", "phone")
    ended = engine.hang_up(session_id, target)
    assert ended is not None
    return ended


def state(floor: Floor) -> dict[str, Any]:
    """Every live call as `CallSessionObject`, plus the simulator's truth
    per party under `simulator` (hold and mute sources, kind, queue)."""
    sessions = []
    for session in floor.engine.sessions.values():
        data = call_session(session)
        for party_json, party in zip(
            data["parties"], session.parties.values(), strict=True
        ):
            party_json["simulator"] = _truth(party)
        if session.queue_id is not None:
            data["simulator"] = {"queueExtensionId": session.queue_id}
        sessions.append(data)
    return {"sessions": sessions}


def _truth(party: Party) -> dict[str, Any]:
    return {
        "kind": party.kind,
        "heldBy": [s for s in ("api", "phone") if getattr(party, f"{s}_hold")],
        "mutedBy": [s for s in ("api", "phone") if getattr(party, f"{s}_mute")],
    }


def plan_from(body: dict[str, Any], floor: Floor) -> CallPlan:
    """Explicit timings from the body; unset ones follow the floor's odds.

    Unlike generated calls, a control-API call never holds, transfers or
    records by itself unless asked, so tests see only the events they
    cause.
    """
    base = random_plan(floor.rng)
    ring = _seconds(body, "ring_seconds", base.ring)
    if body.get("auto_answer") is False:
        ring = None
    hold_for = _seconds(body, "hold_seconds", None)
    hold_at = _seconds(body, "hold_after_seconds", 1.0) if hold_for else None
    talk = _seconds(body, "talk_seconds", base.talk)
    hangup_by = body.get("hangup_by", base.hangup_by)
    if hangup_by not in ("customer", "agent"):
        raise invalid("hangup_by")
    return CallPlan(
        ring,
        talk,
        hold_at,
        hold_for or 0.0,
        hangup_by,
        abandon=bool(body.get("abandon")),
        voicemail=bool(body.get("voicemail")),
        record=bool(body.get("record")),
    )


def invalid(name: str) -> ApiError:
    """400 CMN-101 naming the bad field."""
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )


def _seconds(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise invalid(name)
    return float(value)


def _agent(floor: Floor, number: Any, field: str) -> Agent:
    if number is None:
        return floor.idle_agent() or floor.rng.choice(floor.agents)
    agent = floor.account.agent_by_number(str(number))
    if agent is None:
        raise invalid(field)
    return agent


def _queue(floor: Floor, number: Any) -> Any:
    if number is None:
        return floor.rng.choice(floor.account.queues)
    queue = floor.account.queue_by_number(str(number))
    if queue is None:
        raise invalid("queue")
    return queue


def _peer(floor: Floor, body: dict[str, Any], caller: Agent | None) -> Agent:
    if body.get("to") is not None:
        return _agent(floor, body["to"], "to")
    others = [a for a in floor.agents if a != caller]
    idle = floor.idle_agents_sample(others, 1)
    return (idle or others)[0]
