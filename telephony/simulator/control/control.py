"""Control API under /_sim/: place calls, act on desk phones, read state,
set agents' availability, pause the floor.

Not part of RingCentral: JSON in and out, no authentication, never under
/restapi. Tests and demos use it to make the floor do something specific.
Errors reuse RingCentral's body shape so one helper reads both.
"""

from __future__ import annotations

import json
import re
from typing import Any

from telephony.simulator.control import agents, simcalls
from telephony.simulator.engine.engine import EngineError
from telephony.simulator.engine.presence import PresenceBook
from telephony.simulator.engine.wire import call_party
from telephony.simulator.floor.floor import Floor
from telephony.simulator.rest.errors import ApiError, api_error, not_found_uri
from telephony.simulator.rest.httpserver import Request, Response, json_response
from telephony.simulator.rest.rest import engine_error

_PHONE = re.compile(r"^/_sim/calls/(?P<session>[^/]+)/phone$")
_AGENT_PRESENCE = re.compile(r"^/_sim/agents/(?P<number>[^/]+)/presence$")
# Scenarios and phone actions: telephony/simulator/control/simcalls.py;
# agents and the floor itself: telephony/simulator/control/agents.py.


class ControlApi:
    """Handlers for /_sim/ requests."""

    def __init__(self, floor: Floor, presence: PresenceBook) -> None:
        self._floor = floor
        self._presence = presence

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
        account = self._floor.account
        if request.path == "/_sim/agents" and request.method == "GET":
            return json_response(200, agents.agents(account, self._presence))
        match = _AGENT_PRESENCE.match(request.path)
        if match and request.method == "POST":
            record = agents.set_presence(
                account, self._presence, match["number"], _json_body(request)
            )
            return json_response(200, record)
        if request.path == "/_sim/floor" and request.method == "GET":
            return json_response(200, agents.floor_state(self._floor))
        if request.path == "/_sim/floor" and request.method == "POST":
            body = agents.set_floor(self._floor, _json_body(request))
            return json_response(200, body)
        raise not_found_uri()

    def _state(self) -> Response:
        return json_response(200, simcalls.state(self._floor))

    def _create_call(self, body: dict[str, Any]) -> Response:
        session = simcalls.create_call(self._floor, body)
        return json_response(201, {"telephonySessionId": session.id})

    def _phone(self, session_id: str, body: dict[str, Any]) -> Response:
        party = simcalls.phone_action(self._floor, session_id, body)
        return json_response(
            200, {"telephonySessionId": session_id, "party": call_party(party)}
        )


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
