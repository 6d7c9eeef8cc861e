"""Call Control REST endpoints (PROTOCOL.md 7) over the pure engine.

Each handler validates the request, asks the engine to act (which emits the
matching telephony event to every subscriber at once) and returns the REST
shape. Unknown ids give 404 `CMN-102`; a party whose state forbids the
action gives 409.
"""

from __future__ import annotations

import json
import re
from typing import Any

from telephony.simulator.engine import CallEngine
from telephony.simulator.errors import api_error
from telephony.simulator.httpserver import Request, Response, json_response
from telephony.simulator.wire import call_party, call_session

HOLD_PROTOCOLS = frozenset(
    {"Auto", "RC", "BroadWorks", "DisconnectHolder", "BroadWorksOrDisconnectHolder"}
)


class CallControl:
    """Handlers for /restapi/v1.0/account/{a}/telephony/sessions/…"""

    def __init__(self, engine: CallEngine) -> None:
        self._engine = engine

    def get_session(self, request: Request, match: re.Match[str]) -> Response:
        """GET …/sessions/{s}: CallSessionObject, unwrapped."""
        session = self._engine.get(match["session"])
        return json_response(200, call_session(session))

    def delete_session(self, request: Request, match: re.Match[str]) -> Response:
        """DELETE …/sessions/{s}: drop the call for everyone."""
        self._engine.hang_up(match["session"])
        return Response(204)

    def get_party(self, request: Request, match: re.Match[str]) -> Response:
        """GET …/parties/{p}: CallParty."""
        party = self._engine.get(match["session"]).party(match["party"])
        return json_response(200, call_party(party))

    def patch_party(self, request: Request, match: re.Match[str]) -> Response:
        """PATCH …/parties/{p}: mute; accepts the wrapped and flat bodies.

        PROTOCOL.md 7.2 item 4: the spec wraps fields in `party`, the docs
        and cc-js send them flat; which one production takes is unknown.
        """
        body = json_body(request)
        fields = body.get("party", body)
        muted = fields.get("muted") if isinstance(fields, dict) else None
        session_id, party_id = match["session"], match["party"]
        if muted is None:
            party = self._engine.get(session_id).party(party_id)
        elif isinstance(muted, bool):
            party = self._engine.set_muted(session_id, party_id, muted)
        else:
            raise _invalid("muted")
        return json_response(200, call_party(party))

    def hold(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/{p}/hold with an optional `proto`."""
        proto = json_body(request).get("proto", "Auto")
        if proto not in HOLD_PROTOCOLS:
            raise _invalid("proto")
        party = self._engine.hold(match["session"], match["party"])
        return json_response(200, call_party(party))

    def unhold(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/{p}/unhold."""
        party = self._engine.unhold(match["session"], match["party"])
        return json_response(200, call_party(party))


def json_body(request: Request) -> dict[str, Any]:
    """Optional JSON object body; 415 for other media, 400 if unparsable."""
    if not request.body.strip():
        return {}
    media_type = request.header("content-type").split(";")[0].strip().lower()
    if media_type and media_type != "application/json":
        raise api_error(415, "CMN-415", f"Unsupported Media Type: [{media_type}]")
    try:
        body = json.loads(request.body)
    except ValueError:
        raise api_error(400, "CMN-103", "Request body is not a valid JSON") from None
    if not isinstance(body, dict):
        raise api_error(400, "CMN-101", "Request body is not a JSON object")
    return body


def _invalid(name: str) -> Exception:
    return api_error(
        400, "CMN-101", f"Parameter [{name}] value is invalid", parameterName=name
    )
