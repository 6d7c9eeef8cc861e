"""Call Control endpoints that create or move legs (docs/ringcentral.md 7.2):
transfer, forward, bridge, bring-in, supervise (session and party),
call-out and conference.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from telephony.simulator.defaults import Agent
from telephony.simulator.engine import actions, flows, transfers
from telephony.simulator.engine.account import Account
from telephony.simulator.engine.engine import CallEngine
from telephony.simulator.engine.model import Endpoint, Session
from telephony.simulator.engine.wire import call_party, call_session, short_party
from telephony.simulator.rest.callcontrol_input import (
    FORWARD_FIELDS,
    TRANSFER_FIELDS,
    device,
    invalid,
    json_body,
    not_found,
    parse_target,
    text,
)
from telephony.simulator.rest.httpserver import Request, Response, json_response

Handler = Callable[[Request, "re.Match[str]"], Response]
ACCOUNT = r"^/restapi/v1\.0/account/(?P<account>[^/]+)/telephony"
SESSION = ACCOUNT + r"/sessions/(?P<session>[^/]+)"
PARTY = SESSION + r"/parties/(?P<party>[^/]+)"


class Moves:
    """Handlers for the leg-creating Call Control endpoints."""

    def __init__(
        self,
        engine: CallEngine,
        account: Account,
        follow_up: Callable[[Session], None],
    ) -> None:
        self._engine = engine
        self._account = account
        self._follow_up = follow_up

    def routes(self) -> list[tuple[str, str, Handler, str]]:
        """(method, pattern, handler, rate group); call-out and conference
        are in the Heavy group (docs/ringcentral.md 7)."""
        return [
            ("POST", SESSION + r"/parties/bring-in$", self.bring_in, "Light"),
            ("POST", PARTY + "/transfer$", self.transfer, "Light"),
            ("POST", PARTY + "/forward$", self.forward, "Light"),
            ("POST", PARTY + "/bridge$", self.bridge, "Light"),
            ("POST", PARTY + "/supervise$", self.supervise_party, "Light"),
            ("POST", SESSION + "/supervise$", self.supervise_session, "Light"),
            ("POST", ACCOUNT + "/call-out$", self.call_out, "Heavy"),
            ("POST", ACCOUNT + "/conference$", self.conference, "Heavy"),
        ]

    def transfer(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/transfer: blind transfer; 200 CallParty (BlindTransfer)."""
        self._engine.get(match["session"]).party(match["party"])
        target = parse_target(
            json_body(request), self._account, self._engine, TRANSFER_FIELDS
        )
        party = transfers.blind_transfer(
            self._engine, match["session"], match["party"], target
        )
        self._follow_up(self._engine.get(match["session"]))
        return json_response(200, call_party(party))

    def forward(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/forward: a ringing leg elsewhere; ForwardCallPartyResponse."""
        self._engine.get(match["session"]).party(match["party"])
        target = parse_target(
            json_body(request), self._account, self._engine, FORWARD_FIELDS
        )
        party = transfers.forward(
            self._engine, match["session"], match["party"], target
        )
        self._follow_up(self._engine.get(match["session"]))
        data = call_party(party)
        data.pop("accountId", None)
        data.pop("extensionId", None)
        return json_response(200, data)

    def bridge(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/bridge {telephonySessionId, partyId}: warm transfer."""
        body = json_body(request)
        other = text(body, "telephonySessionId") or ""
        other_party = text(body, "partyId") or ""
        party = transfers.bridge(
            self._engine, match["session"], match["party"], other, other_party
        )
        return json_response(200, call_party(party))

    def bring_in(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/bring-in: a leg of another call joins; 201."""
        body = json_body(request)
        source = text(body, "sessionId", "telephonySessionId") or ""
        party_id = text(body, "partyId") or ""
        joined = actions.bring_in(self._engine, match["session"], source, party_id)
        return json_response(201, call_party(joined))

    def supervise_session(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/sessions/{s}/supervise (Listen): the supervisor's leg; 201."""
        body = json_body(request)
        agent = self._agent(body)
        return self._supervise(match["session"], body, agent, None)

    def supervise_party(self, request: Request, match: re.Match[str]) -> Response:
        """POST …/parties/{p}/supervise: monitor one party; 201."""
        body = json_body(request)
        agent_id = text(body, "agentExtensionId") or ""
        agent = self._account.agent_by_id(agent_id)
        if agent is None:
            raise not_found("agentExtensionId")
        return self._supervise(match["session"], body, agent, match["party"])

    def call_out(self, request: Request, match: re.Match[str]) -> Response:
        """POST /telephony/call-out: ring out from a device; 201 CallSession.

        The response shows the caller's leg in `Setup` only, as the
        platform answers before the callee rings (cc-js mock).
        """
        body = json_body(request)
        caller = self._caller(body.get("from"))
        to = body.get("to")
        if not isinstance(to, dict):
            raise invalid("to")
        session = self._engine.open_session("CallOut")
        number = text(to, "phoneNumber", required=False)
        callee = (
            None
            if number
            else self._account.agent_by_number(text(to, "extensionNumber") or "")
        )
        if number is None and callee is None:
            raise not_found("extensionNumber")
        first = self._engine.add_party(
            session,
            direction="Outbound",
            from_=flows.user_endpoint(caller, self._account.company_number),
            to=Endpoint(number) if number else Endpoint(callee.extension_number),  # type: ignore[union-attr]
            extension_id=caller.extension_id,
        )
        data = {"session": call_session(session)}
        if callee is not None:
            flows.ring_extension(self._engine, session, first, callee)
        else:
            flows.dial_pstn(self._engine, session, first)
        self._follow_up(session)
        return json_response(201, data)

    def conference(self, request: Request, match: re.Match[str]) -> Response:
        """POST /telephony/conference: an empty Conference session; 201."""
        session = actions.conference(self._engine)
        return json_response(201, {"session": call_session(session)})

    def _supervise(
        self, session_id: str, body: dict[str, Any], agent: Agent, party: str | None
    ) -> Response:
        if body.get("mode") != "Listen":
            raise invalid("mode")
        device_id = text(body, "supervisorDeviceId", "deviceId") or ""
        auto_answer = body.get("autoAnswer", True)
        if not isinstance(auto_answer, bool):
            raise invalid("autoAnswer")
        self._engine.get(session_id)
        phone = device(self._account, device_id, online=True)
        leg = actions.supervise(
            self._engine,
            session_id,
            supervisor=phone.agent,
            device_id=device_id,
            agent_id=agent.extension_id,
            auto_answer=auto_answer,
            party_id=party,
        )
        return json_response(201, short_party(leg))

    def _agent(self, body: dict[str, Any]) -> Agent:
        ext_id = text(body, "agentExtensionId", required=False)
        if ext_id is not None:
            agent = self._account.agent_by_id(ext_id)
            name = "agentExtensionId"
        else:
            number = text(body, "agentExtensionNumber", "extensionNumber") or ""
            agent = self._account.agent_by_number(number)
            name = "agentExtensionNumber"
        if agent is None:
            raise not_found(name)
        return agent

    def _caller(self, raw: Any) -> Agent:
        if not isinstance(raw, dict):
            raise invalid("from")
        ext_id = text(raw, "extensionId", required=False)
        if ext_id is not None and "deviceId" not in raw:
            agent = self._account.agent_by_id(ext_id)
            if agent is None:
                raise not_found("extensionId")
            return agent
        return device(self._account, text(raw, "deviceId") or "", online=True).agent
