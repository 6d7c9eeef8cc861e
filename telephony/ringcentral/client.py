"""RingCentral REST: OAuth (JWT grant), the WebSocket token, Call Control.

One long-lived `httpx.AsyncClient` per worker; configuration arrives as
arguments (never from Django settings), so the same class talks to
https://platform.ringcentral.com and to the embedded simulator.

Tokens come from `TokenAuth`, an httpx auth flow (telephony.ringcentral.auth).
Errors: transport failures and 5xx become `TelephonyUnavailable`
(retryable); any other error status becomes `TelephonyRejected` carrying
RingCentral's `errorCode` (telephony.ringcentral.responses); a rejected
login becomes `AuthenticationFailed`.
References: https://developers.ringcentral.com/api-reference
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from telephony.ringcentral.auth import BACKGROUND, TokenAuth
from telephony.ringcentral.exceptions import TelephonyTimeout, TelephonyUnavailable
from telephony.ringcentral.ratelimit import RateGate, group_of
from telephony.ringcentral.responses import checked_body, retry_after

logger = logging.getLogger("telephony.ringcentral.client")

SESSIONS = "/restapi/v1.0/account/~/telephony/sessions"
# Connect fast, but give Call Control a few seconds: it waits for the PBX.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

JsonDict = dict[str, Any]


def session_path(session_id: str, *parts: str) -> str:
    """A Call Control path. Ids are opaque (some are base64-like) and are
    encoded whole, `/` included, so one can never address another; an id
    of dots alone ("..", which HTTP clients collapse) is refused."""
    for part in (session_id, *parts):
        if not part.strip("."):
            raise ValueError(f"{part!r} is not an id")
    return "/".join([SESSIONS, *(quote(p, safe="") for p in (session_id, *parts))])


class RingCentralClient:
    """The only holder of the OAuth session; every REST call goes through it."""

    def __init__(
        self,
        *,
        server_url: str,
        client_id: str,
        client_secret: str,
        jwt: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_gate: RateGate | None = None,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        # Called before every request; raises to refuse it (a worker that
        # lost its lease: telephony.worker.leader).
        self.guard = guard
        self.rate_gate = rate_gate or RateGate()
        self.auth = TokenAuth(
            client_id=client_id,
            client_secret=client_secret,
            jwt=jwt,
            rate_gate=self.rate_gate,
        )
        self._http = httpx.AsyncClient(
            base_url=self.server_url,
            timeout=timeout,
            transport=transport,
            auth=self.auth,
            headers={"Accept": "application/json", "User-Agent": "Switchboard/0.1"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def login(self) -> None:
        """Start the OAuth session now (requests also log in when needed).

        Each login is a new OAuth session and RingCentral keeps only a few
        per user and app, so this runs once per worker start, not per call.
        """
        request = self.auth.token_request(self._http.base_url, "jwt")
        response = await self._send(request, auth=None)
        self.auth.absorb("jwt", response)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: JsonDict | None = None,
        background: bool = False,
    ) -> JsonDict:
        """Authenticated REST call within RingCentral's rate limits.

        `background` requests (resync, ghost checks) wait for budget and
        leave a reserve for supervisors' commands; others fail fast with a
        429 `TelephonyRejected` instead of walking into a penalty. Raises
        `AuthenticationFailed` when the login itself is refused.
        """
        group = group_of(method, path)
        if background:
            await self.rate_gate.take_background(group)
        else:
            self.rate_gate.take(group)
        request = self._http.build_request(
            method, path, json=json, extensions={BACKGROUND: background}
        )
        response = await self._send(request)
        if response.status_code == 429:
            self.rate_gate.penalize(group, retry_after(response))
        return checked_body(response)

    async def _send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        what = f"{request.method} {request.url.path}"
        if self.guard is not None:
            self.guard()
        try:
            return await self._http.send(request, **kwargs)
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise TelephonyTimeout(f"{what}: no answer ({exc!r})") from exc
        except httpx.TransportError as exc:
            raise TelephonyUnavailable(f"{what}: {exc!r}") from exc

    # --- WebSocket --------------------------------------------------------

    async def ws_url(self) -> str:
        """Fetch a fresh single-use WebSocket token; return the URL to open."""
        body = await self.request("POST", "/restapi/oauth/wstoken")
        uri, token = body["uri"], body["ws_access_token"]
        separator = "&" if "?" in uri else "?"
        return f"{uri}{separator}access_token={quote(token, safe='')}"

    # --- Call Control -----------------------------------------------------

    async def get_session(self, session_id: str) -> JsonDict:
        """GET a telephony session with all its parties."""
        return await self.request("GET", session_path(session_id))

    async def hold(self, session_id: str, party_id: str) -> JsonDict:
        """Put a party on hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "hold")

    async def unhold(self, session_id: str, party_id: str) -> JsonDict:
        """Take a party off hold; returns the CallParty."""
        return await self._party_action(session_id, party_id, "unhold")

    async def end_call(self, session_id: str) -> None:
        """Drop the whole call for every party (DELETE session, 204)."""
        await self.request("DELETE", session_path(session_id))

    async def set_muted(self, session_id: str, party_id: str, muted: bool) -> JsonDict:
        """Mute or unmute a party from the API side.

        The body is the flat form RingCentral's docs and its call-control
        SDK send in production; the OpenAPI file wraps it in `party`
        (docs/ringcentral.md 9). API mute and phone mute are independent.
        """
        path = session_path(session_id, "parties", party_id)
        return await self.request("PATCH", path, json={"muted": muted})

    async def start_recording(self, session_id: str, party_id: str) -> JsonDict:
        """Start on-demand recording; returns `{id, active}` (201)."""
        return await self._party_action(session_id, party_id, "recordings")

    async def set_recording(
        self, session_id: str, party_id: str, recording_id: str, *, active: bool
    ) -> JsonDict:
        """Pause (`active=False`) or resume a recording."""
        path = session_path(session_id, "parties", party_id, "recordings", recording_id)
        return await self.request("PATCH", path, json={"active": active})

    async def transfer(
        self, session_id: str, party_id: str, target: JsonDict
    ) -> JsonDict:
        """Blind-transfer a party; `target` holds exactly one of
        phoneNumber, extensionNumber, extensionId, voicemail, parkOrbit."""
        return await self._party_action(session_id, party_id, "transfer", target)

    async def supervise(
        self, session_id: str, *, device_id: str, agent_extension_id: str
    ) -> JsonDict:
        """Listen in on a call from a supervisor's SIP device (201)."""
        return await self.request(
            "POST",
            session_path(session_id, "supervise"),
            json={
                "mode": "Listen",
                "supervisorDeviceId": device_id,
                "agentExtensionId": agent_extension_id,
            },
        )

    async def account_presence(
        self, *, page: int = 1, per_page: int = 1000
    ) -> JsonDict:
        """One page of every user's presence with detailed telephony state
        (Heavy group): the live calls of the account, for a resync."""
        return await self.request(
            "GET",
            f"/restapi/v1.0/account/~/presence?detailedTelephonyState=true"
            f"&page={page}&perPage={per_page}",
            background=True,
        )

    async def _party_action(
        self, session_id: str, party_id: str, action: str, json: JsonDict | None = None
    ) -> JsonDict:
        path = session_path(session_id, "parties", party_id, action)
        return await self.request("POST", path, json=json)
