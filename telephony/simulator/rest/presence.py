"""Presence with detailed telephony state, and active calls (docs/ringcentral.md 8).

Presence is the engine's `PresenceBook` (what users set, and their live
legs through the per-extension index, the ground truth that `/_sim/state`
shows): cheap enough to poll, and the same computation as the presence
notifications, so the two always agree.
Active calls are deliberately *not* real time, like the platform's: a call
shows up 3-10 s after it is answered (ringing calls never show), and an
ended call lingers about 120 s; both are simulated seconds (divided by the
speed). `ActiveCalls` follows the event stream to know when calls were
answered and ended.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telephony.simulator.defaults import Agent
from telephony.simulator.engine import wire
from telephony.simulator.engine.account import CallQueue
from telephony.simulator.engine.model import ENDED, Party, PartyChange
from telephony.simulator.engine.presence import PresenceBook
from telephony.simulator.rest.discovery import (
    ACCOUNT,
    EXTENSION,
    Directory,
    page_params,
    paged,
)
from telephony.simulator.rest.httpserver import Request, Response, json_response
from telephony.simulator.rest.rest import Route

JsonDict = dict[str, Any]

# docs/ringcentral.md 8.1 (the active-calls lag), in simulated seconds.
ACTIVE_CALLS_LAG = (3.0, 10.0)
ACTIVE_CALLS_LINGER = 120.0


class Presence:
    """`/presence` for one extension and for the whole account."""

    def __init__(self, book: PresenceBook, directory: Directory) -> None:
        self._book = book
        self._directory = directory

    def routes(self) -> tuple[Route, ...]:
        """Routes for `RestApi.add_routes` (groups per the spec)."""
        return (
            _route(EXTENSION + r"/presence$", self.extension, "Light"),
            _route(ACCOUNT + r"/presence$", self.account, "Heavy"),
        )

    def extension(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/extension/{id|~}/presence."""
        extension = self._directory.resolve(match["extension"])
        detailed = request.query_value("detailedTelephonyState") == "true"
        return json_response(200, self._presence(extension, detailed))

    def account(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/presence: every extension's presence, paged."""
        page, per_page = page_params(request)
        detailed = request.query_value("detailedTelephonyState") == "true"
        extensions = self._directory.extensions()
        start = (page - 1) * per_page
        # Only the requested page is computed; the others are placeholders.
        records: list[JsonDict] = [{}] * len(extensions)
        for index in range(start, min(start + per_page, len(extensions))):
            records[index] = self._presence(extensions[index], detailed)
        uri = f"{self._directory.account_uri()}/presence"
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def _presence(self, extension: Agent | CallQueue, detailed: bool) -> JsonDict:
        ext_id = extension.extension_id
        state = self._book.current(ext_id)
        data: JsonDict = {
            "uri": f"{self._directory.extension_uri(ext_id)}/presence",
            "extension": {
                "id": int(ext_id),
                "uri": self._directory.extension_uri(ext_id),
                "extensionNumber": extension.extension_number,
            },
            **wire.presence_fields(state),
        }
        if detailed:
            data["activeCalls"] = [wire.active_call(c) for c in state.calls]
        return data


@dataclass
class _Call:
    """What the active-calls list knows about one session."""

    session_id: str
    legacy_id: str
    start: datetime
    first: Party
    user: Party | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    visible_at: float | None = None
    ended_at: float | None = None


class ActiveCalls:
    """`/active-calls`: answered calls, late and lingering like the platform."""

    def __init__(
        self,
        *,
        directory: Directory,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        rng: random.Random,
        speed: float,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._now = now
        self._rng = rng
        self._speed = speed
        self._calls: dict[str, _Call] = {}

    def routes(self) -> tuple[Route, ...]:
        """Routes for `RestApi.add_routes` (Heavy, per the spec)."""
        return (
            _route(ACCOUNT + r"/active-calls$", self.account, "Heavy"),
            _route(EXTENSION + r"/active-calls$", self.extension, "Heavy"),
        )

    def observe(self, change: PartyChange) -> None:
        """Follow one event (the simulator's sink calls this for each)."""
        party = change.party
        call = self._calls.get(change.session_id)
        if call is None:
            call = _Call(change.session_id, change.legacy_id, change.event_time, party)
            self._calls[change.session_id] = call
        if party.id == call.first.id:
            call.first = party  # `to` names the agent once reached
        if party.extension_id is not None and (
            call.user is None or call.user.id == party.id
        ):
            call.user = party
        call.statuses[party.id] = party.status
        now = self._clock()
        if party.status == "Answered" and call.visible_at is None:
            lag = self._rng.uniform(*ACTIVE_CALLS_LAG) / self._speed
            call.visible_at = now + lag
        if call.ended_at is None and all(s in ENDED for s in call.statuses.values()):
            call.ended_at = now
            self._purge(now)

    def account(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/active-calls."""
        return self._list(request, self._visible(), "/active-calls")

    def extension(self, request: Request, match: re.Match[str]) -> Response:
        """GET /account/~/extension/{id|~}/active-calls."""
        ext_id = self._directory.resolve(match["extension"]).extension_id
        calls = [c for c in self._visible() if c.user and c.user.extension_id == ext_id]
        return self._list(request, calls, f"/extension/{ext_id}/active-calls")

    def _visible(self) -> list[_Call]:
        now = self._clock()
        linger = ACTIVE_CALLS_LINGER / self._speed
        return [
            c
            for c in self._calls.values()
            if c.visible_at is not None
            and now >= c.visible_at
            and (c.ended_at is None or now < c.ended_at + linger)
        ]

    def _list(self, request: Request, calls: Iterable[_Call], path: str) -> Response:
        page, per_page = page_params(request)
        records = [self._record(c) for c in calls]
        uri = f"{self._directory.account_uri()}{path}"
        return json_response(200, paged(records, uri=uri, page=page, per_page=per_page))

    def _record(self, call: _Call) -> JsonDict:
        first, user = call.first, call.user or call.first
        # The caller's leg has no extension on an inbound call [inferred].
        direction = "Inbound" if first.extension_id is None else "Outbound"
        seconds = (self._now() - call.start).total_seconds()
        return {
            "id": f"{call.legacy_id}-{user.id.rsplit('-', 1)[-1]}",
            "uri": f"{self._directory.account_uri()}/call-log/{call.legacy_id}",
            "sessionId": call.legacy_id,
            "telephonySessionId": call.session_id,
            "partyId": user.id,
            "startTime": wire.iso_ms(call.start),
            "duration": max(0, int(seconds)),
            "type": "Voice",
            "direction": direction,
            "action": "Phone Call",
            "result": "In Progress",
            "from": _log_party(first.from_),
            "to": _log_party(first.to),
        }

    def _purge(self, now: float) -> None:
        linger = ACTIVE_CALLS_LINGER / self._speed
        gone = [
            key
            for key, c in self._calls.items()
            if c.ended_at is not None
            and (c.visible_at is None or now >= c.ended_at + linger)
        ]
        for key in gone:
            del self._calls[key]


def _log_party(endpoint: Any) -> JsonDict:
    data: JsonDict = {"phoneNumber": endpoint.phone_number}
    if endpoint.extension_id is not None:
        data["extensionId"] = endpoint.extension_id
    if endpoint.name is not None:
        data["name"] = endpoint.name
    return data


def _route(
    pattern: str, handler: Callable[[Request, re.Match[str]], Response], group: str
) -> Route:
    return Route(
        "GET",
        re.compile(pattern),
        lambda request, match, session: handler(request, match),
        group,
    )
