"""Call Control REST endpoints (docs/ringcentral.md 7) over the pure engine.

Each handler validates the request, asks the engine to act (which emits the
matching telephony events to every subscriber at once) and returns the
REST shape with the documented status code. Unknown ids give 404
`CMN-102`; a party whose state forbids the action gives 409. Endpoints that
create or move legs (transfer, bridge, supervise, call-out, …) are in
`callcontrol_moves.py`; `routes()` lists both for the REST router.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from telephony.simulator.engine import actions, transfers
from telephony.simulator.engine.account import DEMO_ACCOUNT, Account
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import Recording, Session
from telephony.simulator.engine.wire import (
    call_party,
    call_session,
    recording,
    short_party,
)
from telephony.simulator.rest.callcontrol_input import (
    device,
    invalid,
    json_body,
    not_found,
    text,
)
from telephony.simulator.rest.httpserver import Request, Response, json_response

HOLD_PROTOCOLS = frozenset(
    {"Auto", "RC", "BroadWorks", "DisconnectHolder", "BroadWorksOrDisconnectHolder"}
)
REPLY_PATTERNS = frozenset(
    {
        *("WillCallYouBack", "CallMeBack", "OnMyWay", "OnTheOtherLine"),
        *("WillCallYouBackLater", "CallMeBackLater", "InAMeeting"),
        "OnTheOtherLineNoCall",
    }
)
Handler = Callable[[Request, "re.Match[str]"], Response]
FollowUp = Callable[[Session], None]

ACCOUNT = r"^/restapi/v1\.0/account/(?P<account>[^/]+)/telephony"
SESSION = ACCOUNT + r"/sessions/(?P<session>[^/]+)"
PARTY = SESSION + r"/parties/(?P<party>[^/]+)"


class CallControl:
    """Handlers for /restapi/v1.0/account/{a}/telephony/…"""

    def __init__(
        self,
        engine: CallEngine,
        account: Account = DEMO_ACCOUNT,
        follow_up: FollowUp | None = None,
    ) -> None:
        self._engine = engine
        self._account = account
        # Called with a session that gained a ringing leg, so the floor can
        # let that leg's owner answer it like a person would.
        self._follow_up = follow_up or (lambda session: None)

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """(method, pattern, handler, rate group) of the endpoints added
        since the first slice (GET/DELETE session, GET/PATCH party, hold
        and unhold are routed in rest.py)."""
        from telephony.simulator.rest.callcontrol_moves import Moves

        moves = Moves(self._engine, self._account, self._follow_up)
        return [
            ("DELETE", PARTY + "$", self.delete_party, "Light"),
            ("POST", PARTY + "/answer$", self.answer, "Light"),
            ("POST", PARTY + "/pickup$", self.pickup, "Light"),
            ("POST", PARTY + "/reject$", self.reject, "Light"),
            ("POST", PARTY + "/ignore$", self.ignore, "Light"),
            ("POST", PARTY + "/reply$", self.reply, "Light"),
            ("POST", PARTY + "/park$", self.park, "Light"),
            ("POST", PARTY + "/flip$", self.flip, "Light"),
            ("POST", PARTY + "/recordings$", self.start_recording, "Light"),
            (
                "PATCH",
                PARTY + r"/recordings/(?P<recording>[^/]+)$",
                self.update_recording,
                "Light",
            ),
            *moves.routes(),
        ]

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

        docs/ringcentral.md 7.2 item 4: the spec wraps fields in `party`, the docs
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
            raise invalid("muted")
        return json_response(200, call_party(party))

    def delete_party(self, request: Request, match: re.Match[str]) -> Response:
        """DELETE …/parties/{p}: supervisor leg, parked call, participant."""
        keep = json_body(request).get("keepConferenceAlive", False)
        if not isinstance(keep, bool):
            raise invalid("keepConferenceAlive")
        actions.delete_party(self._engine, match["session"], match["party"])
        return Response(204)

    def hold(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/{p}/hold with an optional `proto`."""
        proto = json_body(request).get("proto", "Auto")
        if proto not in HOLD_PROTOCOLS:
            raise invalid("proto")
        party = self._engine.hold(match["session"], match["party"])
        return json_response(200, call_party(party))

    def unhold(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/{p}/unhold."""
        party = self._engine.unhold(match["session"], match["party"])
        return json_response(200, call_party(party))

    def answer(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/answer {deviceId}: a ringing leg answered on that device."""
        device_id = text(json_body(request), "deviceId") or ""
        device(self._account, device_id)
        session_id, party_id = match["session"], match["party"]
        session = self._engine.get(session_id)
        party = actions.ringing_user_leg(self._engine, session_id, party_id)
        to = dataclasses.replace(party.to, device_id=device_id)
        self._engine.note(session, party_id, to=to)
        return json_response(200, call_party(self._engine.answer(session_id, party_id)))

    def pickup(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/pickup {deviceId}: a parked call onto a device; 201."""
        device_id = text(json_body(request), "deviceId") or ""
        phone = device(self._account, device_id)
        party = transfers.pickup(
            self._engine, match["session"], match["party"], phone.agent, device_id
        )
        return json_response(201, call_party(party))

    def reject(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/reject: stop ringing on this user's devices; 204."""
        actions.reject(self._engine, match["session"], match["party"])
        return Response(204)

    def ignore(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/ignore {deviceId}: a queue agent passes; 204."""
        device(self._account, text(json_body(request), "deviceId") or "")
        actions.ignore(self._engine, match["session"], match["party"])
        return Response(204)

    def reply(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/reply: text or pattern instead of answering; ReplyParty."""
        body = json_body(request)
        pattern = body.get("replyWithPattern")
        if isinstance(body.get("replyWithText"), str) and body["replyWithText"]:
            pass
        elif not isinstance(pattern, dict) or pattern.get("pattern") not in (
            REPLY_PATTERNS
        ):
            raise invalid("replyWithText")
        party = actions.reply(self._engine, match["session"], match["party"])
        data = short_party(party)
        data["park"] = {}
        return json_response(200, data)

    def park(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/park: into the next free orbit; 201 CallParty (park.id)."""
        party = transfers.park(self._engine, match["session"], match["party"])
        return json_response(201, call_party(party))

    def flip(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/flip {callFlipId}: ring one of the user's flip numbers."""
        flip_id = text(json_body(request), "callFlipId") or ""
        session = self._engine.get(match["session"])
        party = session.party(match["party"])
        agent = self._account.agent_by_id(party.extension_id or "")
        if agent is None or not re.fullmatch(r"\*?[0-9]{1,2}", flip_id):
            raise invalid("callFlipId")
        number = f"+1415600{int(agent.extension_number) % 10000:04d}"
        ended = actions.flip(self._engine, session.id, party.id, number, agent)
        self._follow_up(session)
        return json_response(200, call_party(ended))

    def start_recording(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/recordings: start on-demand recording; 201 CallRecording."""
        started = actions.start_recording(
            self._engine, match["session"], match["party"]
        )
        return json_response(201, recording(started))

    def update_recording(self, request: Request, match: re.Match[str]) -> Response:
        """PATCH …/recordings/{r} {active}: pause or resume; 200."""
        active = json_body(request).get("active")
        if not isinstance(active, bool):
            raise invalid("active")
        party = self._engine.get(match["session"]).party(match["party"])
        if actions.find_recording(party, match["recording"]) is None:
            raise not_found("recordingId")
        updated = actions.set_recording(
            self._engine,
            match["session"],
            match["party"],
            Recording(match["recording"], active),
        )
        return json_response(200, recording(updated))
