"""Control API under /_sim/: place calls, act on desk phones, read state.

Not part of RingCentral: JSON in and out, no authentication, never under
/restapi. Tests and demos use it to make the floor do something specific.
Errors reuse RingCentral's body shape so one helper reads both.
"""

from __future__ import annotations

import json
import re
from typing import Any

from telephony.simulator import flows
from telephony.simulator.defaults import Agent, agent_by_number
from telephony.simulator.engine import Endpoint, EngineError, Party
from telephony.simulator.errors import ApiError, api_error, not_found_uri
from telephony.simulator.floor import CallRequest, Floor
from telephony.simulator.httpserver import Request, Response, json_response
from telephony.simulator.plans import CallPlan, random_plan
from telephony.simulator.rest import engine_error
from telephony.simulator.wire import call_party, call_session

_PHONE = re.compile(r"^/_sim/calls/(?P<session>[^/]+)/phone$")
SCENARIOS = ("inbound", "outbound", "internal")
ACTIONS = ("answer", "hold", "unhold", "mute", "unmute", "hangup")


class ControlApi:
    """Handlers for /_sim/ requests."""

    def __init__(self, floor: Floor) -> None:
        self._floor = floor

    def handle(self, request: Request) -> Response:
        """Route one /_sim/ request."""
        try:
            return self._route(request)
        except ApiError as exc:
            return json_response(exc.status, exc.body)
        except EngineError as exc:
            error = engine_error(exc)
            return json_response(error.status, error.body)

    def _route(self, request: Request) -> Response:
        if request.path == "/_sim/state" and request.method == "GET":
            return self._state()
        if request.path == "/_sim/calls" and request.method == "POST":
            return self._create_call(_json_body(request))
        match = _PHONE.match(request.path)
        if match and request.method == "POST":
            return self._phone(match["session"], _json_body(request))
        raise not_found_uri()

    def _state(self) -> Response:
        sessions = [call_session(s) for s in self._floor.engine.sessions.values()]
        return json_response(200, {"sessions": sessions})

    def _create_call(self, body: dict[str, Any]) -> Response:
        scenario = body.get("scenario", "inbound")
        if scenario not in SCENARIOS:
            raise _invalid("scenario")
        agent = self._agent(body.get("agent"), "agent")
        peer = (
            self._peer(body, agent.extension_number) if scenario == "internal" else None
        )
        customer = None
        if isinstance(body.get("customer"), str):
            customer = Endpoint(body["customer"], body.get("customerName"))
        request = CallRequest(scenario, agent, _plan(body, self._floor), customer, peer)
        session = self._floor.place(request)
        return json_response(201, {"telephonySessionId": session.id})

    def _phone(self, session_id: str, body: dict[str, Any]) -> Response:
        action = body.get("action")
        if action not in ACTIONS:
            raise _invalid("action")
        party_id = body.get("partyId")
        if party_id is not None and not isinstance(party_id, str):
            raise _invalid("partyId")
        party = self._act(session_id, action, party_id)
        return json_response(
            200, {"telephonySessionId": session_id, "party": call_party(party)}
        )

    def _act(self, session_id: str, action: str, party_id: str | None) -> Party:
        engine = self._floor.engine
        if action == "answer":
            return self._floor.answer(session_id, party_id)
        target = party_id or flows.user_party(engine.get(session_id)).id
        if action == "hold":
            return engine.hold(session_id, target)
        if action == "unhold":
            return engine.unhold(session_id, target)
        if action in ("mute", "unmute"):
            return engine.set_muted(session_id, target, action == "mute")
        return engine.hang_up(session_id, target)

    def _agent(self, number: Any, field: str) -> Agent:
        if number is None:
            idle = self._floor.idle_agents() or list(self._floor.agents)
            return idle[0]
        agent = agent_by_number(str(number))
        if agent is None:
            raise _invalid(field)
        return agent

    def _peer(self, body: dict[str, Any], caller: str) -> Agent:
        if body.get("to") is not None:
            return self._agent(body["to"], "to")
        others = [a for a in self._floor.idle_agents() if a.extension_number != caller]
        return (
            others or [a for a in self._floor.agents if a.extension_number != caller]
        )[0]


def _plan(body: dict[str, Any], floor: Floor) -> CallPlan:
    """Explicit timings from the body; unset ones follow the floor's odds.

    Unlike generated calls, a control-API call never holds by itself unless
    `hold_seconds` is given, so tests see only the events they cause.
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
        raise _invalid("hangup_by")
    return CallPlan(
        ring, talk, hold_at, hold_for or 0.0, hangup_by, bool(body.get("abandon"))
    )


def _seconds(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(name)
    return float(value)


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        raise api_error(400, "CMN-103", "Request body is not a valid JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, "CMN-101", "Request body is not a JSON object")
    return body


def _invalid(name: str) -> ApiError:
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )
